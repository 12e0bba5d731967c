//! HTML and SVG rendering of converge runs (filled by the reports issue).
