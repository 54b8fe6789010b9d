//! Helpers the binary's integration tests share.
#![allow(dead_code)] // each test binary uses its own share of them

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the binary with `args` in `dir`, to its end.
pub fn gatebench(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatebench"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary starts")
}

/// A command's stdout and stderr, together.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An empty folder of this test binary's, named `name`.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gatebench-{}-{name}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
