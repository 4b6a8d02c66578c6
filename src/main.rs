//! The `shipwatch` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = shipwatch::cli::Cli::parse();
    match shipwatch::cli::dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shipwatch: {e:#}");
            ExitCode::from(1)
        }
    }
}
