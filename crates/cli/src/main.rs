//! The `gatebench` binary: parses the command line and hands over to [`gatebench::run`].

use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc, not the system allocator: the servers and the driver allocate on every
/// request (hyper's buffers, serde, header maps), and mimalloc's thread-local pages
/// do that in fewer instructions than glibc's arenas
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
