//! What interruptible code costs: the compute kernels of [`KERNELS_WAT`] compiled three ways,
//! plain, with fuel metering and with epoch checks, by every runtime, all run in one rotating
//! order within each repetition. Each kernel's time, and the overheads fuel ÷ plain and epochs ÷
//! plain of each runtime (the median of each repetition's ratio), which are compared between
//! Kiln and Wasmtime, and the fuel each runtime counts per run (both count one unit per
//! operator, so the counts should be close; a runtime that counted none fails the benchmark).

use crate::modules::{Kernel, NativeMemory, KERNELS_WAT};
use crate::report::{Row, Target, Unit};
use crate::runtime::{Interrupt, KernelRunner, Runtime};
use crate::{compile_all, median, ns, progress, rotation, run_kernel, Config};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::Instant;

/// Section title of the times.
pub const INTERRUPT: &str = "Interruption: kernels plain, with fuel, with epoch checks (per run)";

/// Section title of the overheads.
pub const INTERRUPT_OVERHEAD: &str =
    "Interruption overhead (time ÷ plain time, median of each repetition's ratio)";

/// The index of [`Interrupt::Fuel`] in [`Interrupt::ALL`] (which is in declaration order).
const FUEL_WAY: usize = Interrupt::Fuel as usize;

/// The fuel each runner (all compiled with fuel) has consumed so far.
fn fuel_consumed(runners: &[Box<dyn KernelRunner>]) -> Result<Vec<u64>> {
    runners
        .iter()
        .map(|r| r.fuel_consumed()?.context("a fuel runner without fuel"))
        .collect()
}

/// Measures every kernel of [`Kernel::all`] compiled in each [`Interrupt`] way.
pub fn bench_interrupt(config: &Config, rts: &[Box<dyn Runtime>], dir: &Path) -> Result<Vec<Row>> {
    progress("interruption: compiling the kernels plain, with fuel, with epochs");
    let wasm = wat::parse_str(KERNELS_WAT)?;
    // [way][runtime] runners.
    let mut runners = Vec::new();
    for way in Interrupt::ALL {
        let name = format!("kernels-{}", way.label());
        let compiled = compile_all(rts, dir, &name, wasm.clone(), way)?;
        let mut per_rt = Vec::new();
        for (rt, path) in rts.iter().zip(&compiled.paths) {
            per_rt.push(rt.kernel_runner(path, way)?);
        }
        runners.push(per_rt);
    }
    let ways = Interrupt::ALL.len();
    let n = rts.len();
    let mut times = Vec::new();
    let mut overheads = Vec::new();
    for kernel in Kernel::all(config.kernel_scale) {
        progress(format!("interruption: kernel {}", kernel.describe()));
        let mut native = Vec::new();
        // [way][runtime] times, one per repetition.
        let mut samples = vec![vec![Vec::new(); n]; ways];
        let mut scratch = NativeMemory::default();
        kernel.native(&mut scratch);
        let fuel_before = fuel_consumed(&runners[FUEL_WAY])?;
        for rep in 0..config.kernel_reps {
            let start = Instant::now();
            let expected = kernel.native(&mut scratch);
            native.push(ns(start.elapsed()));
            for j in rotation(ways * n, rep) {
                let (w, i) = (j / n, j % n);
                let t = run_kernel(&mut *runners[w][i], rts[i].name(), &kernel, expected)?;
                samples[w][i].push(t);
            }
        }
        // Fuel consumed per run by each runtime: the metering must have run.
        let fuel: Vec<f64> = fuel_consumed(&runners[FUEL_WAY])?
            .into_iter()
            .zip(fuel_before)
            .zip(rts)
            .map(|((after, before), rt)| {
                if after <= before {
                    bail!(
                        "{} consumed no fuel running {}",
                        rt.name(),
                        kernel.describe()
                    );
                }
                Ok((after - before) as f64 / config.kernel_reps as f64)
            })
            .collect::<Result<_>>()?;
        let what = format!("{}: {}", kernel.label, kernel.describe());
        for (w, way) in Interrupt::ALL.into_iter().enumerate() {
            let mut row = Row::new(
                INTERRUPT,
                format!("{what}, {}", way.label()),
                Unit::Nanos,
                median(&samples[w][0]),
            )
            .wasmtime(samples[w].get(1).map(|s| median(s)));
            if way == Interrupt::None {
                row = row.baseline("native Rust", median(&native));
            } else {
                // Per runtime, the median over repetitions of this way's time ÷ plain time.
                let overhead = |i: usize| {
                    let ratios: Vec<f64> = samples[w][i]
                        .iter()
                        .zip(&samples[0][i])
                        .map(|(t, plain)| t / plain)
                        .collect();
                    median(&ratios)
                };
                overheads.push(
                    Row::new(
                        INTERRUPT_OVERHEAD,
                        format!("{}: {} ÷ plain", kernel.describe(), way.label()),
                        Unit::Ratio,
                        overhead(0),
                    )
                    .wasmtime((n > 1).then(|| overhead(1)))
                    .target(Target::MaxVsWasmtime(1.0)),
                );
                if way == Interrupt::Fuel {
                    overheads.push(
                        Row::new(
                            INTERRUPT_OVERHEAD,
                            format!("{}: fuel consumed per run", kernel.describe()),
                            Unit::Count,
                            fuel[0],
                        )
                        .wasmtime(fuel.get(1).copied()),
                    );
                }
            }
            times.push(row);
        }
    }
    times.extend(overheads);
    Ok(times)
}
