//! `/kv/{key}`: validates client input, hands it to the coordinator, and
//! shapes the answer (and metrics) per docs/node-api.md.

use super::{AppState, error};
use crate::coordinator::Unavailable;
use crate::metrics::{Op, OpResult};
use crate::types::{Key, check_value};
use crate::version::Record;
use crate::version::context::ClientContext;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::time::Instant;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutBody {
    value: String,
    context: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    context: Option<String>,
}

/// A rejected request: its response (boxed: it is the cold path) and the
/// metric result.
struct Rejected(Box<Response>, OpResult);

fn bad_request(message: impl Into<String>) -> Rejected {
    Rejected(
        Box::new(error(StatusCode::BAD_REQUEST, message)),
        OpResult::BadRequest,
    )
}

fn unavailable(u: Unavailable) -> Rejected {
    let body =
        serde_json::json!({ "error": "unavailable", "required": u.required, "acked": u.acked });
    Rejected(
        Box::new((StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()),
        OpResult::Unavailable,
    )
}

/// Reads `name=N` from the query string; `default` if absent.
fn quorum(
    query: &Option<String>,
    name: &str,
    default: usize,
    rf: usize,
) -> Result<usize, Rejected> {
    let raw = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v);
    let Some(raw) = raw else { return Ok(default) };
    match raw.parse::<usize>() {
        Ok(n) if (1..=rf).contains(&n) => Ok(n),
        _ => Err(bad_request(format!(
            "{name}={raw} must be an integer in 1..={rf}"
        ))),
    }
}

fn key_of(path: Result<Path<String>, PathRejection>) -> Result<Key, Rejected> {
    let Path(raw) = path.map_err(|e| bad_request(format!("bad key: {e}")))?;
    Key::parse(&raw).map_err(|e| bad_request(e.to_string()))
}

fn context_of(app: &AppState, context: Option<&str>) -> Result<ClientContext, Rejected> {
    ClientContext::decode(context.unwrap_or(""), app.mode).map_err(|e| bad_request(e.to_string()))
}

fn finish(
    app: &AppState,
    op: Op,
    started: Instant,
    outcome: Result<(Response, OpResult), Rejected>,
) -> Response {
    let (response, result) = match outcome {
        Ok(ok) => ok,
        Err(Rejected(response, result)) => (*response, result),
    };
    app.metrics.record_op(op, result, started.elapsed());
    response
}

pub async fn get(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let started = Instant::now();
    let outcome = async {
        let key = key_of(path)?;
        let r = quorum(&query, "r", app.default_r, app.rf)?;
        let record = app.coordinator.read(&key, r).await.map_err(unavailable)?;
        let values = record.as_ref().map(Record::values).unwrap_or_default();
        let context = match &record {
            Some(Record::Dvv(r)) => ClientContext::Dvv(r.context.clone()),
            Some(Record::Lww(r)) => ClientContext::Lww(Some(r.timestamp)),
            None => ClientContext::empty(app.mode),
        };
        let (status, result) = if values.is_empty() {
            (StatusCode::NOT_FOUND, OpResult::NotFound)
        } else {
            (StatusCode::OK, OpResult::Ok)
        };
        let body = serde_json::json!({ "key": key.as_str(), "values": values, "context": context.encode() });
        Ok((( status, axum::Json(body)).into_response(), result))
    }
    .await;
    finish(&app, Op::Get, started, outcome)
}

pub async fn put(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let outcome = async {
        let key = key_of(path)?;
        let w = quorum(&query, "w", app.default_w, app.rf)?;
        let body = body.map_err(|e| bad_request(format!("bad body: {e}")))?;
        let parsed: PutBody =
            serde_json::from_slice(&body).map_err(|e| bad_request(format!("bad JSON: {e}")))?;
        check_value(&parsed.value).map_err(|e| bad_request(e.to_string()))?;
        let context = context_of(&app, parsed.context.as_deref())?;
        let returned = app
            .coordinator
            .write(&key, Some(parsed.value), context, w)
            .await
            .map_err(unavailable)?;
        let body = serde_json::json!({ "context": returned.encode() });
        Ok((axum::Json(body).into_response(), OpResult::Ok))
    }
    .await;
    finish(&app, Op::Put, started, outcome)
}

pub async fn delete(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let outcome = async {
        let key = key_of(path)?;
        let w = quorum(&query, "w", app.default_w, app.rf)?;
        let body = body.map_err(|e| bad_request(format!("bad body: {e}")))?;
        let context = if body.iter().all(u8::is_ascii_whitespace) {
            context_of(&app, None)?
        } else {
            let parsed: DeleteBody =
                serde_json::from_slice(&body).map_err(|e| bad_request(format!("bad JSON: {e}")))?;
            context_of(&app, parsed.context.as_deref())?
        };
        let returned = app
            .coordinator
            .write(&key, None, context, w)
            .await
            .map_err(unavailable)?;
        let body = serde_json::json!({ "context": returned.encode() });
        Ok((axum::Json(body).into_response(), OpResult::Ok))
    }
    .await;
    finish(&app, Op::Delete, started, outcome)
}

/// `/kv/` with no key.
pub async fn empty_key() -> Response {
    error(StatusCode::BAD_REQUEST, "key is empty")
}
