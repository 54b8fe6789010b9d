//! The `gatebench` binary: parses the command line and hands over to [`gatebench::run`].

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = gatebench::Cli::parse();
    gatebench::init_tracing(&cli);
    match gatebench::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", gatebench::error_text(&error));
            ExitCode::from(2)
        }
    }
}
