//! Where the bytes of an artifact go: per-section sizes of Kiln's artifact of every real program
//! (and of Wasmtime's `.cwasm` with `--features wasmtime`, compiled as in the benchmarks), as a
//! Markdown table:
//!
//! ```text
//! cargo run -p kiln-benches --example sizes [--features wasmtime] [-- DIR]
//! ```
//!
//! `DIR` holds the `.wasm` programs (default `tests/programs`). Sizes do not depend on the build
//! profile. Kiln's metadata is split into its largest tables: the address map, the trap table and
//! the strings (names); "rest" is everything the named columns leave out (headers, the symbol
//! table, padding).

use anyhow::{Context, Result};
use kiln_benches::runtime::{Interrupt, Kiln, Runtime, Threads};
use kiln_format::ArtifactView;
#[cfg(feature = "wasmtime")]
use object::{Object, ObjectSection};
use std::path::PathBuf;

#[cfg(feature = "wasmtime")]
/// The size of each ELF section of `file` that has bytes in the file, by name.
fn sections(file: &[u8]) -> Result<Vec<(String, u64)>> {
    let elf = object::File::parse(file).context("not an ELF file")?;
    Ok(elf
        .sections()
        .filter_map(|s| {
            let (_, size) = s.file_range()?;
            Some((s.name().ok()?.to_string(), size))
        })
        .collect())
}

#[cfg(feature = "wasmtime")]
fn section(all: &[(String, u64)], name: &str) -> u64 {
    all.iter().filter(|s| s.0 == name).map(|s| s.1).sum()
}

fn kib(b: u64) -> String {
    format!("{:.1}", b as f64 / 1024.0)
}

fn main() -> Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/programs"));
    let mut programs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("{}", dir.display()))?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    programs.sort();
    println!(
        "| program (KiB) | wasm | Kiln | .text | .kiln.meta | address map | trap table | strings | \
         .kiln.data | rest | Wasmtime .cwasm | .text | .wasmtime.addrmap | .wasmtime.traps | \
         other sections and rest | Kiln ÷ Wasmtime |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    let peer = peer()?;
    let mut ratios = Vec::new();
    for path in &programs {
        let wasm = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
        let kiln = Kiln.compile(&wasm, Threads::All, Interrupt::None)?;
        let view = ArtifactView::parse(&kiln).map_err(|e| anyhow::anyhow!("{e}"))?;
        let h = view.header();
        let (text, meta, data) = (h.text.size.get(), h.meta.size.get(), h.data.size.get());
        let map = view.address_map().byte_len() as u64;
        let traps = view.traps().byte_len() as u64;
        let strings = view.strings().len() as u64;
        let rest = kiln.len() as u64 - text - meta - data;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        print!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            kib(wasm.len() as u64),
            kib(kiln.len() as u64),
            kib(text),
            kib(meta),
            kib(map),
            kib(traps),
            kib(strings),
            kib(data),
            kib(rest)
        );
        match wasmtime_columns(&peer, &wasm, kiln.len())? {
            Some((columns, ratio)) => {
                println!("{columns}");
                ratios.push(ratio);
            }
            None => println!(" — | — | — | — | — | — |"),
        }
    }
    if !ratios.is_empty() {
        let geomean =
            (ratios.iter().map(|r: &f64| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
        println!(
            "\nKiln ÷ Wasmtime, geometric mean over {} programs: {geomean:.2}×",
            ratios.len()
        );
    }
    Ok(())
}

/// Wasmtime's columns for `wasm`, and Kiln's size (`kiln` bytes) ÷ Wasmtime's.
#[cfg(feature = "wasmtime")]
fn wasmtime_columns(wasmtime: &Peer, wasm: &[u8], kiln: usize) -> Result<Option<(String, f64)>> {
    let cwasm = wasmtime.compile(wasm, Threads::All, Interrupt::None)?;
    let s = sections(&cwasm)?;
    let (text, addrmap, traps) = (
        section(&s, ".text"),
        section(&s, ".wasmtime.addrmap"),
        section(&s, ".wasmtime.traps"),
    );
    let other = cwasm.len() as u64 - text - addrmap - traps;
    let ratio = kiln as f64 / cwasm.len() as f64;
    let columns = format!(
        " {} | {} | {} | {} | {} | {ratio:.2}× |",
        kib(cwasm.len() as u64),
        kib(text),
        kib(addrmap),
        kib(traps),
        kib(other)
    );
    Ok(Some((columns, ratio)))
}

/// Without Wasmtime compiled in, no columns.
#[cfg(not(feature = "wasmtime"))]
fn wasmtime_columns(_: &Peer, _: &[u8], _: usize) -> Result<Option<(String, f64)>> {
    Ok(None)
}

/// Wasmtime's engines, configured as in the benchmarks.
#[cfg(feature = "wasmtime")]
type Peer = kiln_benches::wasmtime_rt::Wasmtime;
/// Nothing to compare with.
#[cfg(not(feature = "wasmtime"))]
struct Peer;

#[cfg(feature = "wasmtime")]
fn peer() -> Result<Peer> {
    kiln_benches::wasmtime_rt::Wasmtime::new()
}

#[cfg(not(feature = "wasmtime"))]
fn peer() -> Result<Peer> {
    Ok(Peer)
}
