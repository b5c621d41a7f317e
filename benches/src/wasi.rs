//! Per-request setup of a WASI program: with WASI added to a linker once and the program's
//! imports resolved once (`InstancePre`), each request builds a WASI context (arguments and
//! environment), a store holding it and an instance, and then drops them all. The baseline is
//! Kiln instantiating the same artifact with no WASI context (its imports satisfied by host
//! functions that fail if called, as in the instantiation section): what WASI adds.

use crate::modules::WASI_WAT;
use crate::report::{Row, Target, Unit};
use crate::runtime::{func_imports, Interrupt, Kiln, Runtime};
use crate::{compile_all, file_name, median, program_files, progress, time_instantiations, Config};
use anyhow::Result;
use std::path::Path;

/// Section title.
pub const WASI: &str =
    "WASI per-request setup (WASI context with args + env, store, instance; then drop)";

/// The WASI programs measured: the largest real program of `programs_dir` and the one with the
/// most function imports among the others (ties: the larger), or, with no real program, the
/// minimal command [`WASI_WAT`]. Each with its name for tables.
fn wasi_programs(config: &Config) -> Result<Vec<(String, Vec<u8>)>> {
    let files = program_files(config);
    let mut out = Vec::new();
    if let Some((largest, rest)) = files.split_first() {
        out.push((file_name(largest), std::fs::read(largest)?));
        let mut most: Option<(usize, Vec<u8>, String)> = None;
        for f in rest {
            let wasm = std::fs::read(f)?;
            let Ok(imports) = func_imports(&wasm) else {
                continue;
            };
            if most.as_ref().is_none_or(|(n, _, _)| imports.len() > *n) {
                most = Some((imports.len(), wasm, file_name(f)));
            }
        }
        out.extend(most.map(|(_, wasm, name)| (name, wasm)));
    }
    if out.is_empty() {
        out.push((
            "minimal WASI command (WAT)".into(),
            wat::parse_str(WASI_WAT)?,
        ));
    }
    Ok(out)
}

/// Measures per-request setup and teardown of the largest real program and the one with the
/// most imports (or of [`WASI_WAT`] without any).
pub fn bench_wasi(config: &Config, rts: &[Box<dyn Runtime>], dir: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (p, (name, wasm)) in wasi_programs(config)?.into_iter().enumerate() {
        let imports = func_imports(&wasm).map_or(0, |i| i.len());
        let name = format!("{name} ({imports} WASI imports)");
        progress(format!("WASI setup: {name}"));
        let compiled = match compile_all(rts, dir, &format!("wasi{p}"), wasm, Interrupt::None) {
            Ok(c) => c,
            Err(e) => {
                progress(format!("skipping {name}: {e:#}"));
                continue;
            }
        };
        // Kiln without WASI first, then every runtime with WASI.
        let mut factories = vec![Kiln.instance_factory(&compiled.paths[0], &compiled.wasm)?];
        for (rt, path) in rts.iter().zip(&compiled.paths) {
            factories.push(rt.wasi_factory(path)?);
        }
        let samples = time_instantiations(config, &mut factories, || Ok(()))?;
        let (bare, with_wasi) = samples.split_first().expect("the baseline factory");
        let wt = |drop: bool| {
            with_wasi
                .get(1)
                .map(|s| median(if drop { &s.1 } else { &s.0 }))
        };
        rows.push(
            Row::new(
                WASI,
                format!("set up {name}"),
                Unit::Nanos,
                median(&with_wasi[0].0),
            )
            .baseline("Kiln, no WASI context", median(&bare.0))
            .wasmtime(wt(false))
            .target(Target::MaxVsWasmtime(1.0)),
        );
        rows.push(
            Row::new(
                WASI,
                format!("drop {name}"),
                Unit::Nanos,
                median(&with_wasi[0].1),
            )
            .baseline("Kiln, no WASI context", median(&bare.1))
            .wasmtime(wt(true)),
        );
    }
    Ok(rows)
}
