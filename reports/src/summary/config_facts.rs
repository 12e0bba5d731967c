//! What the summary needs to know about the tested configuration, read
//! from the effective config in results.json (`run.config`): conflict mode,
//! quorums, gc_grace, and which repair mechanisms are switched off. The
//! config is free-form JSON here, so values are found by key anywhere in it,
//! the node table first.

use serde_json::Value;

/// What the summary needs to know about the tested configuration.
#[derive(Debug, Default, Clone)]
pub struct ConfigFacts {
    pub conflict: Option<String>,
    pub rf: Option<u64>,
    pub r: Option<u64>,
    pub w: Option<u64>,
    pub gc_grace: Option<String>,
    /// Repair mechanisms configured off: "anti-entropy", "read repair", "hints".
    pub repairs_off: Vec<&'static str>,
}

impl ConfigFacts {
    /// Reads the facts from the effective config (results.json `run.config`).
    pub fn from_config(config: &Value) -> ConfigFacts {
        let node = config.get("node").unwrap_or(config);
        let num = |name: &str| {
            find_key(node, name)
                .or_else(|| find_key(config, name))
                .and_then(Value::as_u64)
        };
        let mut repairs_off = Vec::new();
        for (table, label) in [
            ("anti_entropy", "anti-entropy"),
            ("read_repair", "read repair"),
            ("hints", "hints"),
        ] {
            if find_key(node, table).is_some_and(is_switched_off) {
                repairs_off.push(label);
            }
        }
        ConfigFacts {
            conflict: find_key(config, "conflict")
                .and_then(Value::as_str)
                .map(str::to_string),
            rf: num("rf"),
            r: num("r"),
            w: num("w"),
            gc_grace: find_key(config, "gc_grace")
                .and_then(Value::as_str)
                .map(str::to_string),
            repairs_off,
        }
    }
}

/// Whether a repair table says it is off: `enabled = false`, or a `mode`
/// of "off", "none" or "disabled" (the repair config's spelling may vary).
fn is_switched_off(table: &Value) -> bool {
    table.get("enabled").and_then(Value::as_bool) == Some(false)
        || table
            .get("mode")
            .and_then(Value::as_str)
            .is_some_and(|m| matches!(m, "off" | "none" | "disabled"))
}

/// The first value under `name` anywhere in `v` (depth-first, object order).
pub fn find_key<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map
            .get(name)
            .or_else(|| map.values().find_map(|c| find_key(c, name))),
        _ => None,
    }
}
