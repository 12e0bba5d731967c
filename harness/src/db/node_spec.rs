//! [`NodeSpec`]: one node's command line, built once for every backend.
//!
//! docs/node-api.md is the only contract between the harness and a node, and
//! its command line is part of it: a local process and a node started by a
//! shell on a remote host must get the same flags in the same order, so a
//! flag added to the contract is added here and nowhere else.

use crate::node_id::NodeId;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where one node listens, whom it dials and where its files are.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub id: NodeId,
    /// Client and admin HTTP.
    pub listen: SocketAddr,
    /// Internode listener.
    pub peer_listen: SocketAddr,
    /// Peer id → the address this node dials for it (a proxy, or the peer).
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// The data directory, as the node sees it.
    pub data_dir: PathBuf,
    /// The node config file, as the node sees it.
    pub config_file: PathBuf,
    /// `--zoo-bug NAME`: the known-bad variant to run (zoo builds only).
    pub zoo_bug: Option<String>,
}

impl NodeSpec {
    /// The arguments after the binary (docs/node-api.md, "Command line").
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--id".into(),
            self.id.as_str().into(),
            "--listen".into(),
            self.listen.to_string().into(),
            "--peer-listen".into(),
            self.peer_listen.to_string().into(),
        ];
        for (peer, addr) in &self.peers {
            args.push("--peer".into());
            args.push(format!("{peer}={addr}").into());
        }
        args.extend([
            "--data-dir".into(),
            self.data_dir.clone().into_os_string(),
            "--config".into(),
            self.config_file.clone().into_os_string(),
        ]);
        if let Some(bug) = &self.zoo_bug {
            args.push("--zoo-bug".into());
            args.push(bug.into());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_follows_the_node_api() {
        let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        let spec = NodeSpec {
            id: NodeId::nth(0),
            listen: addr(7000),
            peer_listen: addr(7001),
            peers: [(NodeId::nth(1), addr(9001)), (NodeId::nth(2), addr(9002))]
                .into_iter()
                .collect(),
            data_dir: "/d".into(),
            config_file: "/c.toml".into(),
            zoo_bug: None,
        };
        let args: Vec<String> = spec
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "--id n1 --listen 127.0.0.1:7000 --peer-listen 127.0.0.1:7001 \
             --peer n2=127.0.0.1:9001 --peer n3=127.0.0.1:9002 --data-dir /d --config /c.toml"
        );
        let zoo = NodeSpec {
            zoo_bug: Some("early-ack".into()),
            ..spec
        };
        let last: Vec<_> = zoo.args().into_iter().rev().take(2).collect();
        assert_eq!(
            last,
            vec![OsString::from("early-ack"), OsString::from("--zoo-bug")]
        );
    }
}
