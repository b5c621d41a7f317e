//! What interruptible code costs: the compute kernels of [`KERNELS_WAT`] compiled three ways,
//! plain, with fuel metering and with epoch checks, by every runtime, all run in one rotating
//! order within each repetition. Each kernel's time, and the overheads fuel ÷ plain and epochs ÷
//! plain of each runtime (the median of each repetition's ratio), which are compared between
//! Kiln and Wasmtime, and the fuel each runtime counts per run (both count one unit per
//! operator, so the counts should be close; a runtime that counted none fails the benchmark).

use crate::modules::{Kernel, NativeMemory, KERNELS_WAT};
use crate::report::{Row, Target, Unit};
use crate::runtime::{Interrupt, KernelRunner, Program, ProgramRunner, Runtime};
use crate::{compile_all, median, ns, progress, rotation, run_kernel, Config};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::Instant;

/// Section title of the times.
pub const INTERRUPT: &str = "Interruption: kernels plain, with fuel, with epoch checks (per run)";

/// Section title of the overheads.
pub const INTERRUPT_OVERHEAD: &str =
    "Interruption overhead (time ÷ plain time, median of each repetition's ratio)";

/// Section title of the real programs' times.
pub const INTERRUPT_PROGRAMS: &str =
    "Interruption: real programs plain, with fuel, with epoch checks (per run of _start)";

/// Section title of the real programs' overheads.
pub const INTERRUPT_PROGRAMS_OVERHEAD: &str =
    "Interruption overhead, real programs (time ÷ plain time, median of each repetition's ratio)";

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
                overheads.extend(overhead_rows(
                    INTERRUPT_OVERHEAD,
                    &kernel.describe(),
                    way,
                    &samples,
                    &fuel,
                ));
            }
            times.push(row);
        }
    }
    times.extend(overheads);
    Ok(times)
}

/// The overhead rows of `way` (not [`Interrupt::None`]) for `what`, from `[way][runtime]` time
/// samples: per runtime the median over repetitions of this way's time ÷ plain time, compared
/// between the runtimes, and for fuel the fuel each runtime consumed per run.
fn overhead_rows(
    section: &'static str,
    what: &str,
    way: Interrupt,
    samples: &[Vec<Vec<f64>>],
    fuel: &[f64],
) -> Vec<Row> {
    let w = way as usize;
    let overhead = |i: usize| {
        let ratios: Vec<f64> = samples[w][i]
            .iter()
            .zip(&samples[0][i])
            .map(|(t, plain)| t / plain)
            .collect();
        median(&ratios)
    };
    let n = samples[w].len();
    let row = Row::new(
        section,
        format!("{what}: {} ÷ plain", way.label()),
        Unit::Ratio,
        overhead(0),
    )
    .wasmtime((n > 1).then(|| overhead(1)));
    // Interruption has the target; explicit bounds checks are a measured choice.
    let mut rows = vec![if way == Interrupt::ExplicitBounds {
        row
    } else {
        row.target(Target::MaxVsWasmtime(1.0))
    }];
    if way == Interrupt::Fuel {
        rows.push(
            Row::new(
                section,
                format!("{what}: fuel consumed per run"),
                Unit::Count,
                fuel[0],
            )
            .wasmtime(fuel.get(1).copied()),
        );
    }
    rows
}

/// The programs of `tests/programs` that [`bench_interrupt_programs`] runs, with their inputs:
/// zlib (compression loops), the C++ word counter (libc++ containers, many calls) and the
/// tail-calling interpreter (a call per operation).
fn programs(dir: &Path) -> Vec<(std::path::PathBuf, Program)> {
    let mut text = String::new();
    let words = [
        "kiln", "wasm", "artifact", "mmap", "loader", "the", "a", "of", "trap", "page",
    ];
    let mut seed = 12345u64;
    for i in 0..100_000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        text += words[(seed >> 33) as usize % words.len()];
        text += if i % 13 == 0 { ", " } else { " " };
    }
    let program = |label: &'static str, args: &[&str], stdin: Vec<u8>| {
        let program = Program {
            label,
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin,
        };
        (dir.join(format!("{label}.wasm")), program)
    };
    vec![
        program("zlib", &["zlib.wasm", "/out"], Vec::new()),
        program("wordfreq", &["wordfreq.wasm"], text.into_bytes()),
        program("tailcall", &["tailcall.wasm", "3000000"], Vec::new()),
    ]
}

/// What fuel metering and epoch checks cost real programs: each program of [`programs`]
/// compiled plain, with fuel and with epochs by every runtime, a fresh store per run, all ways
/// and runtimes in one rotating order per repetition; every run must print what the first
/// printed. Skipped without the programs directory.
pub fn bench_interrupt_programs(
    config: &Config,
    rts: &[Box<dyn Runtime>],
    dir: &Path,
) -> Result<Vec<Row>> {
    let Some(programs_dir) = &config.programs_dir else {
        return Ok(Vec::new());
    };
    let out_dir = dir.join("program-out");
    std::fs::create_dir_all(&out_dir)?;
    let (ways, n) = (Interrupt::ALL.len(), rts.len());
    let mut times = Vec::new();
    let mut overheads = Vec::new();
    for (path, program) in programs(programs_dir) {
        progress(format!("interruption: program {}", program.label));
        let wasm = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
        // [way][runtime] runners.
        let mut runners: Vec<Vec<Box<dyn ProgramRunner>>> = Vec::new();
        for way in Interrupt::ALL {
            let name = format!("{}-{}", program.label, way.label());
            let compiled = compile_all(rts, dir, &name, wasm.clone(), way)?;
            let mut per_rt = Vec::new();
            for (rt, path) in rts.iter().zip(&compiled.paths) {
                per_rt.push(rt.program_runner(path, way)?);
            }
            runners.push(per_rt);
        }
        let mut expected: Option<Vec<u8>> = None;
        let mut samples = vec![vec![Vec::new(); n]; ways];
        let mut fuel = vec![0.0; n];
        for rep in 0..config.kernel_reps {
            for j in rotation(ways * n, rep) {
                let (w, i) = (j / n, j % n);
                let run = runners[w][i]
                    .run(&program, &out_dir)
                    .with_context(|| format!("{} running {}", rts[i].name(), program.label))?;
                match &expected {
                    None => expected = Some(run.stdout),
                    Some(e) if *e != run.stdout => bail!(
                        "{} printed something else running {} ({})",
                        rts[i].name(),
                        program.label,
                        Interrupt::ALL[w].label()
                    ),
                    Some(_) => {}
                }
                if let Some(f) = run.fuel {
                    fuel[i] = f as f64;
                }
                samples[w][i].push(ns(run.time));
            }
        }
        for (w, way) in Interrupt::ALL.into_iter().enumerate() {
            times.push(
                Row::new(
                    INTERRUPT_PROGRAMS,
                    format!("{}, {}", program.label, way.label()),
                    Unit::Nanos,
                    median(&samples[w][0]),
                )
                .wasmtime(samples[w].get(1).map(|s| median(s))),
            );
            if way == Interrupt::None {
                continue;
            }
            overheads.extend(overhead_rows(
                INTERRUPT_PROGRAMS_OVERHEAD,
                program.label,
                way,
                &samples,
                &fuel,
            ));
        }
    }
    times.extend(overheads);
    Ok(times)
}
