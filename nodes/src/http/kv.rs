//! `/kv/{key}`: validates client input, hands it to the coordinator, and
//! shapes the answer (and metrics) per docs/node-api.md.
//!
//! Parsing is split from serving: [`parse_get`], [`parse_put`] and
//! [`parse_delete`] turn the raw key, query string and body into a checked
//! request or one [`BadRequest`] naming the problem, with no I/O, so the
//! fuzz targets (nodes/fuzz) and their corpus replay test drive exactly the
//! code the handlers run.

use super::{AppState, error};
use crate::clock::ClockSource;
use crate::coordinator::Unavailable;
use crate::metrics::{Op, OpResult};
use crate::types::{ConflictMode, Key, check_value};
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

/// Why a client request was refused (a 400 with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

/// A checked PUT or DELETE (`value: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRequest {
    pub key: Key,
    pub w: usize,
    pub value: Option<String>,
    pub context: ClientContext,
}

/// What a node's parsing depends on.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub mode: ConflictMode,
    pub rf: usize,
    pub default_r: usize,
    pub default_w: usize,
}

/// A checked GET: the key and R.
pub fn parse_get(
    raw_key: &str,
    query: Option<&str>,
    limits: Limits,
) -> Result<(Key, usize), BadRequest> {
    key_and_quorum(raw_key, query, "r", limits.default_r, limits.rf)
}

/// A checked PUT from its raw key, query string and body.
pub fn parse_put(
    raw_key: &str,
    query: Option<&str>,
    body: &[u8],
    limits: Limits,
) -> Result<WriteRequest, BadRequest> {
    let (key, w) = key_and_quorum(raw_key, query, "w", limits.default_w, limits.rf)?;
    let parsed: PutBody =
        serde_json::from_slice(body).map_err(|e| BadRequest(format!("bad JSON: {e}")))?;
    check_value(&parsed.value).map_err(|e| BadRequest(e.to_string()))?;
    let context = decode_context(parsed.context.as_deref(), limits.mode)?;
    Ok(WriteRequest {
        key,
        w,
        value: Some(parsed.value),
        context,
    })
}

/// A checked DELETE; an empty (or blank) body is the empty context.
pub fn parse_delete(
    raw_key: &str,
    query: Option<&str>,
    body: &[u8],
    limits: Limits,
) -> Result<WriteRequest, BadRequest> {
    let (key, w) = key_and_quorum(raw_key, query, "w", limits.default_w, limits.rf)?;
    let context = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let parsed: DeleteBody =
            serde_json::from_slice(body).map_err(|e| BadRequest(format!("bad JSON: {e}")))?;
        parsed.context
    };
    Ok(WriteRequest {
        key,
        w,
        value: None,
        context: decode_context(context.as_deref(), limits.mode)?,
    })
}

/// The key, then the quorum `name` (in that order: the first problem is
/// the one reported).
fn key_and_quorum(
    raw_key: &str,
    query: Option<&str>,
    name: &str,
    default: usize,
    rf: usize,
) -> Result<(Key, usize), BadRequest> {
    let key = Key::parse(raw_key).map_err(|e| BadRequest(e.to_string()))?;
    Ok((key, quorum(query, name, default, rf)?))
}

fn decode_context(context: Option<&str>, mode: ConflictMode) -> Result<ClientContext, BadRequest> {
    ClientContext::decode(context.unwrap_or(""), mode)
        .map_err(|e| BadRequest(format!("bad context: {e}")))
}

/// A rejected request: its response (boxed: it is the cold path) and the
/// metric result.
struct Rejected(Box<Response>, OpResult);

impl From<BadRequest> for Rejected {
    fn from(e: BadRequest) -> Rejected {
        bad_request(e.0)
    }
}

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
fn quorum(query: Option<&str>, name: &str, default: usize, rf: usize) -> Result<usize, BadRequest> {
    let raw = query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v);
    let Some(raw) = raw else { return Ok(default) };
    match raw.parse::<usize>() {
        Ok(n) if (1..=rf).contains(&n) => Ok(n),
        _ => Err(BadRequest(format!(
            "{name}={raw} must be an integer in 1..={rf}"
        ))),
    }
}

fn raw_key(path: Result<Path<String>, PathRejection>) -> Result<String, Rejected> {
    let Path(raw) = path.map_err(|e| bad_request(format!("bad key: {e}")))?;
    Ok(raw)
}

fn limits(app: &AppState) -> Limits {
    Limits {
        mode: app.mode,
        rf: app.rf,
        default_r: app.default_r,
        default_w: app.default_w,
    }
}

/// Coordinates a checked write. Under LWW the coordinator's clock first
/// observes the context's timestamp, so the write is stamped after the
/// version its client read; a timestamp beyond `max_clock_offset` ahead is
/// refused rather than allowed to drag the clock (see [`crate::clock`]).
async fn write(app: &AppState, request: WriteRequest) -> Result<(Response, OpResult), Rejected> {
    if let ClientContext::Lww(Some(read)) = &request.context {
        app.clock
            .observe_remote(*read, ClockSource::Client)
            .map_err(|e| bad_request(format!("bad context: timestamp {e}")))?;
    }
    let returned = app
        .coordinator
        .write(&request.key, request.value, request.context, request.w)
        .await
        .map_err(unavailable)?;
    let body = serde_json::json!({ "context": returned.encode() });
    Ok((axum::Json(body).into_response(), OpResult::Ok))
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
        let (key, r) = parse_get(&raw_key(path)?, query.as_deref(), limits(&app))?;
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
        let raw = raw_key(path)?;
        let body = body.map_err(|e| bad_request(format!("bad body: {e}")))?;
        let request = parse_put(&raw, query.as_deref(), &body, limits(&app))?;
        write(&app, request).await
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
        let raw = raw_key(path)?;
        let body = body.map_err(|e| bad_request(format!("bad body: {e}")))?;
        let request = parse_delete(&raw, query.as_deref(), &body, limits(&app))?;
        write(&app, request).await
    }
    .await;
    finish(&app, Op::Delete, started, outcome)
}

/// `/kv/` with no key.
pub async fn empty_key() -> Response {
    error(StatusCode::BAD_REQUEST, "key is empty")
}
