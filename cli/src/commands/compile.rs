//! `kiln compile`.

use anyhow::{Context, Result};
use kiln_compiler::{CompileOptions, OptLevel, WasmFeatures};
use kiln_format::Arch;
use rayon::prelude::*;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The options that choose the code, shared by `kiln compile` and `kiln explore`.
#[derive(clap::Args)]
pub struct CodeArgs {
    /// Target: x86_64, aarch64, riscv64gc or s390x (a full Linux triple also works). Default:
    /// this machine, with all its CPU features.
    #[arg(long)]
    target: Option<String>,
    /// Optimization level.
    #[arg(short = 'O', long = "opt-level", default_value = "speed", value_parser = ["none", "speed", "size"])]
    opt_level: String,
    /// Meter fuel: the code traps once it has consumed the fuel its store was given.
    #[arg(long)]
    fuel: bool,
    /// Check the store's epoch deadline at function entries and loop headers, so that the host
    /// can interrupt the code.
    #[arg(long)]
    epoch_interruption: bool,
    /// Check every access to a 32-bit memory against its length, rather than relying on a
    /// 4 GiB + 2 GiB guard reservation: a memory then reserves only its maximum (or the
    /// engine's memory reservation). Slower code, less address space.
    #[arg(long)]
    explicit_bounds_checks: bool,
    #[command(flatten)]
    features: FeatureArgs,
}

impl CodeArgs {
    /// The compile options these choose, the others at their defaults.
    pub fn options(&self) -> Result<CompileOptions> {
        Ok(CompileOptions {
            target: self.target.as_deref().map(parse_target).transpose()?,
            opt_level: match self.opt_level.as_str() {
                "none" => OptLevel::None,
                "size" => OptLevel::Size,
                _ => OptLevel::Speed,
            },
            fuel: self.fuel,
            epoch_interruption: self.epoch_interruption,
            explicit_bounds_checks: self.explicit_bounds_checks,
            features: self.features.features()?,
            ..CompileOptions::default()
        })
    }
}

/// Options of `kiln compile`.
#[derive(clap::Args)]
pub struct Args {
    /// Input modules: .wasm binaries or .wat text. More than one needs `-d`.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Output artifact (one input only).
    #[arg(
        short,
        long,
        required_unless_present = "out_dir",
        conflicts_with = "out_dir"
    )]
    output: Option<PathBuf>,
    /// Output directory (created if missing): each input's artifact is written there under its
    /// file stem with `.kiln` (`.o` with `--emit obj`). Modules are compiled in parallel; every
    /// input is attempted, each failure is one line naming its file, and a failed module leaves
    /// no output (not even an older one).
    #[arg(short = 'd', long = "out-dir", value_name = "OUTDIR")]
    out_dir: Option<PathBuf>,
    /// Also write a Make-style dependency file: an `OUTPUT: INPUT` rule per artifact written.
    #[arg(long, value_name = "FILE")]
    depfile: Option<PathBuf>,
    #[command(flatten)]
    code: CodeArgs,
    /// Compile threads (default: all cores), shared by all inputs. The artifacts do not depend
    /// on it.
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// Emit unwind tables (.eh_frame).
    #[arg(long)]
    unwind_info: bool,
    /// Drop function names and the address map.
    #[arg(long)]
    strip: bool,
    /// What to write: the artifact file, or a relocatable ELF object that carries it, for
    /// linking into a host executable (see SPEC.md §9).
    #[arg(long, default_value = "artifact", value_parser = ["artifact", "obj"])]
    emit: String,
    /// With `--emit obj`: the global symbol at the artifact's start (`NAME_len`, a `u64`, holds
    /// its length). Default: `kiln_artifact_` and the output's file stem, with other characters
    /// than letters, digits and `_` made `_`.
    #[arg(long, value_name = "NAME")]
    symbol: Option<String>,
}

/// The default `--symbol` for `output`.
fn default_symbol(output: &Path) -> String {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("kiln_artifact_{stem}")
}

/// The `-W` option of every command that compiles.
#[derive(clap::Args)]
pub struct FeatureArgs {
    /// WebAssembly features beyond 2.0, named as in Wasmtime's `-W`: e.g. `tail-call=n`,
    /// `multi-memory=n,relaxed-simd=n`, or `wasm2` for WebAssembly 2.0 only. Default: every
    /// feature Kiln compiles (tail-call, extended-const, relaxed-simd, multi-memory, memory64,
    /// function-references, exceptions).
    /// Repeatable.
    #[arg(short = 'W', long = "wasm", value_name = "FEATURES")]
    wasm: Vec<String>,
}

impl FeatureArgs {
    /// The features these options select.
    pub fn features(&self) -> Result<WasmFeatures> {
        let mut features = WasmFeatures::default();
        for list in &self.wasm {
            features.apply(list).map_err(anyhow::Error::msg)?;
        }
        Ok(features)
    }
}

/// Parses a `--target` value.
pub fn parse_target(s: &str) -> Result<Arch> {
    let arch_name = s.split('-').next().unwrap_or(s);
    Arch::ALL
        .into_iter()
        .find(|a| {
            a.name() == arch_name
                || a.triple() == s
                || (arch_name == "riscv64" && *a == Arch::Riscv64)
        })
        .with_context(|| {
            let known: Vec<_> = Arch::ALL.iter().map(|a| a.name()).collect();
            format!("unknown target `{s}` (known: {})", known.join(", "))
        })
}

/// Reads a module, accepting binary or text format.
pub fn read_module(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let wasm = wat::parse_bytes(&bytes)
        .with_context(|| format!("{}: not a WebAssembly module", path.display()))?;
    Ok(wasm.into_owned())
}

/// One module to compile: where from, where to.
struct Job {
    input: PathBuf,
    output: PathBuf,
}

/// What `kiln compile` writes for each module.
enum Emit {
    /// The artifact file.
    Artifact,
    /// A relocatable object carrying the artifact, for `arch`, with `symbol` (else the default
    /// symbol of each output).
    Obj { arch: Arch, symbol: Option<String> },
}

/// Runs `kiln compile`.
pub fn run(args: Args) -> Result<ExitCode> {
    let options = CompileOptions {
        // The pool below: `-j` bounds the threads of all modules together.
        threads: None,
        unwind_info: args.unwind_info,
        strip: args.strip,
        ..args.code.options()?
    };
    let emit = if args.emit == "obj" {
        let arch = match options.target {
            Some(arch) => arch,
            None => Arch::host().context("this machine's architecture is not a Kiln target")?,
        };
        if args.symbol.is_some() && args.inputs.len() > 1 {
            anyhow::bail!("--symbol names one object's symbol; several inputs take their defaults");
        }
        Emit::Obj {
            arch,
            symbol: args.symbol,
        }
    } else {
        if args.symbol.is_some() {
            anyhow::bail!("--symbol names the symbol of `--emit obj`");
        }
        Emit::Artifact
    };
    let jobs = plan(&args.inputs, args.output, args.out_dir.as_deref(), &emit)?;
    // Rayon's default stacks are the 2 MiB of spawned threads; a worker waiting inside one
    // module's functions may pick up another whole module, so give each room for several.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .stack_size(16 << 20)
        .build()
        .context("cannot start compile threads")?;
    let batch = args.out_dir.is_some();
    let progress = Progress::new(batch, jobs.len());
    let results: Vec<Result<()>> = pool.install(|| {
        jobs.par_iter()
            .map(|job| {
                let result = compile_one(job, &options, &emit);
                progress.done(&job.input);
                result
            })
            .collect()
    });
    progress.finish();
    if !batch {
        // One module, `-o`: its error is the command's, exactly as before batches existed.
        if let Some(Err(e)) = results.into_iter().next() {
            return Err(e);
        }
        if let Some(depfile) = &args.depfile {
            write_depfile(depfile, &jobs)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut written = Vec::new();
    let mut failed = false;
    for (job, result) in jobs.into_iter().zip(results) {
        match result {
            Ok(()) => written.push(job),
            Err(e) => {
                failed = true;
                // A stale artifact must not outlive the module that no longer compiles (as
                // make's .DELETE_ON_ERROR): a build would otherwise go on with old code.
                remove_stale(&job.output);
                eprintln!("error: {}", one_line(&e));
            }
        }
    }
    if let Some(depfile) = &args.depfile {
        if let Err(e) = write_depfile(depfile, &written) {
            eprintln!("error: {}", one_line(&e));
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The modules to compile and where each goes; refuses, before any compiling, a set of inputs
/// that would write the same output twice.
fn plan(
    inputs: &[PathBuf],
    output: Option<PathBuf>,
    out_dir: Option<&Path>,
    emit: &Emit,
) -> Result<Vec<Job>> {
    let Some(dir) = out_dir else {
        let output = output.context("an output is needed: -o FILE, or -d OUTDIR")?;
        if inputs.len() > 1 {
            anyhow::bail!("-o names one output, for one input; compile several with -d OUTDIR");
        }
        return Ok(vec![Job {
            input: inputs[0].clone(),
            output,
        }]);
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create output directory {}", dir.display()))?;
    let extension = match emit {
        Emit::Artifact => "kiln",
        Emit::Obj { .. } => "o",
    };
    let mut jobs: Vec<Job> = Vec::with_capacity(inputs.len());
    for input in inputs {
        let stem = input
            .file_stem()
            .with_context(|| format!("{}: not a file name", input.display()))?;
        let output = dir.join(Path::new(stem).with_extension(extension));
        if let Some(other) = jobs.iter().find(|j| j.output == output) {
            anyhow::bail!(
                "{} and {} would both be compiled to {}",
                other.input.display(),
                input.display(),
                output.display()
            );
        }
        jobs.push(Job {
            input: input.clone(),
            output,
        });
    }
    Ok(jobs)
}

/// Compiles one module and writes its output atomically. Errors name the file.
fn compile_one(job: &Job, options: &CompileOptions, emit: &Emit) -> Result<()> {
    let wasm = read_module(&job.input)?;
    let artifact = kiln_compiler::compile(&wasm, options)
        .with_context(|| format!("{}: compilation failed", job.input.display()))?;
    match emit {
        Emit::Artifact => write_atomically(&job.output, &artifact),
        Emit::Obj { arch, symbol } => {
            let symbol = symbol
                .clone()
                .unwrap_or_else(|| default_symbol(&job.output));
            let object = kiln_format::writer::write_artifact_object(&artifact, *arch, &symbol)
                .with_context(|| job.output.display().to_string())?;
            write_atomically(&job.output, &object)
        }
    }
}

/// Removes the output of a module that failed, if an earlier build left one.
fn remove_stale(output: &Path) {
    // Nothing to do when there is none; any other failure shows at the next build's write.
    let _ = std::fs::remove_file(output);
}

/// An error and its causes on one line, as build tools show one line per failure: compiler and
/// text-format messages can span several (a source excerpt under a `-->` location).
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes `jobs` as Make rules `OUTPUT: INPUT`, atomically.
fn write_depfile(path: &Path, jobs: &[Job]) -> Result<()> {
    let mut text = String::new();
    for job in jobs {
        text.push_str(&make_escape(&job.output)?);
        text.push_str(": ");
        text.push_str(&make_escape(&job.input)?);
        text.push('\n');
    }
    write_atomically(path, text.as_bytes())
        .with_context(|| format!("cannot write depfile {}", path.display()))
}

/// `path` as Make (and Ninja, which reads the same depfiles) reads it back: spaces, tabs and `#`
/// backslash-escaped, `$` doubled. A newline cannot be written in a rule.
fn make_escape(path: &Path) -> Result<String> {
    let s = path
        .to_str()
        .with_context(|| format!("{}: not UTF-8, cannot go in a depfile", path.display()))?;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' | '\t' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '$' => out.push_str("$$"),
            '\n' | '\r' => {
                anyhow::bail!("{}: a line break cannot go in a depfile", path.display())
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// The progress bar of a batch on a terminal; nothing otherwise (a single `-o` compile, or
/// stderr piped to a log).
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(batch: bool, total: usize) -> Progress {
        if !batch || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed}] {bar:30} {pos}/{len} compiled {wide_msg}",
            )
            .expect("a valid template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Progress(Some(bar))
    }

    fn done(&self, input: &Path) {
        if let Some(bar) = &self.0 {
            let name = input.file_name().unwrap_or(input.as_os_str());
            bar.set_message(name.to_string_lossy().into_owned());
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Writes through a temporary file and a rename, so that a loader never maps a half-written
/// artifact and a mapped one is never modified in place. A failed write leaves no file behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("artifact"),
        std::process::id()
    ));
    // Errors name the output the user asked for, not the temporary file.
    let written = std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write {}", path.display()));
    if written.is_err() {
        // A full disk must not leave a partial temporary file behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
