//! What every board's build script shares (the emulated boards' common
//! `support/board_build.rs` and the real boards' own `build.rs`): where the
//! crate and its `OUT_DIR` are, the linker scripts, and the files
//! `boards/tools` stages beside the model, which the firmware embeds.

use std::path::{Path, PathBuf};

/// The board crate being built.
pub struct Board {
    /// Its folder (`CARGO_MANIFEST_DIR`).
    pub manifest: PathBuf,
    /// Cargo's `OUT_DIR` for it.
    pub out: PathBuf,
}

impl Board {
    /// The crate cargo is building the build script of.
    pub fn from_env() -> Self {
        let var = |v: &str| {
            let Some(path) = std::env::var_os(v) else {
                panic!("{v} is not set: run this from a cargo build script");
            };
            PathBuf::from(path)
        };
        Board {
            manifest: var("CARGO_MANIFEST_DIR"),
            out: var("OUT_DIR"),
        }
    }

    /// Puts `OUT_DIR` on the linker's search path (where the build script
    /// writes `memory.x` and the like) and links the binaries with each of
    /// `scripts` (`-T`, found on that path).
    pub fn link_scripts(&self, scripts: &[&str]) {
        println!("cargo:rustc-link-search={}", self.out.display());
        for s in scripts {
            println!("cargo:rustc-link-arg-bins=-T{s}");
        }
    }

    /// Points the firmware at `file` staged in `target/boards/<model>/`
    /// (`model` is the board's model folder) through the environment
    /// variable `var`, and rebuilds when it changes.
    pub fn staged(&self, model: &str, var: &str, file: &str) -> PathBuf {
        let path = self
            .manifest
            .join("../../target/boards")
            .join(model)
            .join(file);
        println!("cargo:rustc-env={var}={}", path.display());
        rerun_if_changed(&path);
        path
    }
}

/// Rebuilds when `path` changes.
pub fn rerun_if_changed(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}
