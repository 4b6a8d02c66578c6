//! The `shipwatch` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    // Usage errors exit 1, not clap's 2: `shipwatch gate` reserves 2 for "timed out".
    let cli = match shipwatch::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    match shipwatch::cli::dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shipwatch: {e:#}");
            ExitCode::from(1)
        }
    }
}
