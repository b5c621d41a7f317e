//! `kiln compile`.

use anyhow::{Context, Result};
use kiln_compiler::{CompileOptions, OptLevel, WasmFeatures};
use kiln_format::Arch;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `kiln compile`.
#[derive(clap::Args)]
pub struct Args {
    /// Input module: a .wasm binary or .wat text.
    input: PathBuf,
    /// Output artifact.
    #[arg(short, long)]
    output: PathBuf,
    /// Target: x86_64, aarch64, riscv64gc or s390x (a full Linux triple also works). Default:
    /// this machine, with all its CPU features.
    #[arg(long)]
    target: Option<String>,
    /// Optimization level.
    #[arg(short = 'O', long = "opt-level", default_value = "speed", value_parser = ["none", "speed", "size"])]
    opt_level: String,
    /// Compile threads (default: all cores). The artifact does not depend on it.
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// Emit unwind tables (.eh_frame).
    #[arg(long)]
    unwind_info: bool,
    /// Drop function names and the address map.
    #[arg(long)]
    strip: bool,
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

/// Runs `kiln compile`.
pub fn run(args: Args) -> Result<ExitCode> {
    let options = CompileOptions {
        target: args.target.as_deref().map(parse_target).transpose()?,
        opt_level: match args.opt_level.as_str() {
            "none" => OptLevel::None,
            "size" => OptLevel::Size,
            _ => OptLevel::Speed,
        },
        threads: args.jobs,
        unwind_info: args.unwind_info,
        strip: args.strip,
        fuel: args.fuel,
        epoch_interruption: args.epoch_interruption,
        explicit_bounds_checks: args.explicit_bounds_checks,
        features: args.features.features()?,
    };
    let wasm = read_module(&args.input)?;
    let artifact = kiln_compiler::compile(&wasm, &options)
        .with_context(|| format!("{}: compilation failed", args.input.display()))?;
    if args.emit == "obj" {
        let arch = match options.target {
            Some(arch) => arch,
            None => Arch::host().context("this machine's architecture is not a Kiln target")?,
        };
        let symbol = args.symbol.unwrap_or_else(|| default_symbol(&args.output));
        let object = kiln_format::writer::write_artifact_object(&artifact, arch, &symbol)?;
        write_atomically(&args.output, &object)?;
    } else {
        if args.symbol.is_some() {
            anyhow::bail!("--symbol names the symbol of `--emit obj`");
        }
        write_atomically(&args.output, &artifact)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes through a temporary file and a rename, so that a loader never maps a half-written
/// artifact and a mapped one is never modified in place.
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
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
