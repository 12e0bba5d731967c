//! The one error type of the crate.
//!
//! Reports are tolerant of what they read: a missing or corrupt run file
//! becomes a visible note in the report, never an error. What remains as an
//! error is what makes writing the page itself impossible: the run directory
//! does not exist, the output cannot be written, a template fails, the server
//! cannot bind.

use std::path::PathBuf;

/// Why a report, an index or the server could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run or store directory to render does not exist or is not a directory.
    #[error(
        "{path} is not a directory; pass a run directory (store/<test>/<timestamp>) or a store directory"
    )]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// Reading a directory listing or writing an output file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done: "writing", "listing".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A built-in template failed to render (a bug in this crate, not in the run).
    #[error("rendering template {template}: {message}")]
    Template {
        /// The template's name, e.g. `report.html`.
        template: String,
        /// tera's message with its causes.
        message: String,
    },
    /// `converge serve` could not listen on the requested address.
    #[error("cannot listen on {addr}: {source}; choose another address with --listen")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why binding failed (in use, permission).
        #[source]
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("serving the store: {0}")]
    Serve(#[source] std::io::Error),
}
