//! The `converge` binary: parse the command line, hand over to the library.

use clap::Parser;

mod app;
mod cli;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONVERGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = cli::Cli::parse();
    std::process::exit(app::main(cli));
}
