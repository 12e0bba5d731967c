//! Seeded, deterministic op generators for converge.
