//! Helpers shared by the cross-crate tests: WAT in, a real artifact file and instance out.

#![allow(dead_code, reason = "each test binary uses a different part")]

use kiln_loader::{Artifact, Instance, Store};
use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `kiln` binary with `args` and waits for it.
pub fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .output()
        .expect("kiln runs")
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Compiles WAT text with default options.
pub fn compile_wat(wat: &str) -> Vec<u8> {
    let wasm = wat::parse_str(wat).expect("test WAT parses");
    kiln_compiler::compile(&wasm, &Default::default()).expect("test module compiles")
}

/// An artifact written to a temporary directory and loaded from there.
pub struct Loaded {
    /// Keeps the file's directory alive.
    pub dir: tempfile::TempDir,
    /// The artifact's path.
    pub path: PathBuf,
    /// The mapping.
    pub artifact: Artifact,
}

/// Writes `bytes` to a fresh temporary file and loads it.
pub fn load_bytes(bytes: &[u8]) -> Loaded {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("module.kiln");
    std::fs::write(&path, bytes).expect("write artifact");
    // Flush the page cache: freshly written pages count as dirty in smaps until written back.
    std::fs::File::open(&path)
        .and_then(|f| f.sync_all())
        .expect("sync artifact");
    let artifact = Artifact::open(&path).expect("artifact loads");
    Loaded {
        dir,
        path,
        artifact,
    }
}

/// Compiles, writes and loads WAT.
pub fn load_wat(wat: &str) -> Loaded {
    load_bytes(&compile_wat(wat))
}

/// Compiles WAT with `options`, writes and loads it.
pub fn load_wat_with(wat: &str, options: &kiln_compiler::CompileOptions) -> Loaded {
    let wasm = wat::parse_str(wat).expect("test WAT parses");
    load_bytes(&kiln_compiler::compile(&wasm, options).expect("test module compiles"))
}

/// Compiles and instantiates WAT with no imports.
pub fn instantiate(wat: &str) -> (Store<()>, Instance, Loaded) {
    let loaded = load_wat(wat);
    let mut store = Store::new(());
    let instance = Instance::new(&mut store, &loaded.artifact, &[]).expect("instantiates");
    (store, instance, loaded)
}
