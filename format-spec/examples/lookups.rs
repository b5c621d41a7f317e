//! The cost of code-map lookups in place, against a binary search of the same entries as plain
//! sorted arrays (what format 4 stored), for one artifact:
//!
//! ```text
//! cargo run --release -p kiln-format --example lookups -- FILE.kiln
//! ```
//!
//! It looks up every trap site (`trap_at`) and 1,000,000 text offsets spread over the code
//! (`wasm_offset_at`), and prints nanoseconds per lookup (see `median_ns`).

use kiln_format::ArtifactView;
use std::hint::black_box;
use std::time::Instant;

/// Nanoseconds per lookup of `f` over `keys`: the median over batches of 1024 keys, each batch
/// short enough (well under a scheduler time slice) that most run uninterrupted on a shared
/// machine, in 5 passes.
fn median_ns(keys: &[u32], f: impl Fn(u32) -> u64) -> f64 {
    let mut batches: Vec<f64> = Vec::new();
    for _ in 0..5 {
        for chunk in keys.chunks(1024) {
            let t = Instant::now();
            black_box(chunk.iter().map(|&k| f(black_box(k))).sum::<u64>());
            batches.push(t.elapsed().as_nanos() as f64 / chunk.len() as f64);
        }
    }
    batches.sort_by(f64::total_cmp);
    batches[batches.len() / 2]
}

fn main() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: lookups FILE.kiln")?;
    let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let view = ArtifactView::parse(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let traps: Vec<(u32, u32)> = view
        .traps()
        .iter()
        .map(|e| (e.code_offset, e.value))
        .collect();
    let map: Vec<(u32, u32)> = view
        .address_map()
        .iter()
        .map(|e| (e.code_offset, e.value))
        .collect();
    let text = view.header().text.size.get() as u32;
    let offsets: Vec<u32> = (0..1_000_000u64)
        .map(|i| ((i * 2_654_435_761) % u64::from(text.max(1))) as u32)
        .collect();
    let sites: Vec<u32> = traps.iter().map(|t| t.0).collect();
    let in_place_traps = median_ns(&sites, |o| u64::from(view.trap_at(o).unwrap_or(0)));
    let plain_traps = median_ns(&sites, |o| {
        let i = traps.binary_search_by_key(&o, |e| e.0).unwrap_or(0);
        u64::from(traps[i].1)
    });
    let in_place_map = median_ns(&offsets, |o| u64::from(view.wasm_offset_at(o).unwrap_or(0)));
    let plain_map = median_ns(&offsets, |o| {
        let i = map.partition_point(|e| e.0 <= o);
        i.checked_sub(1).map_or(0, |i| u64::from(map[i].1))
    });
    println!(
        "{path}: {} trap sites, {} address-map entries",
        traps.len(),
        map.len()
    );
    println!("trap_at:        {in_place_traps:.1} ns in place, {plain_traps:.1} ns plain array");
    println!("wasm_offset_at: {in_place_map:.1} ns in place, {plain_map:.1} ns plain array");
    Ok(())
}
