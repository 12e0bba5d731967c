//! Clock faults: the [`Clock`] seam and the node-API backend [`AdminClock`].
//!
//! The bundled node shifts its own wall clock on `PUT /admin/clock`, which
//! works for any backend that can reach the node's admin API. (A libfaketime
//! backend for arbitrary node builds would implement the same trait.)
//!
//! The request is a hand-written blocking HTTP/1.1 exchange over a std socket
//! with short timeouts, not reqwest: the teardown guard must reset clocks
//! from `Drop`, outside any async context, and a paused node must not be able
//! to hang it.

use crate::node_id::NodeId;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Why a clock could not be set.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("cannot set node {node}'s clock: {reason}")]
    Set { node: NodeId, reason: String },
    /// The admin request could not be made.
    #[error("cannot set node {node}'s clock: {source}")]
    Io {
        node: NodeId,
        #[source]
        source: std::io::Error,
    },
    /// The host refused the faketime offset file or the check after it.
    #[error("cannot set node {node}'s clock: {source}")]
    Host {
        node: NodeId,
        #[source]
        source: crate::control::ControlError,
    },
}

/// Shifts nodes' wall clocks.
pub trait Clock: Send + Sync {
    /// Sets `node`'s clock to real time plus `offset_ms` (0 resets it).
    fn set_offset(&self, node: &NodeId, offset_ms: i64) -> Result<(), ClockError>;

    /// Whether an offset outlives the node process. When it does not (the
    /// node keeps it in memory), a node that is down needs no reset: it
    /// starts at offset 0, and asking it would only fail.
    fn offset_survives_restart(&self) -> bool;
}

/// Sets clocks through each node's `PUT /admin/clock`.
pub struct AdminClock {
    addrs: BTreeMap<NodeId, SocketAddr>,
    timeout: Duration,
}

impl AdminClock {
    pub fn new(addrs: BTreeMap<NodeId, SocketAddr>, timeout: Duration) -> AdminClock {
        AdminClock { addrs, timeout }
    }
}

impl Clock for AdminClock {
    fn offset_survives_restart(&self) -> bool {
        false
    }

    fn set_offset(&self, node: &NodeId, offset_ms: i64) -> Result<(), ClockError> {
        let fail = |reason: String| ClockError::Set {
            node: node.clone(),
            reason,
        };
        let addr = self
            .addrs
            .get(node)
            .ok_or_else(|| fail("unknown node".into()))?;
        let body = format!("{{\"offset_ms\":{offset_ms}}}");
        let request = format!(
            "PUT /admin/clock HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let io = |source| ClockError::Io {
            node: node.clone(),
            source,
        };
        let mut s = TcpStream::connect_timeout(addr, self.timeout).map_err(io)?;
        s.set_read_timeout(Some(self.timeout))
            .and_then(|()| s.set_write_timeout(Some(self.timeout)))
            .map_err(io)?;
        s.write_all(request.as_bytes()).map_err(io)?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).map_err(io)?;
        // "HTTP/1.1 200"
        match &head[9..12] {
            b"200" => Ok(()),
            code => Err(fail(format!(
                "the node answered HTTP {}",
                String::from_utf8_lossy(code)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server that answers with `status` and hands back the request.
    fn one_shot(status: &'static str) -> (SocketAddr, std::thread::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            s.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                .unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (addr, t)
    }

    #[test]
    fn sends_the_offset_as_json() {
        let (addr, server) = one_shot("200 OK");
        let n1 = NodeId::nth(0);
        let clock = AdminClock::new([(n1.clone(), addr)].into(), Duration::from_secs(2));
        clock.set_offset(&n1, -1500).unwrap();
        let req = server.join().unwrap();
        assert!(req.starts_with("PUT /admin/clock HTTP/1.1"));
        assert!(req.ends_with("{\"offset_ms\":-1500}"));
    }

    #[test]
    fn a_non_200_answer_is_an_error_naming_the_node() {
        let (addr, _server) = one_shot("400 Bad Request");
        let n1 = NodeId::nth(0);
        let clock = AdminClock::new([(n1.clone(), addr)].into(), Duration::from_secs(2));
        let e = clock.set_offset(&n1, 5).unwrap_err().to_string();
        assert!(e.contains("n1") && e.contains("400"), "{e}");
    }

    #[test]
    fn a_silent_node_times_out_instead_of_hanging() {
        // Accepts (the kernel does) but never answers, like a SIGSTOPped node.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let n1 = NodeId::nth(0);
        let clock = AdminClock::new(
            [(n1.clone(), l.local_addr().unwrap())].into(),
            Duration::from_millis(200),
        );
        assert!(clock.set_offset(&n1, 0).is_err());
    }
}
