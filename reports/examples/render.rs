//! Renders the report of one run directory and its store's index, until the
//! harness's `converge report RUN_DIR` is wired to this crate:
//!
//!     cargo run -p converge-reports --example render -- store/<test>/<timestamp>

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(run_dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: render RUN_DIR (a store/<test>/<timestamp> directory)");
        return ExitCode::from(2);
    };
    match reports::render_run_report(&run_dir) {
        Ok(path) => println!("report: {}", path.display()),
        Err(e) => {
            eprintln!("render: {e}");
            return ExitCode::from(2);
        }
    }
    // The store is two levels up: store/<test>/<timestamp>.
    if let Some(store) = run_dir.parent().and_then(|p| p.parent()) {
        match reports::render_store_index(store) {
            Ok(path) => println!("index: {}", path.display()),
            Err(e) => eprintln!("render: index not written: {e}"),
        }
    }
    ExitCode::SUCCESS
}
