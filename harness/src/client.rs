//! Talking to one node over the node API (docs/node-api.md): client ops, and
//! the admin reads the harness needs (`/health`, `/admin/dump`, `/metrics`).
//!
//! Every op ends in one of three [`Outcome`]s, the history's completion
//! types: `Ok`; `Fail` only when the op surely had no effect (the connection
//! was refused before anything was sent, or the node rejected the request as
//! malformed); `Info` when it may have had an effect (timeouts, 503s, a
//! connection lost mid-request). Every request has a timeout, so a dead or
//! paused node costs an op, never the run.

use crate::node_id::NodeId;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// How an op ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    Ok(T),
    /// Surely not applied; the text says why.
    Fail(String),
    /// Indeterminate; the text says why.
    Info(String),
}

/// What a read returned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadReply {
    /// Siblings; empty when absent or deleted.
    pub values: Vec<String>,
    /// The opaque causal context to send back with a superseding write.
    pub context: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct KvBody {
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    context: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// A client bound to one node, as each Jepsen client process is.
#[derive(Clone)]
pub struct NodeClient {
    http: reqwest::Client,
    node: NodeId,
    base: String,
}

/// Percent-encodes a key for the URL path (RFC 3986 unreserved bytes pass).
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The prefix of a `fail` error meaning the connection was never made.
pub const REFUSED: &str = "connect:";

fn classify_error<T>(e: &reqwest::Error) -> Outcome<T> {
    if e.is_timeout() {
        Outcome::Info("timeout".into())
    } else if e.is_connect() {
        // Nothing was sent: the op cannot have taken effect.
        Outcome::Fail(format!("{REFUSED} {}", root_cause(e)))
    } else {
        Outcome::Info(format!("request: {}", root_cause(e)))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Why an admin request (or the client itself) failed. Data ops never fail
/// this way: they are classified into an [`Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
    /// No answer: the text is the innermost cause (refused, timed out, ...).
    #[error("{node} {path}: {cause}")]
    Request {
        node: NodeId,
        path: &'static str,
        cause: String,
    },
    #[error("{node} {path}: HTTP {status}")]
    Status {
        node: NodeId,
        path: &'static str,
        status: reqwest::StatusCode,
    },
    #[error("bad dump line from {node}: {source}")]
    DumpLine {
        node: NodeId,
        #[source]
        source: serde_json::Error,
    },
}

impl NodeClient {
    /// `timeout` bounds each whole request, connect included.
    pub fn new(
        node: NodeId,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<NodeClient, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(4)
            .tcp_nodelay(true)
            .build()
            .map_err(ClientError::Build)?;
        Ok(NodeClient {
            http,
            node,
            base: format!("http://{addr}"),
        })
    }

    pub fn node(&self) -> &NodeId {
        &self.node
    }

    fn kv_url(&self, key: &str) -> String {
        format!("{}/kv/{}", self.base, encode_key(key))
    }

    /// `GET /kv/{key}`.
    pub async fn read(&self, key: &str) -> Outcome<ReadReply> {
        let resp = match self.http.get(self.kv_url(key)).send().await {
            Ok(r) => r,
            Err(e) => return classify_error(&e),
        };
        let status = resp.status().as_u16();
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return classify_error(&e),
        };
        let parsed: Option<KvBody> = serde_json::from_slice(&body).ok();
        match (status, parsed) {
            (200 | 404, Some(b)) if b.error.is_none() => Outcome::Ok(ReadReply {
                values: b.values,
                context: b.context,
            }),
            (s, b) => Self::failure(s, b.and_then(|b| b.error), &body),
        }
    }

    /// `PUT /kv/{key}` with the value and, for causal ops, the read's context.
    pub async fn write(
        &self,
        key: &str,
        value: &str,
        context: Option<&serde_json::Value>,
    ) -> Outcome<()> {
        let mut body = serde_json::json!({ "value": value });
        if let Some(c) = context {
            body["context"] = c.clone();
        }
        self.mutate(self.http.put(self.kv_url(key)).json(&body))
            .await
    }

    /// `DELETE /kv/{key}`, with the read's context for causal ops.
    pub async fn delete(&self, key: &str, context: Option<&serde_json::Value>) -> Outcome<()> {
        let mut req = self.http.delete(self.kv_url(key));
        if let Some(c) = context {
            req = req.json(&serde_json::json!({ "context": c }));
        }
        self.mutate(req).await
    }

    async fn mutate(&self, req: reqwest::RequestBuilder) -> Outcome<()> {
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return classify_error(&e),
        };
        let status = resp.status().as_u16();
        let body = match resp.bytes().await {
            // The node answered 200 but the body was lost: it did apply.
            Err(_) if status == 200 => return Outcome::Ok(()),
            Err(e) => return classify_error(&e),
            Ok(b) => b,
        };
        if status == 200 {
            return Outcome::Ok(());
        }
        let error = serde_json::from_slice::<KvBody>(&body)
            .ok()
            .and_then(|b| b.error);
        Self::failure(status, error, &body)
    }

    /// A non-success answer: 4xx means rejected before applying (fail), 503
    /// and other 5xx may have been partly applied (info).
    fn failure<T>(status: u16, error: Option<serde_json::Value>, body: &[u8]) -> Outcome<T> {
        let why = match error {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        };
        match status {
            400..=499 => Outcome::Fail(format!("HTTP {status}: {why}")),
            _ => Outcome::Info(format!("HTTP {status}: {why}")),
        }
    }

    /// `GET /health` answered 200.
    pub async fn healthy(&self) -> bool {
        match self.http.get(format!("{}/health", self.base)).send().await {
            Ok(r) => r.status().is_success(),
            Err(_) => false,
        }
    }

    /// `GET /admin/dump`: the node's replica-local entries, one JSON object
    /// per line.
    pub async fn dump(&self) -> Result<Vec<serde_json::Value>, ClientError> {
        let text = self.get_text("/admin/dump").await?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|source| ClientError::DumpLine {
                    node: self.node.clone(),
                    source,
                })
            })
            .collect()
    }

    /// `GET /metrics` (Prometheus text).
    pub async fn metrics(&self) -> Result<String, ClientError> {
        self.get_text("/metrics").await
    }

    async fn get_text(&self, path: &'static str) -> Result<String, ClientError> {
        let request = |e: reqwest::Error| ClientError::Request {
            node: self.node.clone(),
            path,
            cause: root_cause(&e),
        };
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(request)?;
        if !resp.status().is_success() {
            return Err(ClientError::Status {
                node: self.node.clone(),
                path,
                status: resp.status(),
            });
        }
        resp.text().await.map_err(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_percent_encoded() {
        assert_eq!(encode_key("k12"), "k12");
        assert_eq!(encode_key("a b/ü"), "a%20b%2F%C3%BC");
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_fail_and_a_silent_node_is_info() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let c = NodeClient::new(NodeId::nth(0), closed, Duration::from_millis(300)).unwrap();
        assert!(matches!(c.write("k", "v", None).await, Outcome::Fail(_)));

        // Accepted by the kernel's backlog but never answered: a paused node.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = NodeClient::new(
            NodeId::nth(0),
            silent.local_addr().unwrap(),
            Duration::from_millis(300),
        )
        .unwrap();
        assert!(matches!(c.write("k", "v", None).await, Outcome::Info(_)));
        assert!(matches!(c.read("k").await, Outcome::Info(_)));
    }
}
