//! Writing a report's three files — `NAME.json` (the data), `NAME.html` and
//! `NAME.md` — into one directory, for every report made of many runs
//! (sweeps, zoos), so they are named and written the same way.

use crate::ReportError;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The files a many-run report wrote.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// `NAME.html`.
    pub html: PathBuf,
    /// `NAME.json`.
    pub json: PathBuf,
    /// `NAME.md`.
    pub markdown: PathBuf,
}

/// Creates `dir` if missing and writes `NAME.json` from `data` (pretty,
/// with a final newline), then `NAME.html` and `NAME.md` as rendered.
pub(crate) fn write_report_files<T: Serialize>(
    dir: &Path,
    name: &str,
    data: &T,
    html: impl FnOnce() -> Result<String, ReportError>,
    markdown: impl FnOnce() -> String,
) -> Result<ReportFiles, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        action: "creating",
        path: dir.to_path_buf(),
        source,
    })?;
    let files = ReportFiles {
        html: dir.join(format!("{name}.html")),
        json: dir.join(format!("{name}.json")),
        markdown: dir.join(format!("{name}.md")),
    };
    let json = serde_json::to_string_pretty(data).map_err(|e| ReportError::Template {
        template: format!("{name}.json"),
        message: e.to_string(),
    })?;
    write(&files.json, &(json + "\n"))?;
    write(&files.html, &html()?)?;
    write(&files.markdown, &markdown())?;
    Ok(files)
}

fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|source| ReportError::Io {
        action: "writing",
        path: path.to_path_buf(),
        source,
    })
}
