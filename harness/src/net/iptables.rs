//! [`IptablesNet`]: partitions on real hosts as iptables rules.
//!
//! Every rule lives in converge's own chain [`CHAIN`] in the filter table,
//! jumped to from INPUT, so healing is one flush and removal cannot touch
//! anyone else's rules. A grudge "`to` rejects `from`" becomes, on `to`'s
//! host, `-s <from's address> -j DROP`: packets are dropped silently (no
//! resets), as in a real partition. Only node addresses are matched, so the
//! harness's own traffic (clients, SSH, docker exec) is never cut.
//!
//! Added latency would need tc netem, which many kernels (those of these
//! test machines among them) lack; this backend refuses non-zero latency
//! instead of pretending (see docs/deploy.md).

use super::{Grudge, Net, NetError};
use crate::control::{Remote, exec_ok, parallel};
use crate::node_id::NodeId;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// converge's chain.
pub const CHAIN: &str = "CONVERGE";

/// Creates the chain (empty) and its jump from INPUT; idempotent.
pub fn install_script() -> String {
    format!(
        "iptables -w -N {CHAIN} 2>/dev/null; iptables -w -F {CHAIN} && \
         {{ iptables -w -C INPUT -j {CHAIN} 2>/dev/null || iptables -w -I INPUT -j {CHAIN}; }}"
    )
}

/// Removes the jump and the chain; succeeds when they are already gone.
pub fn remove_script() -> String {
    format!(
        "while iptables -w -D INPUT -j {CHAIN} 2>/dev/null; do :; done; \
         iptables -w -F {CHAIN} 2>/dev/null; iptables -w -X {CHAIN} 2>/dev/null; \
         ! iptables -w -S {CHAIN} >/dev/null 2>&1"
    )
}

pub struct IptablesNet {
    /// Each node's host and the address its peers' packets come from.
    hosts: BTreeMap<NodeId, (Arc<dyn Remote>, IpAddr)>,
}

impl IptablesNet {
    /// Installs the (empty) chain on every host.
    pub fn install(
        hosts: BTreeMap<NodeId, (Arc<dyn Remote>, IpAddr)>,
    ) -> Result<IptablesNet, NetError> {
        let net = IptablesNet { hosts };
        net.on_all(|_, r| exec_ok(r, &install_script()).map(|_| ()))?;
        Ok(net)
    }

    fn on_all(
        &self,
        f: impl Fn(&NodeId, &dyn Remote) -> Result<(), crate::control::ControlError> + Sync,
    ) -> Result<(), NetError> {
        let ids: Vec<&NodeId> = self.hosts.keys().collect();
        let remotes: Vec<Arc<dyn Remote>> =
            self.hosts.values().map(|(r, _)| Arc::clone(r)).collect();
        let results = parallel(&remotes, |r| {
            let id = ids
                .iter()
                .zip(&remotes)
                .find(|(_, x)| x.host() == r.host())
                .map(|(id, _)| *id);
            match id {
                Some(id) => f(id, r),
                None => Ok(()),
            }
        });
        results
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), |e| Err(NetError::Backend(e.to_string())))
    }

    /// The script that makes `to`'s chain hold exactly the grudge's drops.
    fn rules_for(&self, grudge: &Grudge, to: &NodeId) -> String {
        let mut script = format!("iptables -w -F {CHAIN}");
        for (from, (_, ip)) in &self.hosts {
            if grudge.cuts(from, to) {
                script.push_str(&format!(" && iptables -w -A {CHAIN} -s {ip} -j DROP"));
            }
        }
        script
    }
}

impl Net for IptablesNet {
    fn apply(&self, grudge: &Grudge) -> Result<(), NetError> {
        self.on_all(|to, r| exec_ok(r, &self.rules_for(grudge, to)).map(|_| ()))
    }

    fn heal(&self) -> Result<(), NetError> {
        self.apply(&Grudge::default())
    }

    fn set_latency(&self, latency: Duration) -> Result<(), NetError> {
        if latency.is_zero() {
            Ok(())
        } else {
            Err(NetError::Backend(
                "added latency is not supported on remote hosts (needs tc netem); use --deploy local".into(),
            ))
        }
    }
}
