//! The local network backend: a [`LinkProxy`] for every directed node→node
//! link, so partitions and latency need no root and no containers.
//!
//! Node `a` is told to reach peer `b` at the proxy for link a→b, which
//! forwards to b's internode listener. Client↔node traffic never passes
//! through a proxy, so faults never touch the clients.
//!
//! Remote deploys whose hosts lack tc netem use the same mesh for latency:
//! the proxies listen on an address of the harness's that the hosts reach
//! ([`ProxyMesh::start_on`]), so internode traffic detours through the
//! harness machine (see docs/deploy.md).

use super::proxy::{LinkProxy, LinkState};
use super::{Grudge, LinkShaper, NetError, Partitioner};
use crate::node_id::NodeId;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

/// All the directed links of a cluster.
pub struct ProxyMesh {
    /// (from, to) → the proxy `from` dials to reach `to`.
    links: BTreeMap<(NodeId, NodeId), LinkProxy>,
    /// The fault state to reapply when either half changes. A std Mutex: it
    /// is held only to compute link states, never across an await.
    faults: Mutex<(Grudge, Duration)>,
}

impl ProxyMesh {
    /// Starts one proxy per ordered pair of distinct nodes, forwarding to each
    /// node's internode (`--peer-listen`) address.
    pub async fn start(peer_listen: &BTreeMap<NodeId, SocketAddr>) -> std::io::Result<ProxyMesh> {
        ProxyMesh::start_on(IpAddr::from([127, 0, 0, 1]), peer_listen).await
    }

    /// Like [`ProxyMesh::start`], with the proxies listening on `bind`: for
    /// remote hosts, an address of the harness's that every host can reach.
    pub async fn start_on(
        bind: IpAddr,
        peer_listen: &BTreeMap<NodeId, SocketAddr>,
    ) -> std::io::Result<ProxyMesh> {
        let mut links = BTreeMap::new();
        for from in peer_listen.keys() {
            for (to, upstream) in peer_listen {
                if from != to {
                    let proxy = LinkProxy::start_on(bind, *upstream).await?;
                    links.insert((from.clone(), to.clone()), proxy);
                }
            }
        }
        Ok(ProxyMesh {
            links,
            faults: Mutex::new((Grudge::default(), Duration::ZERO)),
        })
    }

    /// The address `from` must dial to reach `to`.
    pub fn peer_addr(&self, from: &NodeId, to: &NodeId) -> Option<SocketAddr> {
        self.links
            .get(&(from.clone(), to.clone()))
            .map(LinkProxy::local_addr)
    }

    /// Whether the link from→to currently forwards.
    pub fn is_cut(&self, from: &NodeId, to: &NodeId) -> bool {
        self.links
            .get(&(from.clone(), to.clone()))
            .is_some_and(|l| l.state().cut)
    }

    fn update(&self, change: impl FnOnce(&mut (Grudge, Duration))) -> Result<(), NetError> {
        let mut faults = self
            .faults
            .lock()
            .map_err(|_| NetError::Backend("proxy mesh state poisoned".into()))?;
        change(&mut faults);
        let (grudge, latency) = &*faults;
        for ((from, to), proxy) in &self.links {
            proxy.set(LinkState {
                cut: grudge.cuts(from, to),
                latency: *latency,
            });
        }
        Ok(())
    }
}

impl ProxyMesh {
    /// Adds `latency` to every forwarded chunk in each direction of every
    /// link (zero removes it).
    pub fn set_latency(&self, latency: Duration) -> Result<(), NetError> {
        self.update(|f| f.1 = latency)
    }
}

impl Partitioner for ProxyMesh {
    fn apply(&self, grudge: &Grudge) -> Result<(), NetError> {
        self.update(|f| f.0 = grudge.clone())
    }

    fn heal(&self) -> Result<(), NetError> {
        self.update(|f| f.0 = Grudge::default())
    }
}

impl LinkShaper for ProxyMesh {
    fn clear(&self) -> Result<(), NetError> {
        self.set_latency(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::grudge::isolate_one;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::time::timeout;

    /// A toy echo server per "node" stands in for its internode listener.
    async fn echo() -> SocketAddr {
        let l = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let a = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        a
    }

    async fn reachable(addr: SocketAddr) -> bool {
        let attempt = async {
            let mut s = TcpStream::connect(addr).await?;
            s.write_all(b"?").await?;
            let mut b = [0u8; 1];
            s.read_exact(&mut b).await?;
            std::io::Result::Ok(())
        };
        matches!(
            timeout(Duration::from_millis(300), attempt).await,
            Ok(Ok(()))
        )
    }

    #[tokio::test]
    async fn isolating_a_node_cuts_its_links_both_ways_and_heal_restores_them() {
        let nodes = NodeId::cluster(3);
        let mut peers = BTreeMap::new();
        for n in &nodes {
            peers.insert(n.clone(), echo().await);
        }
        let mesh = ProxyMesh::start(&peers).await.unwrap();
        let addr = |a: usize, b: usize| mesh.peer_addr(&nodes[a], &nodes[b]).unwrap();
        assert!(reachable(addr(0, 1)).await);

        mesh.apply(&isolate_one(&nodes)).unwrap();
        assert!(!reachable(addr(0, 1)).await);
        assert!(!reachable(addr(2, 0)).await);
        assert!(reachable(addr(1, 2)).await);
        assert!(mesh.is_cut(&nodes[0], &nodes[2]));

        mesh.heal().unwrap();
        assert!(reachable(addr(0, 1)).await);
        assert!(reachable(addr(2, 0)).await);
    }

    #[tokio::test]
    async fn one_way_grudge_cuts_only_the_named_direction() {
        let nodes = NodeId::cluster(2);
        let mut peers = BTreeMap::new();
        for n in &nodes {
            peers.insert(n.clone(), echo().await);
        }
        let mesh = ProxyMesh::start(&peers).await.unwrap();
        mesh.apply(&crate::net::grudge::one_way(&nodes)).unwrap();
        assert!(!reachable(mesh.peer_addr(&nodes[0], &nodes[1]).unwrap()).await);
        assert!(reachable(mesh.peer_addr(&nodes[1], &nodes[0]).unwrap()).await);
    }
}
