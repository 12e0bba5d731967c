//! Admin endpoints: health, replica-local dump, clock skew, metrics.
//!
//! None of these contact peers: the dump in particular reads only local
//! storage and never repairs, so the harness can compare replicas as they
//! really are.

use super::{AppState, error};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// `200 ok`, or `503 failed` once the storage writer has died (the node is
/// then shutting down: it can no longer take a write).
pub async fn health(State(app): State<AppState>) -> Response {
    match app.store.writer_failure() {
        None => {
            let body = serde_json::json!({ "id": app.id.as_str(), "status": "ok" });
            // zoo: name the injected bug, so a run's logs show what it tested.
            // Without one the answer is the reference node's, field for field.
            #[cfg(feature = "zoo")]
            let body = {
                let mut body = body;
                if let Some(bug) = crate::zoo::current() {
                    body["zoo_bug"] = serde_json::Value::String(bug.name());
                }
                body
            };
            axum::Json(body).into_response()
        }
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                serde_json::json!({ "id": app.id.as_str(), "status": "failed", "error": why }),
            ),
        )
            .into_response(),
    }
}

/// NDJSON, one line per stored key, tombstones included.
pub async fn dump(State(app): State<AppState>) -> Response {
    let store = app.store.clone();
    let built = tokio::task::spawn_blocking(move || {
        let mut out = String::new();
        store
            .scan(|key, record| {
                let line = serde_json::json!({
                    "key": key.as_str(),
                    "values": record.values(),
                    "tombstone": record.state() == crate::version::RecordState::Tombstone,
                    "version": record.version_json(),
                });
                out.push_str(&line.to_string());
                out.push('\n');
            })
            .map(|()| out)
    })
    .await;
    match built {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub async fn get_clock(State(app): State<AppState>) -> Response {
    axum::Json(serde_json::json!({ "offset_ms": app.clock.offset_ms() })).into_response()
}

#[derive(Deserialize)]
struct ClockBody {
    offset_ms: i64,
}

pub async fn put_clock(State(app): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<ClockBody>(&body) {
        Ok(ClockBody { offset_ms }) => {
            app.clock.set_offset_ms(offset_ms);
            tracing::info!(offset_ms, "clock offset set");
            axum::Json(serde_json::json!({ "offset_ms": offset_ms })).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, format!("bad JSON: {e}")),
    }
}

pub async fn metrics(State(app): State<AppState>) -> Response {
    let backlog = app.coordinator.hints.backlog();
    let mut text = app.metrics.render(app.clock.offset_ms(), &backlog);
    app.anti_entropy.render_metrics(&mut text);
    render_clock_rejections(&app.clock, &mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Runs one anti-entropy round with every peer now and reports it.
pub async fn anti_entropy_round(State(app): State<AppState>) -> Response {
    if app.anti_entropy.mode() == crate::config::AntiEntropyMode::Off {
        return error(
            StatusCode::CONFLICT,
            "anti_entropy.mode is off on this node",
        );
    }
    let report = app
        .anti_entropy
        .round_with_all(&app.coordinator.peers)
        .await;
    axum::Json(report).into_response()
}

/// `converge_clock_offset_rejections_total{source}` (see [`crate::clock`]).
fn render_clock_rejections(clock: &crate::clock::NodeClock, out: &mut String) {
    use crate::clock::ClockSource;
    use std::fmt::Write as _;
    out.push_str(
        "# HELP converge_clock_offset_rejections_total Remote clock readings refused for being beyond max_clock_offset ahead.\n\
         # TYPE converge_clock_offset_rejections_total counter\n",
    );
    for source in ClockSource::ALL {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "converge_clock_offset_rejections_total{{source=\"{}\"}} {}",
            source.label(),
            clock.rejections(source)
        );
    }
}
