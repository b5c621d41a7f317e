//! `kiln run`: runs a WASI program's `_start` (or any export with `--invoke`), with the WASI
//! preview-1 functions defined.

use super::compile::read_module;
use anyhow::{bail, Context, Result};
use kiln_compiler::cache::{Cache, Lookup};
use kiln_compiler::CompileOptions;
use kiln_loader::{
    Artifact, Engine, Error, FuncType, Linker, LoadError, LoadOptions, Store, StoreLimits,
    StoreLimitsBuilder, Val, ValType,
};
use kiln_wasi::{I32Exit, WasiCtx};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The exit status of `kiln run` when the program traps.
const TRAP_STATUS: u8 = 134;

/// Options of `kiln run`.
#[derive(clap::Args)]
pub struct Args {
    /// An artifact (.kiln) or a WebAssembly module (.wasm/.wat, compiled in memory first).
    file: PathBuf,
    /// The exported function to call instead of `_start`; the arguments are then its parameters,
    /// parsed by their types, and its results are printed.
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    /// Give the program access to the host directory HOST, which it sees as GUEST (default:
    /// HOST as written). Repeatable.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Set an environment variable of the program; NAME alone passes the host's value.
    /// Repeatable.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    envs: Vec<String>,
    /// Define every function import nothing provides as a function returning zeros.
    #[arg(long, conflicts_with = "trap_unknown_imports")]
    default_values_unknown_imports: bool,
    /// Define every function import nothing provides as a function that traps when called.
    #[arg(long)]
    trap_unknown_imports: bool,
    /// Run with this much fuel: each operator costs 1, and the program traps when it runs out.
    /// A `.wasm` is compiled with fuel metering; a `.kiln` must have been (`kiln compile --fuel`).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Interrupt the program after this long (e.g. `500ms`, `2s`, `1m`). A `.wasm` is compiled
    /// with epoch interruption; a `.kiln` must have been (`kiln compile --epoch-interruption`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    /// The largest size in bytes each linear memory may grow to.
    #[arg(long, value_name = "BYTES")]
    max_memory_size: Option<usize>,
    /// The largest number of elements each table may grow to.
    #[arg(long, value_name = "N")]
    max_table_elements: Option<usize>,
    /// Run only an artifact signed (`kiln sign`) by this public key (PEM, as `kiln keygen`
    /// writes), and refuse any other before its code runs. Repeatable: any of the keys will do.
    #[arg(long = "trusted-key", value_name = "PUB")]
    trusted_keys: Vec<PathBuf>,
    #[command(flatten)]
    features: super::compile::FeatureArgs,
    #[command(flatten)]
    cache: super::cache::CacheArgs,
    /// The program's arguments (its name, the file's name, comes first), or with --invoke the
    /// function's arguments. Put them after `--` when they start with `-`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    args: Vec<String>,
}

/// How `kiln run` loads: it validates at once and verifies the checksum (a command-line run can
/// afford reading the file once), and registers unwind tables when the artifact has them, for
/// debuggers and profilers.
pub(crate) fn load_options() -> LoadOptions {
    LoadOptions {
        check_now: true,
        verify_checksum: true,
        register_unwind_info: true,
        trusted_keys: Vec::new(),
    }
}

/// Maps `path` if it is an artifact; otherwise compiles it with `options` in memory (no cache).
pub fn load(path: &Path, options: &CompileOptions) -> Result<Artifact> {
    load_cached(path, options, None)
}

/// Maps `path` if it is an artifact; otherwise takes the module's artifact from `cache` (compiled
/// with `options` and written there first if it has none, or a damaged one), or compiles it in
/// memory without a cache. A cache that cannot be written costs a one-line warning, not the run.
pub fn load_cached(
    path: &Path,
    options: &CompileOptions,
    cache: Option<&Cache>,
) -> Result<Artifact> {
    // Only the magic decides: reading the whole file here cost about 2 ms of a 3.5 MB
    // artifact's run.
    let mut head = Vec::with_capacity(4);
    std::fs::File::open(path)
        .and_then(|f| f.take(4).read_to_end(&mut head))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if head == b"\x7fELF" {
        return Ok(Artifact::open_with(path, &load_options())?);
    }
    let wasm = read_module(path)?;
    let compile = || {
        kiln_compiler::compile(&wasm, options)
            .with_context(|| format!("{}: compilation failed", path.display()))
    };
    let Some(cache) = cache else {
        return load_in_memory(&compile()?);
    };
    let key = cache
        .key(&wasm, options)
        .with_context(|| format!("{}: compilation failed", path.display()))?;
    // The entry's whole-file checksum is verified by the load: damage is never run.
    let open = |entry: &Path| {
        // The reason without the path, which the warning names once.
        Artifact::open_with(entry, &load_options()).map_err(|e| match e {
            LoadError::Io { error, .. } => error.to_string(),
            LoadError::Format { error, .. } => error.to_string(),
            LoadError::Signature { error, .. } => error.to_string(),
        })
    };
    match cache.lookup(&key, open) {
        Lookup::Hit(artifact) => return Ok(artifact),
        Lookup::Miss => {}
        Lookup::Unusable {
            path: entry,
            reason,
        } => eprintln!(
            "warning: {}: unusable cache entry, compiling again: {reason}",
            entry.display()
        ),
    }
    let bytes = compile()?;
    match cache.insert(&key, &bytes) {
        // Removed again by a `kiln cache clean` in between: the bytes are still here.
        Ok(entry) => {
            Artifact::open_with(&entry, &load_options()).or_else(|_| load_in_memory(&bytes))
        }
        Err(e) => {
            eprintln!("warning: compile cache not written ({e}); compiled in memory");
            load_in_memory(&bytes)
        }
    }
}

/// Loads compiled `bytes` (sealed in memory by the loader; no file is written).
fn load_in_memory(bytes: &[u8]) -> Result<Artifact> {
    // One anonymous mapping, no file: a full disk or an unwritable temporary directory does not
    // keep a module that compiled from running.
    Ok(Artifact::from_bytes_with(bytes, &load_options())?)
}

fn parse_arg(s: &str, ty: ValType) -> Result<Val> {
    let int = |s: &str| -> Result<i128> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s),
        };
        let v = match digits.strip_prefix("0x") {
            Some(hex) => i128::from_str_radix(hex, 16)?,
            None => digits.parse::<i128>()?,
        };
        Ok(if neg { -v } else { v })
    };
    Ok(match ty {
        ValType::I32 => Val::I32(int(s)? as i32),
        ValType::I64 => Val::I64(int(s)? as i64),
        ValType::F32 => Val::F32(s.parse::<f32>()?.to_bits()),
        ValType::F64 => Val::F64(s.parse::<f64>()?.to_bits()),
        other => bail!("cannot pass a {other} argument from the command line"),
    })
}

/// Formats a result for printing.
pub fn format_val(v: &Val) -> String {
    match v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(b) => f32::from_bits(*b).to_string(),
        Val::F64(b) => f64::from_bits(*b).to_string(),
        Val::V128(x) => format!("0x{x:032x}"),
        Val::FuncRef(None) | Val::ExternRef(None) | Val::AnyRef(None) | Val::ExnRef(None) => {
            "null".into()
        }
        Val::AnyRef(Some(never)) => match *never {},
        Val::FuncRef(Some(_)) => "funcref".into(),
        Val::ExternRef(Some(_)) => "externref".into(),
        Val::ExnRef(Some(_)) => "exnref".into(),
    }
}

/// The WASI context: `argv[0]` is the file's name without its directories, as in Wasmtime.
fn wasi_ctx(args: &Args) -> Result<WasiCtx> {
    let argv0 = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| args.file.display().to_string());
    let mut builder = WasiCtx::builder().arg(argv0).inherit_stdio();
    if args.invoke.is_none() {
        builder = builder.args(args.args.iter().cloned());
    }
    for e in &args.envs {
        builder = match e.split_once('=') {
            Some((k, v)) => builder.env(k, v),
            None => match std::env::var(e) {
                Ok(v) => builder.env(e, v),
                Err(_) => builder,
            },
        };
    }
    for d in &args.dirs {
        let (host, guest) = d.split_once("::").unwrap_or((d, d));
        if host.is_empty() || guest.is_empty() {
            bail!("--dir {d}: expected HOST or HOST::GUEST");
        }
        builder = builder.preopen_dir(host, guest);
    }
    Ok(builder.build()?)
}

/// What a `kiln run` store holds for its host functions.
struct RunHost {
    wasi: WasiCtx,
    limits: StoreLimits,
}

/// Runs `kiln run`.
pub fn run(args: Args) -> Result<ExitCode> {
    let options = CompileOptions {
        fuel: args.fuel.is_some(),
        epoch_interruption: args.timeout.is_some(),
        features: args.features.features()?,
        ..CompileOptions::default()
    };
    let trusted = super::sign::read_trusted_keys(&args.trusted_keys)?;
    let artifact = if trusted.is_empty() {
        load_cached(&args.file, &options, args.cache.cache().as_ref())?
    } else {
        super::sign::load_trusted(&args.file, trusted)?
    };
    let file = args.file.display();
    let mut linker = Linker::<RunHost>::new();
    kiln_wasi::add_to_linker(&mut linker, |host: &mut RunHost| &mut host.wasi)?;
    if args.trap_unknown_imports {
        linker.define_unknown_imports_as_traps(&artifact)?;
    } else if args.default_values_unknown_imports {
        linker.define_unknown_imports_as_default_values(&artifact)?;
    }
    let mut limits = StoreLimitsBuilder::new();
    if let Some(bytes) = args.max_memory_size {
        limits = limits.memory_size(bytes);
    }
    if let Some(n) = args.max_table_elements {
        limits = limits.table_elements(n);
    }
    let engine = Engine::new();
    let host = RunHost {
        wasi: wasi_ctx(&args)?,
        limits: limits.build(),
    };
    let mut store = Store::with_engine(&engine, host);
    store.limiter(|host| &mut host.limits);
    match args.fuel {
        Some(fuel) => store
            .set_fuel(fuel)
            .with_context(|| format!("{file}: --fuel"))?,
        // An artifact compiled with fuel runs unmetered unless asked.
        None if artifact.consumes_fuel()? => store.set_fuel(u64::MAX)?,
        None => {}
    }
    match args.timeout {
        Some(timeout) => {
            store
                .set_epoch_deadline(1)
                .with_context(|| format!("{file}: --timeout"))?;
            std::thread::spawn(move || {
                std::thread::sleep(timeout);
                engine.increment_epoch();
            });
        }
        None if artifact.epoch_interruption()? => store.set_epoch_deadline(u64::MAX)?,
        None => {}
    }
    let instance = linker
        .instantiate(&mut store, &artifact)
        .with_context(|| format!("{file}: instantiation failed"))?;
    let name = args.invoke.as_deref().unwrap_or("_start");
    let func = instance
        .get_func(&mut store, name)
        .with_context(|| format!("{file}: no exported function `{name}`"))?;
    let ty = func.ty(&store);
    let params: &[String] = if args.invoke.is_some() {
        &args.args
    } else {
        &[]
    };
    if ty.params().len() != params.len() {
        bail!(
            "`{name}` takes {} arguments, {} given",
            ty.params().len(),
            params.len()
        );
    }
    let vals = params
        .iter()
        .zip(ty.params())
        .map(|(s, t)| parse_arg(s, *t).with_context(|| format!("bad {t} argument `{s}`")))
        .collect::<Result<Vec<_>>>()?;
    // A WASI reactor is initialized before any of its exports runs.
    let init = instance
        .get_func(&mut store, "_initialize")
        .filter(|f| name != "_initialize" && f.ty(&store) == FuncType::default());
    let mut results = vec![Val::I32(0); ty.results().len()];
    let outcome = match init {
        Some(init) => init
            .call(&mut store, &[], &mut [])
            .and_then(|()| func.call(&mut store, &vals, &mut results)),
        None => func.call(&mut store, &vals, &mut results),
    };
    match outcome {
        Ok(()) => {
            if args.invoke.is_some() {
                for r in &results {
                    println!("{}", format_val(r));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::Trap(trap)) => match trap.downcast_ref::<I32Exit>() {
            // Like a process's exit status, only the low 8 bits reach the parent.
            Some(exit) => Ok(ExitCode::from(exit.0 as u8)),
            None => {
                // The trap's message, then why (a host function's error and its causes).
                let mut message = trap.to_string();
                let mut cause = std::error::Error::source(&trap);
                while let Some(c) = cause {
                    message.push_str(&format!(": {c}"));
                    cause = c.source();
                }
                eprintln!("error: {file}: {message}");
                if !trap.backtrace.is_empty() {
                    eprintln!("wasm backtrace:");
                    for (i, frame) in trap.backtrace.iter().enumerate() {
                        eprintln!("  {i:>3}: {frame}");
                    }
                }
                Ok(ExitCode::from(TRAP_STATUS))
            }
        },
        Err(e) => Err(e.into()),
    }
}
