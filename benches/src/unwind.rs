//! Unwind-table registration: what `LoadOptions::register_unwind_info` adds to load and unload.
//! Registration is one `__register_frame` call per artifact and deregistration one
//! `__deregister_frame`, whatever the number of functions; this measures both against loading
//! the same artifacts without registering.

use crate::report::{Row, Unit};
use crate::{median, progress, Config};
use anyhow::Result;
use kiln_loader::{Artifact, LoadOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Section title.
pub const UNWIND: &str =
    "Unwind tables (per artifact, N loaded from separate files, compiled with --unwind-info)";

/// Per-artifact median times to load `paths` and to drop them all, with or without registration.
fn load_unload(paths: &[PathBuf], register: bool, reps: usize) -> Result<(f64, f64)> {
    let options = LoadOptions {
        register_unwind_info: register,
        ..Default::default()
    };
    let (mut loads, mut unloads) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let start = Instant::now();
        let loaded = paths
            .iter()
            .map(|p| Artifact::open_with(p, &options))
            .collect::<Result<Vec<_>, _>>()?;
        loads.push(start.elapsed().as_nanos() as f64 / paths.len() as f64);
        let start = Instant::now();
        drop(loaded);
        unloads.push(start.elapsed().as_nanos() as f64 / paths.len() as f64);
    }
    Ok((median(&loads), median(&unloads)))
}

/// Measures registration for each `(name, wasm)` module.
pub fn bench_unwind(config: &Config, dir: &Path, modules: &[(&str, &[u8])]) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (name, wasm) in modules {
        progress(format!(
            "unwind registration: {name}, {} copies",
            config.copies
        ));
        let options = kiln_compiler::CompileOptions {
            unwind_info: true,
            ..Default::default()
        };
        let bytes = kiln_compiler::compile(wasm, &options)?;
        let src = dir.join(format!("unwind-{name}.kiln"));
        std::fs::write(&src, &bytes)?;
        let paths = crate::make_copies(&src, &dir.join(format!("unwind-{name}")), config.copies)?;
        // Warm the page cache and the lazy parts of the unwinder once.
        load_unload(&paths[..1], true, 1)?;
        let (plain_load, plain_unload) = load_unload(&paths, false, config.reps)?;
        let (reg_load, reg_unload) = load_unload(&paths, true, config.reps)?;
        rows.push(
            Row::new(
                UNWIND,
                format!("load {name}, unwind tables registered"),
                Unit::Nanos,
                reg_load,
            )
            .baseline("not registered", plain_load),
        );
        rows.push(
            Row::new(
                UNWIND,
                format!("unload {name}, deregistered"),
                Unit::Nanos,
                reg_unload,
            )
            .baseline("not registered", plain_unload),
        );
        std::fs::remove_dir_all(dir.join(format!("unwind-{name}")))?;
    }
    Ok(rows)
}
