//! The `converge-node` binary: parse flags and config, start logging, run
//! the node until SIGTERM/SIGINT. Exit codes per docs/node-api.md.

use clap::Parser;
use converge_node::cli::Cli;
use converge_node::config::Config;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = cli.validate() {
        eprintln!("converge-node: {e}");
        return ExitCode::from(2);
    }
    let members = cli.peers.len() + 1;
    let config = match &cli.config {
        None => Config::parse("", members),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, members),
            Err(e) => {
                eprintln!("converge-node: cannot read config {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("converge-node: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("converge-node: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(converge_node::node::run(cli, config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("converge-node: {e}");
            ExitCode::from(1)
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutdown requested");
}
