//! [`IptablesNet`]: partitions on real hosts as iptables rules.
//!
//! Every rule lives in converge's own chain [`CHAIN`] in the filter table,
//! jumped to from INPUT, so healing is one flush and removal cannot touch
//! anyone else's rules. A grudge "`to` rejects `from`" becomes, on `to`'s
//! host, `-s <from's address> -j DROP`: packets are dropped silently (no
//! resets), as in a real partition. Only node addresses are matched, so the
//! harness's own traffic (clients, SSH, docker exec) is never cut.
//!
//! Random loss (`--loss P`) is one more rule per peer in the same chain,
//! `-s <peer> -m statistic --mode random --probability P -j DROP`, kept
//! behind the grudge's rules; every change rewrites the whole chain, so a
//! heal keeps the loss and the final heal (`set_loss(0)`) or the chain's
//! removal at teardown ends it.
//!
//! This backend adds no latency (that would need tc netem, which many
//! kernels lack): a run with `--latency` uses the harness's proxy mesh
//! instead (see [`crate::deploy::remote`] and docs/deploy.md).

use super::{Grudge, LinkShaper, NetError, Partitioner};
use crate::control::{Remote, exec_ok, parallel};
use crate::node_id::NodeId;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

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
    /// The current grudge and loss probability: each change rewrites the
    /// chain from both. Held only while scripts are built, never across I/O.
    faults: Mutex<(Grudge, f64)>,
}

impl IptablesNet {
    /// Installs the (empty) chain on every host.
    pub fn install(
        hosts: BTreeMap<NodeId, (Arc<dyn Remote>, IpAddr)>,
    ) -> Result<IptablesNet, NetError> {
        let net = IptablesNet {
            hosts,
            faults: Mutex::new((Grudge::default(), 0.0)),
        };
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
            .map_or(Ok(()), |e| Err(NetError::Host(e)))
    }

    /// The script that makes `to`'s chain hold exactly the grudge's drops,
    /// then the random drops of the links it leaves open.
    fn rules_for(&self, grudge: &Grudge, loss: f64, to: &NodeId) -> String {
        let mut script = format!("iptables -w -F {CHAIN}");
        for (from, (_, ip)) in &self.hosts {
            if grudge.cuts(from, to) {
                script.push_str(&format!(" && iptables -w -A {CHAIN} -s {ip} -j DROP"));
            }
        }
        if loss > 0.0 {
            for (from, (_, ip)) in &self.hosts {
                if from != to && !grudge.cuts(from, to) {
                    script.push_str(&format!(" && {}", loss_rule(*ip, loss)));
                }
            }
        }
        script
    }

    /// Changes the faults and rewrites every host's chain.
    fn update(&self, change: impl FnOnce(&mut (Grudge, f64))) -> Result<(), NetError> {
        let (grudge, loss) = {
            let mut faults = self
                .faults
                .lock()
                .map_err(|_| NetError::Backend("iptables fault state poisoned".into()))?;
            change(&mut faults);
            faults.clone()
        };
        self.on_all(|to, r| exec_ok(r, &self.rules_for(&grudge, loss, to)).map(|_| ()))
    }
}

/// The rule dropping packets from `from` with probability `loss`.
pub fn loss_rule(from: IpAddr, loss: f64) -> String {
    format!(
        "iptables -w -A {CHAIN} -s {from} -m statistic --mode random --probability {loss} -j DROP"
    )
}

impl IptablesNet {
    /// Drops each packet between nodes with `probability` on every link
    /// the grudge leaves open (zero removes it).
    pub fn set_loss(&self, probability: f64) -> Result<(), NetError> {
        self.update(|f| f.1 = probability)
    }
}

impl Partitioner for IptablesNet {
    fn apply(&self, grudge: &Grudge) -> Result<(), NetError> {
        self.update(|f| f.0 = grudge.clone())
    }

    fn heal(&self) -> Result<(), NetError> {
        self.apply(&Grudge::default())
    }
}

impl LinkShaper for IptablesNet {
    fn clear(&self) -> Result<(), NetError> {
        self.set_loss(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{CmdOutput, ControlError};
    use std::path::Path;

    /// Records scripts instead of running them.
    struct Recorder {
        name: String,
        scripts: Mutex<Vec<String>>,
    }

    impl Remote for Recorder {
        fn host(&self) -> &str {
            &self.name
        }
        fn exec(&self, script: &str) -> Result<CmdOutput, ControlError> {
            self.scripts.lock().unwrap().push(script.to_string());
            Ok(CmdOutput {
                status: 0,
                stdout: String::new(),
                stderr: String::new(),
            })
        }
        fn upload(&self, _: &Path, _: &str) -> Result<(), ControlError> {
            Ok(())
        }
        fn download(&self, _: &str, _: &Path) -> Result<(), ControlError> {
            Ok(())
        }
    }

    #[test]
    fn a_grudge_becomes_drops_on_the_rejecting_host_only() {
        let ids = NodeId::cluster(3);
        let recorders: Vec<Arc<Recorder>> = ids
            .iter()
            .map(|id| {
                Arc::new(Recorder {
                    name: id.to_string(),
                    scripts: Mutex::new(Vec::new()),
                })
            })
            .collect();
        let hosts = ids
            .iter()
            .zip(&recorders)
            .enumerate()
            .map(|(i, (id, r))| {
                let ip = IpAddr::from([10, 0, 0, i as u8 + 1]);
                (id.clone(), (Arc::clone(r) as Arc<dyn Remote>, ip))
            })
            .collect();
        let net = IptablesNet::install(hosts).unwrap();
        // n3 isolated from n1 and n2 in both directions.
        let (a, b) = (&ids[..2], &ids[2..]);
        net.apply(&Grudge::complete(&[a, b])).unwrap();
        let last = |i: usize| {
            recorders[i]
                .scripts
                .lock()
                .unwrap()
                .last()
                .cloned()
                .unwrap()
        };
        assert_eq!(
            last(2),
            "iptables -w -F CONVERGE && iptables -w -A CONVERGE -s 10.0.0.1 -j DROP \
             && iptables -w -A CONVERGE -s 10.0.0.2 -j DROP"
        );
        assert_eq!(
            last(0),
            "iptables -w -F CONVERGE && iptables -w -A CONVERGE -s 10.0.0.3 -j DROP"
        );
        net.heal().unwrap();
        assert_eq!(last(1), "iptables -w -F CONVERGE");

        // Loss: random drops from every peer, after the grudge's drops and
        // only on links the grudge leaves open; it survives a heal.
        net.set_loss(0.05).unwrap();
        assert_eq!(
            last(0),
            "iptables -w -F CONVERGE \
             && iptables -w -A CONVERGE -s 10.0.0.2 -m statistic --mode random --probability 0.05 -j DROP \
             && iptables -w -A CONVERGE -s 10.0.0.3 -m statistic --mode random --probability 0.05 -j DROP"
        );
        net.apply(&Grudge::complete(&[a, b])).unwrap();
        assert_eq!(
            last(0),
            "iptables -w -F CONVERGE && iptables -w -A CONVERGE -s 10.0.0.3 -j DROP \
             && iptables -w -A CONVERGE -s 10.0.0.2 -m statistic --mode random --probability 0.05 -j DROP"
        );
        net.heal().unwrap();
        assert!(
            last(2).contains("-s 10.0.0.1 -m statistic --mode random --probability 0.05 -j DROP")
        );
        // The final heal clears the shaping: no rule left.
        LinkShaper::clear(&net).unwrap();
        assert_eq!(last(2), "iptables -w -F CONVERGE");
    }
}
