//! `converge serve`: browse a store over HTTP — the index, every run's
//! report, and the raw files (histories, logs, results).
//!
//! The index is rendered fresh on every request, and a run's report is
//! rendered on demand when `report.html` was never written (e.g. a run from
//! a killed harness), so the server never writes into the store.
//!
//! Security: only paths inside the store are served. A request path is
//! percent-decoded, rejected if any segment is `..`, `.`, or holds a
//! backslash or NUL, and the final path is canonicalised and must still lie
//! under the canonical store root (so a symlink pointing out of the store is
//! refused too). HTML responses carry a Content-Security-Policy that forbids
//! scripts, so even a hostile HTML file placed in the store cannot run any.

use crate::index::{is_run_dir, render_store_index_html};
use crate::report::render_run_report_html;
use crate::run_dir::REPORT_FILE;
use crate::view::{Link, relative_href};
use crate::{ReportError, templates};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use percent_encoding::percent_decode_str;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;

/// No scripts, no remote anything; inline styles and data: images only.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Serves `store_dir` on `listen` until Ctrl-C.
pub async fn serve(store_dir: PathBuf, listen: SocketAddr) -> Result<(), ReportError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| ReportError::Bind {
            addr: listen,
            source,
        })?;
    serve_listener(listener, store_dir, async {
        // If the signal handler cannot be installed, run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
    .await
}

/// Serves `store_dir` on an already bound listener until `shutdown` resolves
/// (tests bind port 0 and pass their own shutdown).
pub async fn serve_listener(
    listener: TcpListener,
    store_dir: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ReportError> {
    let root = std::fs::canonicalize(&store_dir)
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| ReportError::NotADirectory {
            path: store_dir.clone(),
        })?;
    let app = Router::new()
        .route("/", get(handle))
        .route("/{*path}", get(handle))
        .with_state(Arc::new(root));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ReportError::Serve)
}

/// What a request path names.
#[derive(Debug, PartialEq)]
enum Target {
    Index,
    File(PathBuf),
    /// A directory, and the request path (to build links and redirects).
    Dir(PathBuf, String),
    /// A run's report that was never written: render it.
    OnDemandReport(PathBuf),
    NotFound,
}

fn resolve(root: &Path, raw_path: &str) -> Target {
    let Ok(path) = percent_decode_str(raw_path).decode_utf8() else {
        return Target::NotFound;
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.is_empty() || segments == ["index.html"] {
        return Target::Index;
    }
    if segments
        .iter()
        .any(|s| *s == ".." || *s == "." || s.contains('\\') || s.contains('\0'))
    {
        return Target::NotFound;
    }
    let joined = segments.iter().fold(root.to_path_buf(), |p, s| p.join(s));
    let Ok(real) = std::fs::canonicalize(&joined) else {
        // A report not rendered yet, in a real run directory of the store.
        if segments.last() == Some(&REPORT_FILE)
            && let Some(run) = joined.parent().and_then(|p| std::fs::canonicalize(p).ok())
            && run.starts_with(root)
            && is_run_dir(&run)
        {
            return Target::OnDemandReport(run);
        }
        return Target::NotFound;
    };
    if !real.starts_with(root) {
        return Target::NotFound;
    }
    if real.is_dir() {
        Target::Dir(real, path.into_owned())
    } else {
        Target::File(real)
    }
}

async fn handle(State(root): State<Arc<PathBuf>>, uri: Uri) -> Response {
    let root = root.as_ref().clone();
    let target = {
        let root = root.clone();
        let path = uri.path().to_string();
        match tokio::task::spawn_blocking(move || resolve(&root, &path)).await {
            Ok(t) => t,
            Err(_) => {
                return error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "resolving the path failed",
                );
            }
        }
    };
    match target {
        Target::Index => html_from(move || render_store_index_html(&root, true)).await,
        Target::OnDemandReport(run) => html_from(move || render_run_report_html(&run)).await,
        Target::Dir(dir, req_path) => {
            if !req_path.ends_with('/') {
                // Relative links in a directory page need the trailing slash.
                let location = format!("{}/", uri.path());
                return match HeaderValue::from_str(&location) {
                    Ok(v) => {
                        (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, v)]).into_response()
                    }
                    Err(_) => error_page(StatusCode::BAD_REQUEST, "bad path"),
                };
            }
            html_from(move || listing(&dir, &req_path)).await
        }
        Target::File(path) => file_response(&path).await,
        Target::NotFound => error_page(StatusCode::NOT_FOUND, "not found in this store"),
    }
}

/// Renders a page on a blocking thread (reports of big runs take seconds).
async fn html_from(
    render: impl FnOnce() -> Result<String, ReportError> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(render).await {
        Ok(Ok(html)) => html_response(StatusCode::OK, html),
        Ok(Err(e)) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(_) => error_page(StatusCode::INTERNAL_SERVER_ERROR, "rendering failed"),
    }
}

fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        html,
    )
        .into_response()
}

fn error_page(status: StatusCode, message: &str) -> Response {
    #[derive(serde::Serialize)]
    struct View<'a> {
        path: String,
        entries: Vec<Link>,
        message: &'a str,
    }
    let view = View {
        path: format!("{} — {message}", status.as_u16()),
        entries: Vec::new(),
        message,
    };
    match templates::render("listing.html", &view) {
        Ok(html) => html_response(status, html),
        Err(_) => (status, message.to_string()).into_response(),
    }
}

fn listing(dir: &Path, req_path: &str) -> Result<String, ReportError> {
    #[derive(serde::Serialize)]
    struct View {
        path: String,
        entries: Vec<Link>,
    }
    let read = std::fs::read_dir(dir).map_err(|source| ReportError::Io {
        action: "listing",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut entries: Vec<Link> = read
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let is_dir = e.path().is_dir();
            let suffix = if is_dir { "/" } else { "" };
            Link {
                href: format!("{}{suffix}", relative_href([name.as_str()])),
                label: format!("{name}{suffix}"),
            }
        })
        .collect();
    if is_run_dir(dir) && !dir.join(REPORT_FILE).exists() {
        entries.push(Link {
            href: REPORT_FILE.into(),
            label: format!("{REPORT_FILE} (rendered on demand)"),
        });
    }
    entries.sort_by(|a, b| a.label.cmp(&b.label));
    templates::render(
        "listing.html",
        &View {
            path: req_path.to_string(),
            entries,
        },
    )
}

/// The Content-Type of a store file, by extension. Run files are text; they
/// are served as text/plain so a browser shows them instead of downloading.
fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("jsonl" | "ndjson" | "log" | "txt" | "toml" | "md" | "out" | "err" | "csv") => {
            "text/plain; charset=utf-8"
        }
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("css") => "text/css; charset=utf-8",
        Some("xml") => "application/xml",
        None => "text/plain; charset=utf-8",
        Some(_) => "application/octet-stream",
    }
}

async fn file_response(path: &Path) -> Response {
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(_) => return error_page(StatusCode::NOT_FOUND, "not found in this store"),
    };
    let len = file.metadata().await.map(|m| m.len()).ok();
    let ctype = content_type(path);
    let mut resp = Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(file)));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if ctype.starts_with("text/html") || ctype.starts_with("image/svg") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    if let Some(len) = len {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_escaping_paths_are_not_found() {
        let store = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(store.path()).unwrap();
        std::fs::create_dir_all(root.join("t/1")).unwrap();
        std::fs::write(root.join("t/1/history.jsonl"), "").unwrap();
        for bad in [
            "/../etc/passwd",
            "/t/%2e%2e/%2e%2e/etc/passwd",
            "/t/..%2F..%2Fetc",
            "/t/1/..",
            "/%00",
            "/t\\1",
        ] {
            assert_eq!(resolve(&root, bad), Target::NotFound, "{bad}");
        }
        assert_eq!(resolve(&root, "/"), Target::Index);
        assert_eq!(
            resolve(&root, "/t/1/history.jsonl"),
            Target::File(root.join("t/1/history.jsonl"))
        );
        assert_eq!(
            resolve(&root, "/t/1/report.html"),
            Target::OnDemandReport(root.join("t/1"))
        );
    }

    #[test]
    fn symlinks_out_of_the_store_are_refused() {
        let store = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "x").unwrap();
        let root = std::fs::canonicalize(store.path()).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("escape")).unwrap();
        assert_eq!(resolve(&root, "/escape/secret.txt"), Target::NotFound);
    }

    #[test]
    fn run_files_have_readable_content_types() {
        assert_eq!(
            content_type(Path::new("a/history.jsonl")),
            "text/plain; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("results.json")), "application/json");
        assert_eq!(
            content_type(Path::new("report.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("n1/stderr")),
            "text/plain; charset=utf-8"
        );
    }
}
