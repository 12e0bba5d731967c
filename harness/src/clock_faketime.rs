//! [`FaketimeClock`]: clock faults through libfaketime, for any node build
//! and inside containers, where all share the host kernel's clock.
//!
//! Each node runs with libfaketime preloaded and `FAKETIME_TIMESTAMP_FILE`
//! pointing at a per-node file that libfaketime re-reads on every time call
//! (`FAKETIME_NO_CACHE=1`; see [`crate::db::remote`] for the environment).
//! Setting an offset is rewriting that file, e.g. `+7.250s`; no restart,
//! no node API. Offsets survive a node restart, like a real skewed clock.

use crate::clock::{Clock, ClockError};
use crate::control::{Remote, exec_ok};
use crate::db::remote::{faketime_file, node_dir};
use crate::node_id::NodeId;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct FaketimeClock {
    hosts: BTreeMap<NodeId, Arc<dyn Remote>>,
}

impl FaketimeClock {
    pub fn new(hosts: BTreeMap<NodeId, Arc<dyn Remote>>) -> FaketimeClock {
        FaketimeClock { hosts }
    }
}

/// libfaketime's relative-offset syntax, in seconds with millisecond digits.
pub fn offset_text(offset_ms: i64) -> String {
    let sign = if offset_ms < 0 { '-' } else { '+' };
    let abs = offset_ms.unsigned_abs();
    format!("{sign}{}.{:03}s", abs / 1000, abs % 1000)
}

impl Clock for FaketimeClock {
    /// The offset file stays on the host, so a restarted node comes back
    /// skewed until the file is rewritten.
    fn offset_survives_restart(&self) -> bool {
        true
    }

    fn set_offset(&self, node: &NodeId, offset_ms: i64) -> Result<(), ClockError> {
        let fail = |reason: String| ClockError::Set {
            node: node.clone(),
            reason,
        };
        let r = self
            .hosts
            .get(node)
            .ok_or_else(|| fail("unknown node".into()))?;
        // Written to a temp file and renamed, so the node never reads a
        // half-written offset. Then, if the node runs, its process must
        // have libfaketime mapped: otherwise the offset would silently do
        // nothing and a "skewed" run would prove nothing.
        let file = faketime_file(node);
        let pidfile = format!("{}/node.pid", node_dir(node));
        let script = format!(
            "printf '%s' '{}' > {file}.tmp && mv {file}.tmp {file} && \
             pid=$(cat {pidfile} 2>/dev/null); \
             if [ -n \"$pid\" ] && kill -0 \"$pid\" 2>/dev/null && ! grep -q libfaketime /proc/$pid/maps; then \
             echo 'libfaketime is not loaded in the node process' >&2; exit 1; fi",
            offset_text(offset_ms)
        );
        exec_ok(r.as_ref(), &script)
            .map(|_| ())
            .map_err(|source| ClockError::Host {
                node: node.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_in_faketime_syntax() {
        assert_eq!(offset_text(0), "+0.000s");
        assert_eq!(offset_text(7250), "+7.250s");
        assert_eq!(offset_text(-1500), "-1.500s");
    }
}
