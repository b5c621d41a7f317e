//! Kiln's benchmark suite.
//!
//! [`run`] measures, in one process and one run, Kiln and the baselines it is judged against
//! (and Wasmtime with the `wasmtime` feature):
//!
//! 1. load and unload latency of artifacts from tiny to large, N copies in separate files and the
//!    same file N times, against the floor `open` + `mmap` + `close` / `munmap`;
//! 2. memory per loaded artifact and what is left after unloading;
//! 3. instantiation latency and memory, and host→guest call overhead;
//! 4. per-request setup of WASI programs (context, store and instance) and guest→host calls;
//! 5. compile throughput and artifact size;
//! 6. execution speed of compute kernels, against the same code in native Rust, and what fuel
//!    metering and epoch checks add to it.
//!
//! Every figure is a median over repetitions, and every comparison is with a baseline measured
//! in the same run: the machine is shared and noisy, so absolute numbers from different runs are
//! not comparable, ratios are. Performance is measured and reported, never asserted.

pub mod exceptions;
pub mod hostcalls;
pub mod interrupt;
pub mod modules;
pub mod report;
pub mod runtime;
pub mod sys;
pub mod unwind;
pub mod wasi;
#[cfg(feature = "wasmtime")]
pub mod wasmtime_rt;

use anyhow::{bail, Context, Result};
use modules::{Kernel, KernelScale, SynthSpec};
use report::{Report, Row, Target, Unit};
use runtime::{CallKind, InstanceFactory, Interrupt, KernelRunner, Kiln, Runtime, Threads};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use sys::{CodeProt, FloorExtras, FloorFile, HeaderRead, MemSnapshot, SizeQuery};

/// What a run measures, and how often.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Artifacts loaded at once (N).
    pub copies: usize,
    /// Repetitions of the load, instantiation and call measurements (medians are taken).
    pub reps: usize,
    /// Synthetic module sizes for loading and memory, smallest first; the last one stands in for
    /// a real program when there is none.
    pub sizes: Vec<SynthSpec>,
    /// Sizes whose compilation is timed.
    pub compile_sizes: Vec<SynthSpec>,
    /// Repetitions of each compilation.
    pub compile_reps: usize,
    /// Instantiations per repetition.
    pub instantiations: usize,
    /// Instances alive at once for the memory figures.
    pub live_instances: usize,
    /// Calls per repetition.
    pub call_iters: u64,
    /// Input sizes of the kernels.
    pub kernel_scale: KernelScale,
    /// Runs of each kernel.
    pub kernel_reps: usize,
    /// Where real programs (`*.wasm`) are looked for.
    pub programs_dir: Option<PathBuf>,
    /// Where the scratch directory goes (default: the system's temporary directory).
    pub scratch_parent: Option<PathBuf>,
    /// Measure Wasmtime too (needs the `wasmtime` feature).
    pub wasmtime: bool,
    /// Also report the floor plus each of Kiln's other load system calls, one by one.
    pub breakdown: bool,
    /// Run only this section (for profiling); `None` runs all.
    pub only: Option<Section>,
}

/// A group of benchmarks, for [`Config::only`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Load and unload latency, and memory per loaded artifact.
    Load,
    /// Instantiation latency and memory.
    Instantiate,
    /// Host→guest calls.
    Calls,
    /// Guest→host calls and host→guest→host round trips.
    HostCalls,
    /// Per-request setup of WASI programs.
    Wasi,
    /// Compile throughput and artifact size.
    Compile,
    /// Compute kernels.
    Execute,
    /// Compute kernels compiled with fuel metering and with epoch checks.
    Interrupt,
    /// Unwind-table registration.
    Unwind,
    /// Throw and catch.
    Exceptions,
}

impl std::str::FromStr for Section {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Section> {
        Ok(match s {
            "load" => Section::Load,
            "instantiate" => Section::Instantiate,
            "calls" => Section::Calls,
            "hostcalls" => Section::HostCalls,
            "wasi" => Section::Wasi,
            "compile" => Section::Compile,
            "execute" => Section::Execute,
            "interrupt" => Section::Interrupt,
            "unwind" => Section::Unwind,
            "exceptions" => Section::Exceptions,
            other => {
                bail!(
                    "unknown section `{other}` (load, instantiate, calls, hostcalls, wasi, \
                     compile, execute, interrupt, unwind or exceptions)"
                )
            }
        })
    }
}

impl Config {
    /// The full benchmark: N = 1000.
    pub fn full() -> Config {
        Config {
            copies: 1000,
            reps: 11,
            sizes: vec![
                SynthSpec::TINY,
                SynthSpec::SMALL,
                SynthSpec::MEDIUM,
                SynthSpec::LARGE,
            ],
            compile_sizes: vec![SynthSpec::MEDIUM, SynthSpec::LARGE],
            compile_reps: 3,
            instantiations: 200,
            live_instances: 100,
            call_iters: 1_000_000,
            kernel_scale: KernelScale::Full,
            kernel_reps: 9,
            programs_dir: Some(default_programs_dir()),
            scratch_parent: None,
            wasmtime: cfg!(feature = "wasmtime"),
            breakdown: true,
            only: None,
        }
    }

    /// `--quick`: N = 50, few repetitions, small kernel inputs.
    pub fn quick() -> Config {
        Config {
            copies: 50,
            reps: 3,
            compile_sizes: vec![SynthSpec::MEDIUM],
            compile_reps: 1,
            instantiations: 30,
            live_instances: 20,
            call_iters: 100_000,
            kernel_scale: KernelScale::Quick,
            kernel_reps: 3,
            ..Config::full()
        }
    }

    /// The test suite's smoke test: the quick mode's code paths on tiny inputs, in seconds.
    pub fn smoke() -> Config {
        Config {
            copies: 3,
            reps: 1,
            sizes: vec![SynthSpec::TINY, SynthSpec::SMALL],
            compile_sizes: vec![SynthSpec::TINY],
            compile_reps: 1,
            instantiations: 2,
            live_instances: 2,
            call_iters: 100,
            kernel_scale: KernelScale::Smoke,
            kernel_reps: 1,
            programs_dir: None,
            ..Config::quick()
        }
    }
}

/// `tests/programs` of the workspace.
pub fn default_programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/programs")
}

const LOAD: &str = "Load and unload (per artifact; N loaded, then all unloaded)";
const LOAD_BREAKDOWN: &str =
    "Load breakdown (per artifact, separate files): the floor plus system calls a loader may add";
const MEMORY: &str = "Memory (per loaded artifact, N loaded from separate files)";
const INSTANTIATE: &str = "Instantiation (store + instance, then drop)";
const CALLS: &str = "Host→guest calls (per call)";
const COMPILE: &str = "Compilation";
const EXECUTE: &str = "Execution (per run)";

/// The median of `v` (0 if empty).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// The indices `0..n`, rotated by `rep`: the order in which repetition `rep` measures `n`
/// runtimes, so that none always runs first (right after the baseline) or last.
pub(crate) fn rotation(n: usize, rep: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (i + rep) % n.max(1))
}

pub(crate) fn ns(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

pub(crate) fn progress(msg: impl AsRef<str>) {
    eprintln!("[kiln-bench] {}", msg.as_ref());
}

/// The runtimes of a run: Kiln, then Wasmtime if configured and compiled in.
fn runtimes(config: &Config) -> Result<Vec<Box<dyn Runtime>>> {
    let kiln: Box<dyn Runtime> = Box::new(Kiln);
    if !config.wasmtime {
        return Ok(vec![kiln]);
    }
    #[cfg(feature = "wasmtime")]
    return Ok(vec![kiln, Box::new(wasmtime_rt::Wasmtime::new()?)]);
    #[cfg(not(feature = "wasmtime"))]
    bail!("Wasmtime was requested, but this build lacks the `wasmtime` feature");
}

/// One module compiled by every runtime: the wasm bytes and each runtime's artifact file.
pub(crate) struct Compiled {
    pub(crate) wasm: Vec<u8>,
    /// Per runtime, in [`runtimes`] order.
    pub(crate) paths: Vec<PathBuf>,
}

/// Compiles `wasm` with every runtime (all threads), interruptible as `interrupt` says, into
/// `{name}.{extension}` files of `dir`.
pub(crate) fn compile_all(
    rts: &[Box<dyn Runtime>],
    dir: &Path,
    name: &str,
    wasm: Vec<u8>,
    interrupt: Interrupt,
) -> Result<Compiled> {
    let mut paths = Vec::new();
    for rt in rts {
        let bytes = rt
            .compile(&wasm, Threads::All, interrupt)
            .with_context(|| format!("{} compiling {name}", rt.name()))?;
        let path = dir.join(format!("{name}.{}", rt.extension()));
        std::fs::write(&path, bytes)?;
        std::fs::File::open(&path)?.sync_all()?;
        paths.push(path);
    }
    Ok(Compiled { wasm, paths })
}

/// Runs every benchmark of `config` and returns the report.
pub fn run(config: &Config) -> Result<Report> {
    if config.copies == 0 || config.reps == 0 || config.sizes.is_empty() {
        bail!("nothing to measure: copies, repetitions and sizes must be positive");
    }
    let rts = runtimes(config)?;
    let scratch = sys::ScratchDir::new(config.scratch_parent.as_deref())?;
    let dir = scratch.path();
    let has_wasmtime = rts.len() > 1;
    let mut report = Report::default();

    let wants = |s: Section| config.only.is_none_or(|o| o == s);
    let mut synth = Vec::new();
    if wants(Section::Load)
        || wants(Section::Instantiate)
        || wants(Section::Compile)
        || wants(Section::Unwind)
    {
        progress("compiling the synthetic modules");
        for spec in &config.sizes {
            let wasm = modules::synthetic(spec, 0);
            synth.push((
                *spec,
                compile_all(&rts, dir, spec.name, wasm, Interrupt::None)?,
            ));
        }
    }

    let mut load_rows = Vec::new();
    let mut breakdown_rows = Vec::new();
    let mut memory_rows = Vec::new();
    let mut tiny_large = Vec::new();
    let load_sizes = if wants(Section::Load) {
        &synth[..]
    } else {
        &[]
    };
    for (i, (spec, compiled)) in load_sizes.iter().enumerate() {
        let breakdown = config.breakdown && (i == 0 || i + 1 == synth.len());
        let r = bench_load(config, &rts, dir, spec, compiled, breakdown)?;
        load_rows.extend(r.rows);
        breakdown_rows.extend(r.breakdown);
        memory_rows.extend(r.memory);
        tiny_large.push((r.load_times, r.floor_load));
    }
    if let (Some(first), Some(last)) = (tiny_large.first(), tiny_large.last()) {
        if tiny_large.len() > 1 {
            let names = format!(
                "load {} ÷ load {} (size independence)",
                config.sizes[config.sizes.len() - 1].name,
                config.sizes[0].name
            );
            load_rows.push(
                Row::new(LOAD, names, Unit::Ratio, last.0[0] / first.0[0])
                    .baseline("floor", last.1 / first.1)
                    .wasmtime(first.0.get(1).map(|w0| last.0[1] / w0))
                    .target(Target::MaxVsBaseline(1.3)),
            );
        }
    }
    report.rows.extend(load_rows);
    report.rows.extend(breakdown_rows);
    report.rows.extend(memory_rows);
    if wants(Section::Instantiate) {
        report
            .rows
            .extend(bench_instantiation(config, &rts, dir, &synth)?);
    }
    if wants(Section::Calls) {
        report.rows.extend(bench_calls(config, &rts, dir)?);
    }
    if wants(Section::HostCalls) {
        report
            .rows
            .extend(hostcalls::bench_hostcalls(config, &rts, dir)?);
    }
    if wants(Section::Wasi) {
        report.rows.extend(wasi::bench_wasi(config, &rts, dir)?);
    }
    if wants(Section::Compile) {
        report.rows.extend(bench_compile(config, &rts, &synth)?);
    }
    if wants(Section::Execute) {
        report.rows.extend(bench_kernels(config, &rts, dir)?);
    }
    if wants(Section::Exceptions) {
        report
            .rows
            .extend(exceptions::bench_exceptions(config, &rts, dir)?);
    }
    if wants(Section::Interrupt) {
        report
            .rows
            .extend(interrupt::bench_interrupt(config, &rts, dir)?);
        report
            .rows
            .extend(interrupt::bench_interrupt_programs(config, &rts, dir)?);
    }
    if wants(Section::Unwind) {
        let ends: Vec<(&str, &[u8])> = [synth.first(), synth.last()]
            .into_iter()
            .flatten()
            .map(|(spec, c)| (spec.name, &c.wasm[..]))
            .collect();
        let ends = if synth.len() > 1 {
            &ends[..]
        } else {
            &ends[..1]
        };
        report.rows.extend(unwind::bench_unwind(config, dir, ends)?);
    }

    report.notes.push(format!(
        "N = {} artifacts; medians of {} repetitions ({} instantiations and {} calls each); \
         compilation: median of {}; kernels: median of {} runs.",
        config.copies,
        config.reps,
        config.instantiations,
        config.call_iters,
        config.compile_reps,
        config.kernel_reps
    ));
    let sizes: Vec<String> = synth
        .iter()
        .map(|(spec, c)| {
            let mut s = format!(
                "{} = {} functions, {} of wasm, Kiln artifact {}",
                spec.name,
                spec.funcs + 1,
                report::format_value(c.wasm.len() as f64, Unit::Bytes),
                report::format_value(file_len(&c.paths[0]) as f64, Unit::Bytes),
            );
            if let Some(p) = c.paths.get(1) {
                let size = report::format_value(file_len(p) as f64, Unit::Bytes);
                s.push_str(&format!(" (Wasmtime {size})"));
            }
            s
        })
        .collect();
    if !sizes.is_empty() {
        report
            .notes
            .push(format!("Synthetic modules: {}.", sizes.join("; ")));
    }
    #[cfg(feature = "wasmtime")]
    if has_wasmtime {
        report.notes.push(wasmtime_rt::SETTINGS.to_string());
    }
    if !has_wasmtime {
        report.notes.push(
            "Wasmtime not measured (build with `--features wasmtime`): targets relative to it \
             show —."
                .into(),
        );
    }
    Ok(report)
}

/// Writes every module the benchmarks use as `.wasm` files into `dir` (for profiling them with
/// the `kiln` command or other tools).
pub fn write_modules(config: &Config, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut modules: Vec<(String, Vec<u8>)> = config
        .sizes
        .iter()
        .map(|s| (s.name.to_string(), modules::synthetic(s, 0)))
        .collect();
    modules.push(("instantiation".into(), modules::instantiation_module()));
    modules.push(("calls".into(), wat::parse_str(modules::CALLS_WAT)?));
    modules.push(("hostcalls".into(), wat::parse_str(modules::HOSTCALLS_WAT)?));
    modules.push(("wasi".into(), wat::parse_str(modules::WASI_WAT)?));
    modules.push(("kernels".into(), wat::parse_str(modules::KERNELS_WAT)?));
    modules
        .into_iter()
        .map(|(name, wasm)| {
            let p = dir.join(format!("{name}.wasm"));
            std::fs::write(&p, wasm)?;
            Ok(p)
        })
        .collect()
}

pub(crate) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// N copies of `src` named `{stem}-{i}.{ext}` in `dir`.
pub(crate) fn make_copies(src: &Path, dir: &Path, n: usize) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let ext = src.extension().and_then(|e| e.to_str()).unwrap_or("bin");
    (0..n)
        .map(|i| {
            let p = dir.join(format!("copy-{i}.{ext}"));
            std::fs::copy(src, &p).with_context(|| format!("copying to {}", p.display()))?;
            // Written back now: pages of files still being written count as dirty in smaps.
            std::fs::File::open(&p)?.sync_all()?;
            Ok(p)
        })
        .collect()
}

/// What [`bench_load`] measured for one size.
struct LoadResult {
    /// Load and unload rows.
    rows: Vec<Row>,
    /// The floor plus each of Kiln's other system calls.
    breakdown: Vec<Row>,
    /// Memory rows.
    memory: Vec<Row>,
    /// Median load time of each runtime, separate files (for the size-independence row).
    load_times: Vec<f64>,
    /// Median load time of the floor, separate files.
    floor_load: f64,
}

fn bench_load(
    config: &Config,
    rts: &[Box<dyn Runtime>],
    dir: &Path,
    spec: &SynthSpec,
    compiled: &Compiled,
    breakdown: bool,
) -> Result<LoadResult> {
    let n = config.copies;
    progress(format!("load/unload: {}, {n} copies", spec.name));
    let copies_dir = dir.join(format!("copies-{}", spec.name));
    let mut separate = Vec::new();
    for (rt, path) in rts.iter().zip(&compiled.paths) {
        separate.push(make_copies(path, &copies_dir.join(rt.extension()), n)?);
    }
    let same: Vec<Vec<PathBuf>> = compiled.paths.iter().map(|p| vec![p.clone(); n]).collect();
    let floor_sep = separate[0]
        .iter()
        .map(|p| FloorFile::new(p))
        .collect::<Result<Vec<_>>>()?;
    let floor_same = same[0]
        .iter()
        .map(|p| FloorFile::new(p))
        .collect::<Result<Vec<_>>>()?;

    // What a loader may add to open + mmap + close: learning the length (fstat, lseek), reading
    // the header (pread, or a page fault through the mapping), a second mapping or mprotect of the
    // code range. One variant is what Kiln does; the others are the alternatives it was chosen
    // from.
    let text = {
        let a = kiln_loader::Artifact::open(&compiled.paths[0])?;
        let base = a.bytes().as_ptr() as usize;
        let code = a.code_range()?;
        let page = sys::page_size();
        let len = code
            .len()
            .next_multiple_of(page)
            .min(a.bytes().len() - (code.start - base));
        (code.start - base, len)
    };
    let with = |size, header, exec_whole| FloorExtras {
        size,
        header,
        exec_whole,
        code: None,
    };
    let remap = |how| FloorExtras {
        code: Some((text.0, text.1, how)),
        ..with(SizeQuery::Fstat, HeaderRead::Touch, false)
    };
    let kb = HeaderRead::Pread(1024);
    let floors = [
        ("floor", FloorExtras::default()),
        (
            "floor + fstat",
            with(SizeQuery::Fstat, HeaderRead::None, false),
        ),
        (
            "floor + lseek(SEEK_END)",
            with(SizeQuery::Lseek, HeaderRead::None, false),
        ),
        (
            "floor + fstat + pread(1 KiB header), mapped r-x",
            with(SizeQuery::Fstat, kb, true),
        ),
        (
            "floor + lseek + pread(1 KiB header), mapped r-x",
            with(SizeQuery::Lseek, kb, true),
        ),
        (
            "floor + pread(1 KiB header), mapped r-x",
            with(SizeQuery::Known, kb, true),
        ),
        (
            "floor + fstat + header read through the mapping (page fault)",
            with(SizeQuery::Fstat, HeaderRead::Touch, false),
        ),
        (
            "floor + fstat + header read + mprotect(code, r-x)",
            remap(CodeProt::Mprotect),
        ),
        (
            "floor + fstat + header read + mmap(code, r-x, MAP_FIXED)",
            remap(CodeProt::RemapFixed),
        ),
    ];
    // Kiln's own alternatives: validated by the load (a `pread`), or at first use through the
    // mapping (what the first instantiation pays).
    let eager = kiln_loader::LoadOptions {
        check_now: true,
        ..Default::default()
    };
    let kiln_variants: [(&str, kiln_loader::LoadOptions, bool); 2] = [
        (
            "Kiln, validated at load (LoadOptions::check_now)",
            eager,
            false,
        ),
        (
            "Kiln, load + Artifact::check (validation at first use)",
            Default::default(),
            true,
        ),
    ];
    let nk = kiln_variants.len();
    let nf = floors.len() + nk;

    // Per variant: [floors..., Kiln variants..., runtimes...] x (load, unload) samples.
    let variants = nf + rts.len();
    let mut sep = vec![(Vec::new(), Vec::new()); variants];
    let mut same_s = vec![(Vec::new(), Vec::new()); variants];
    let per = |d: Duration| ns(d) / n as f64;
    // One untimed round first: page cache, lazy initialization.
    sys::floor_load_unload(&floor_sep, FloorExtras::default())?;
    for (rt, paths) in rts.iter().zip(&separate) {
        drop(rt.load_all(paths)?);
    }
    // Every variant in a rotating order, so that none always runs right after the same one (each
    // leaves the kernel's caches and address-space trees in a different state).
    for rep in 0..config.reps {
        for (files, samples, paths) in [
            (&floor_sep, &mut sep, &separate),
            (&floor_same, &mut same_s, &same),
        ] {
            for v in rotation(variants, rep) {
                let (l, u) = if v < floors.len() {
                    sys::floor_load_unload(files, floors[v].1)?
                } else if v < nf {
                    let (_, options, check) = &kiln_variants[v - floors.len()];
                    kiln_load_unload(&paths[0], options, *check)?
                } else {
                    let (rt, paths) = (&rts[v - nf], &paths[v - nf]);
                    let start = Instant::now();
                    let held = rt.load_all(paths)?;
                    let l = start.elapsed();
                    let start = Instant::now();
                    drop(held);
                    (l, start.elapsed())
                };
                samples[v].0.push(per(l));
                samples[v].1.push(per(u));
            }
        }
    }
    let med = |s: &[(Vec<f64>, Vec<f64>)], i: usize, unload: bool| {
        median(if unload { &s[i].1 } else { &s[i].0 })
    };
    let wt =
        |s: &[(Vec<f64>, Vec<f64>)], unload: bool| (rts.len() > 1).then(|| med(s, nf + 1, unload));
    let size = report::format_value(file_len(&compiled.paths[0]) as f64, Unit::Bytes);
    let mut rows = Vec::new();
    let mut breakdown_rows = Vec::new();
    for (label, s) in [("separate files", &sep), ("same file", &same_s)] {
        for (what, unload) in [("load", false), ("unload", true)] {
            rows.push(
                Row::new(
                    LOAD,
                    format!("{what} {} ({size}), {label}", spec.name),
                    Unit::Nanos,
                    med(s, nf, unload),
                )
                .baseline("floor", med(s, 0, unload))
                .wasmtime(wt(s, unload))
                .target(Target::MaxVsBaseline(1.3)),
            );
        }
    }
    if breakdown {
        for (what, unload) in [("load", false), ("unload", true)] {
            let names = floors
                .iter()
                .map(|f| f.0)
                .chain(kiln_variants.iter().map(|k| k.0));
            for (f, name) in names.enumerate().skip(1) {
                breakdown_rows.push(
                    Row::new(
                        LOAD_BREAKDOWN,
                        format!("{name}: {what} {}", spec.name),
                        Unit::Nanos,
                        med(&sep, f, unload),
                    )
                    .baseline("floor", med(&sep, 0, unload)),
                );
            }
        }
    }
    let load_times: Vec<f64> = (nf..variants).map(|i| med(&sep, i, false)).collect();
    let floor_load = med(&sep, 0, false);

    progress(format!("memory: {}, {n} loaded", spec.name));
    let mem = memory_rows(rts, spec, &separate, &floor_sep, n)?;
    std::fs::remove_dir_all(&copies_dir)?;
    Ok(LoadResult {
        rows,
        breakdown: breakdown_rows,
        memory: mem,
        load_times,
        floor_load,
    })
}

/// Loads every artifact of `paths` with `options` (then validates each if `check`), then drops
/// them all: (load time, unload time).
fn kiln_load_unload(
    paths: &[PathBuf],
    options: &kiln_loader::LoadOptions,
    check: bool,
) -> Result<(Duration, Duration)> {
    let mut loaded = Vec::with_capacity(paths.len());
    let start = Instant::now();
    for p in paths {
        let a = kiln_loader::Artifact::open_with(p, options)?;
        if check {
            a.check()?;
        }
        loaded.push(a);
    }
    let load = start.elapsed();
    let start = Instant::now();
    drop(loaded);
    Ok((load, start.elapsed()))
}

/// Memory per loaded artifact, and after unloading, for each runtime and the floor.
fn memory_rows(
    rts: &[Box<dyn Runtime>],
    spec: &SynthSpec,
    separate: &[Vec<PathBuf>],
    floor_files: &[FloorFile],
    n: usize,
) -> Result<Vec<Row>> {
    let before = MemSnapshot::now()?;
    let maps = sys::FloorMaps::map(floor_files, false)?;
    let floor = MemSnapshot::now()?.delta(&before).per(n);
    drop(maps);

    let mut loaded = Vec::new();
    let mut after = Vec::new();
    for (rt, paths) in rts.iter().zip(separate) {
        drop(rt.load_all(paths)?);
        let before = MemSnapshot::now()?;
        let held = rt.load_all(paths)?;
        loaded.push(MemSnapshot::now()?.delta(&before).per(n));
        drop(held);
        after.push(MemSnapshot::now()?.delta(&before));
    }
    let wt = |v: &[f64]| v.get(1).copied();
    let name = spec.name;
    Ok(vec![
        Row::new(MEMORY, format!("RSS, {name}"), Unit::Bytes, loaded[0].rss)
            .baseline("floor", floor.rss)
            .wasmtime(wt(&loaded.iter().map(|m| m.rss).collect::<Vec<_>>())),
        Row::new(
            MEMORY,
            format!("private dirty (incl. anonymous), {name}"),
            Unit::Bytes,
            loaded[0].private_dirty,
        )
        .baseline("floor", floor.private_dirty)
        .wasmtime(wt(&loaded
            .iter()
            .map(|m| m.private_dirty)
            .collect::<Vec<_>>())),
        Row::new(MEMORY, format!("heap, {name}"), Unit::Bytes, loaded[0].heap)
            .baseline("floor", floor.heap)
            .wasmtime(wt(&loaded.iter().map(|m| m.heap).collect::<Vec<_>>()))
            .target(Target::MaxAbs(4096.0)),
        Row::new(
            MEMORY,
            format!("RSS after unloading all {n} − before, {name}"),
            Unit::Bytes,
            after[0].rss as f64,
        )
        .wasmtime(after.get(1).map(|d| d.rss as f64))
        .target(Target::MaxAbs(1024.0 * 1024.0)),
    ])
}

/// The real programs (`*.wasm`) of `programs_dir`, largest first (ties by name); none if the
/// directory is not set or cannot be read.
pub(crate) fn program_files(config: &Config) -> Vec<PathBuf> {
    let Some(entries) = config
        .programs_dir
        .as_ref()
        .and_then(|dir| std::fs::read_dir(dir).ok())
    else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort_by_key(|p| (std::cmp::Reverse(file_len(p)), p.clone()));
    files
}

/// The file name of `path`, for tables.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or("program".into(), |s| s.to_string_lossy().into_owned())
}

/// The largest real program of `programs_dir` (by size) if there is one, and the largest
/// synthetic module.
fn programs(config: &Config, synth: &[(SynthSpec, Compiled)]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(f) = program_files(config).first() {
        out.push((
            format!("{} (real program)", file_name(f)),
            std::fs::read(f)?,
        ));
    }
    let (spec, c) = synth.last().context("no synthetic module")?;
    out.push((format!("{} synthetic module", spec.name), c.wasm.clone()));
    Ok(out)
}

/// Instantiation and drop times: per factory, `config.instantiations` samples of each per
/// repetition, the factories in a rotating order, then `after_rep` (a baseline interleaved with
/// them). Every factory instantiates once before, unmeasured.
pub(crate) fn time_instantiations(
    config: &Config,
    factories: &mut [Box<dyn InstanceFactory>],
    mut after_rep: impl FnMut() -> Result<()>,
) -> Result<Vec<(Vec<f64>, Vec<f64>)>> {
    // [factory] x (create, drop) samples.
    let mut samples = vec![(Vec::new(), Vec::new()); factories.len()];
    for f in factories.iter_mut() {
        drop(f.instantiate()?);
    }
    for rep in 0..config.reps {
        for i in rotation(factories.len(), rep) {
            let (f, s) = (&mut factories[i], &mut samples[i]);
            for _ in 0..config.instantiations {
                let start = Instant::now();
                let held = f.instantiate()?;
                let created = start.elapsed();
                let start = Instant::now();
                drop(held);
                s.0.push(ns(created));
                s.1.push(ns(start.elapsed()));
            }
        }
        after_rep()?;
    }
    Ok(samples)
}

fn bench_instantiation(
    config: &Config,
    rts: &[Box<dyn Runtime>],
    dir: &Path,
    synth: &[(SynthSpec, Compiled)],
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut targets = vec![(
        "1 MiB data segment + 1024-entry table".to_string(),
        modules::instantiation_module(),
        true,
    )];
    for (name, wasm) in programs(config, synth)? {
        targets.push((name, wasm, false));
    }
    for (i, (name, wasm, with_floor)) in targets.into_iter().enumerate() {
        progress(format!("instantiation: {name}"));
        let compiled = match compile_all(rts, dir, &format!("inst{i}"), wasm, Interrupt::None) {
            Ok(c) => c,
            Err(e) => {
                progress(format!("skipping {name}: {e:#}"));
                continue;
            }
        };
        let mut factories = Vec::new();
        for (rt, path) in rts.iter().zip(&compiled.paths) {
            factories.push(rt.instance_factory(path, &compiled.wasm)?);
        }
        let mut floor = (Vec::new(), Vec::new());
        // The floor maps the 1 MiB image from Kiln's artifact, where it starts the data region.
        let floor_file = FloorFile::new(&compiled.paths[0])?;
        let image = {
            let a = kiln_loader::Artifact::open(&compiled.paths[0])?;
            (a.view()?.data_range().start, 1 << 20)
        };
        let samples = time_instantiations(config, &mut factories, || {
            if with_floor {
                for _ in 0..config.instantiations {
                    let (setup, teardown) = sys::floor_memory(32, &floor_file, image, 65536)?;
                    floor.0.push(ns(setup));
                    floor.1.push(ns(teardown));
                }
            }
            Ok(())
        })?;
        let wt = |v: &[(Vec<f64>, Vec<f64>)], drop: bool| {
            v.get(1).map(|s| median(if drop { &s.1 } else { &s.0 }))
        };
        let mut create = Row::new(
            INSTANTIATE,
            format!("instantiate {name}"),
            Unit::Nanos,
            median(&samples[0].0),
        )
        .wasmtime(wt(&samples, false))
        .target(Target::MaxVsWasmtime(1.0));
        let mut teardown = Row::new(
            INSTANTIATE,
            format!("drop instance {name}"),
            Unit::Nanos,
            median(&samples[0].1),
        )
        .wasmtime(wt(&samples, true));
        if with_floor {
            create = create.baseline("reserve + mprotect + mmap image", median(&floor.0));
            teardown = teardown.baseline("munmap", median(&floor.1));
        }
        rows.push(create);
        rows.push(teardown);

        // Memory of live instances, each in its own store.
        let k = config.live_instances;
        let mut per = Vec::new();
        let mut after = Vec::new();
        for f in factories.iter_mut() {
            let before = MemSnapshot::now()?;
            let held = (0..k)
                .map(|_| f.instantiate())
                .collect::<Result<Vec<_>>>()?;
            per.push(MemSnapshot::now()?.delta(&before).per(k));
            drop(held);
            after.push(MemSnapshot::now()?.delta(&before));
        }
        rows.push(
            Row::new(
                INSTANTIATE,
                format!("RSS per live instance ({k} live), {name}"),
                Unit::Bytes,
                per[0].rss,
            )
            .wasmtime(per.get(1).map(|m| m.rss)),
        );
        rows.push(
            Row::new(
                INSTANTIATE,
                format!("private dirty per live instance, {name}"),
                Unit::Bytes,
                per[0].private_dirty,
            )
            .wasmtime(per.get(1).map(|m| m.private_dirty)),
        );
        rows.push(
            Row::new(
                INSTANTIATE,
                format!("RSS after dropping all {k} − before, {name}"),
                Unit::Bytes,
                after[0].rss as f64,
            )
            .wasmtime(after.get(1).map(|d| d.rss as f64)),
        );
    }
    Ok(rows)
}

fn bench_calls(config: &Config, rts: &[Box<dyn Runtime>], dir: &Path) -> Result<Vec<Row>> {
    progress("calls");
    let wasm = wat::parse_str(modules::CALLS_WAT)?;
    let compiled = compile_all(rts, dir, "calls", wasm, Interrupt::None)?;
    let mut runners = Vec::new();
    for (rt, path) in rts.iter().zip(&compiled.paths) {
        runners.push(rt.call_runner(path)?);
    }
    let iters = config.call_iters;
    let per = |d: Duration| ns(d) / iters as f64;
    // [kind][runtime] samples, and the native baseline.
    let mut samples = vec![vec![Vec::new(); rts.len()]; CallKind::ALL.len()];
    let mut native = Vec::new();
    for r in runners.iter_mut() {
        for kind in CallKind::ALL {
            r.run(kind, iters.min(1000))?;
        }
    }
    for rep in 0..config.reps {
        native.push(per(runtime::native_calls(iters)));
        for (k, kind) in CallKind::ALL.into_iter().enumerate() {
            for i in rotation(runners.len(), rep) {
                samples[k][i].push(per(runners[i].run(kind, iters)?));
            }
        }
    }
    let native = median(&native);
    let names = [
        "nop: TypedFunc::call",
        "nop: Instance::call by name (Wasmtime: get_func + Func::call)",
        "nop: Func::call (dynamic, handle looked up once)",
        "add(i32, i32) -> i32: TypedFunc::call",
    ];
    Ok(CallKind::ALL
        .iter()
        .enumerate()
        .map(|(k, _)| {
            Row::new(CALLS, names[k], Unit::Nanos, median(&samples[k][0]))
                .baseline("native call via pointer", native)
                .wasmtime(samples[k].get(1).map(|s| median(s)))
        })
        .collect())
}

fn bench_compile(
    config: &Config,
    rts: &[Box<dyn Runtime>],
    synth: &[(SynthSpec, Compiled)],
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    for spec in &config.compile_sizes {
        progress(format!("compile: {}", spec.name));
        let wasm = synth
            .iter()
            .find(|(s, _)| s == spec)
            .map_or_else(|| modules::synthetic(spec, 0), |(_, c)| c.wasm.clone());
        let mb = wasm.len() as f64;
        let mut validate = Vec::new();
        // [threads][runtime] throughput samples.
        let mut samples = vec![vec![Vec::new(); rts.len()]; 2];
        let mut sizes = vec![0usize; rts.len()];
        for _ in 0..config.compile_reps {
            let start = Instant::now();
            wasmparser::Validator::new().validate_all(&wasm)?;
            validate.push(mb / start.elapsed().as_secs_f64());
            for (t, threads) in [Threads::One, Threads::All].into_iter().enumerate() {
                for (i, rt) in rts.iter().enumerate() {
                    let start = Instant::now();
                    let bytes = rt.compile(&wasm, threads, Interrupt::None)?;
                    samples[t][i].push(mb / start.elapsed().as_secs_f64());
                    sizes[i] = bytes.len();
                }
            }
        }
        let validate = median(&validate);
        let size = report::format_value(mb, Unit::Bytes);
        for (t, label) in [(0, "1 thread".to_string()), (1, format!("{all} threads"))] {
            rows.push(
                Row::new(
                    COMPILE,
                    format!("compile {} ({size} wasm), {label}", spec.name),
                    Unit::BytesPerSec,
                    median(&samples[t][0]),
                )
                .baseline("wasmparser validation", validate)
                .wasmtime(samples[t].get(1).map(|s| median(s)))
                .target(Target::MinVsWasmtime(0.9)),
            );
        }
        rows.push(
            Row::new(
                COMPILE,
                format!("artifact size {}", spec.name),
                Unit::Bytes,
                sizes[0] as f64,
            )
            .baseline("wasm", mb)
            .wasmtime(sizes.get(1).map(|&s| s as f64)),
        );
    }
    Ok(rows)
}

/// Runs `kernel` once with `runner` (of runtime `name`): its time in nanoseconds, or an error if
/// its result is not the native one, `expected`.
pub(crate) fn run_kernel(
    runner: &mut dyn KernelRunner,
    name: &str,
    kernel: &Kernel,
    expected: i64,
) -> Result<f64> {
    let (t, got) = runner.run(kernel)?;
    if got != expected {
        bail!(
            "{name} computed {} = {got}, native Rust {expected}",
            kernel.describe()
        );
    }
    Ok(ns(t))
}

fn bench_kernels(config: &Config, rts: &[Box<dyn Runtime>], dir: &Path) -> Result<Vec<Row>> {
    progress("kernels");
    let wasm = wat::parse_str(modules::KERNELS_WAT)?;
    let compiled = compile_all(rts, dir, "kernels", wasm, Interrupt::None)?;
    let mut runners = Vec::new();
    for (rt, path) in rts.iter().zip(&compiled.paths) {
        runners.push(rt.kernel_runner(path, Interrupt::None)?);
    }
    let mut rows = Vec::new();
    for kernel in Kernel::all(config.kernel_scale) {
        progress(format!("kernel {}", kernel.describe()));
        let mut native = Vec::new();
        let mut samples = vec![Vec::new(); rts.len()];
        let mut scratch = modules::NativeMemory::default();
        kernel.native(&mut scratch);
        for rep in 0..config.kernel_reps {
            let start = Instant::now();
            let expected = kernel.native(&mut scratch);
            native.push(ns(start.elapsed()));
            for i in rotation(runners.len(), rep) {
                samples[i].push(run_kernel(
                    &mut *runners[i],
                    rts[i].name(),
                    &kernel,
                    expected,
                )?);
            }
        }
        rows.push(
            Row::new(
                EXECUTE,
                format!("{}: {}", kernel.label, kernel.describe()),
                Unit::Nanos,
                median(&samples[0]),
            )
            .baseline("native Rust", median(&native))
            .wasmtime(samples.get(1).map(|s| median(s)))
            .target(Target::MaxVsWasmtime(1.1)),
        );
    }
    Ok(rows)
}
