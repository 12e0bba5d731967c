//! The client and admin HTTP API on `--listen` (docs/node-api.md).
//!
//! [`kv`] serves `/kv/{key}`, [`admin`] serves `/health`, `/admin/*` and
//! `/metrics`. Every error, including unknown paths and wrong methods, is a
//! JSON `{"error": ...}` body, never a dropped connection.

pub mod admin;
pub mod kv;

use crate::clock::NodeClock;
use crate::coordinator::Coordinator;
use crate::metrics::Metrics;
use crate::storage::Store;
use crate::types::{ConflictMode, NodeId};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use std::sync::Arc;

/// Largest request body read: a 1 MiB value can grow several-fold when
/// JSON-escaped; bigger bodies are refused before parsing.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub id: NodeId,
    pub coordinator: Arc<Coordinator>,
    pub anti_entropy: Arc<crate::anti_entropy::AntiEntropy>,
    pub store: Store,
    pub clock: Arc<NodeClock>,
    pub metrics: Arc<Metrics>,
    pub mode: ConflictMode,
    pub rf: usize,
    pub default_r: usize,
    pub default_w: usize,
}

/// The full router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/kv/{key}", get(kv::get).put(kv::put).delete(kv::delete))
        .route("/kv/", any(kv::empty_key))
        .route("/kv", any(kv::empty_key))
        .route("/health", get(admin::health))
        .route("/admin/dump", get(admin::dump))
        .route("/admin/clock", get(admin::get_clock).put(admin::put_clock))
        .route(
            "/admin/anti-entropy",
            axum::routing::post(admin::anti_entropy_round),
        )
        .route("/metrics", get(admin::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// A JSON error response.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": message.into() })),
    )
        .into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}
