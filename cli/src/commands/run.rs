//! `kiln run`: runs a WASI program's `_start` (or any export with `--invoke`), with the WASI
//! preview-1 functions defined.

use super::compile::read_module;
use anyhow::{bail, Context, Result};
use kiln_format::tables::extern_kind;
use kiln_loader::{
    Artifact, CallError, Extern, Func, FuncType, HostError, Imports, Instance, LoadOptions, Store,
    Val, ValType,
};
use kiln_wasi::WasiCtx;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
fn load_options() -> LoadOptions {
    LoadOptions {
        check_now: true,
        verify_checksum: true,
        register_unwind_info: true,
    }
}

/// Maps `path` if it is an artifact; otherwise compiles it into a temporary artifact first.
pub fn load(path: &Path) -> Result<Artifact> {
    let head = std::fs::read(path)
        .map(|b| b.get(..4).map(<[u8]>::to_vec).unwrap_or_default())
        .with_context(|| format!("cannot read {}", path.display()))?;
    if head == b"\x7fELF" {
        return Ok(Artifact::open_with(path, &load_options())?);
    }
    let wasm = read_module(path)?;
    let bytes = kiln_compiler::compile(&wasm, &Default::default())
        .with_context(|| format!("{}: compilation failed", path.display()))?;
    let tmp = std::env::temp_dir().join(format!("kiln-run-{}.kiln", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    let artifact = Artifact::open_with(&tmp, &load_options());
    // The mapping keeps the data; the name is no longer needed.
    let _ = std::fs::remove_file(&tmp);
    Ok(artifact?)
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
        Val::FuncRef(None) | Val::ExternRef(None) => "null".into(),
        Val::FuncRef(Some(_)) => "funcref".into(),
        Val::ExternRef(Some(n)) => format!("externref({n})"),
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

/// Defines the function imports of `artifact` that `imports` lacks: returning zeros, or trapping.
fn define_unknown_imports(
    store: &mut Store,
    imports: &mut Imports,
    artifact: &Artifact,
    trap: bool,
) -> Result<()> {
    let view = artifact.view()?;
    for imp in view.imports() {
        if imp.kind != extern_kind::FUNC {
            continue;
        }
        let module = view.str_lossy(imp.module).into_owned();
        let name = view.str_lossy(imp.name).into_owned();
        if imports.get(&module, &name).is_some() {
            continue;
        }
        let (params, results) = view.signature(imp.type_index.get())?;
        let decode = |codes: &[u8]| -> Result<Vec<ValType>> {
            codes
                .iter()
                .map(|c| ValType::from_code(*c).context("unknown value type in an import"))
                .collect()
        };
        let ty = FuncType::new(decode(params)?, decode(results)?);
        let func = if trap {
            let what = format!("unknown import `{module}::{name}` was called");
            Func::new(store, ty, move |_, _| Err(HostError::new(what.clone())))
        } else {
            let zeros: Vec<Val> = ty.results.iter().map(|t| Val::default_for(*t)).collect();
            Func::new(store, ty, move |_, _| Ok(zeros.clone()))
        };
        imports.define(&module, &name, Extern::Func(func));
    }
    Ok(())
}

/// Runs `kiln run`.
pub fn run(args: Args) -> Result<ExitCode> {
    let artifact = load(&args.file)?;
    let mut store = Store::new();
    let mut imports = Imports::new();
    kiln_wasi::add_to_imports(&mut store, &mut imports, wasi_ctx(&args)?);
    if args.default_values_unknown_imports || args.trap_unknown_imports {
        define_unknown_imports(
            &mut store,
            &mut imports,
            &artifact,
            args.trap_unknown_imports,
        )?;
    }
    let instance = Instance::new(&mut store, &artifact, &imports)
        .with_context(|| format!("{}: instantiation failed", args.file.display()))?;
    let name = args.invoke.as_deref().unwrap_or("_start");
    let func = instance
        .get_func(name)
        .with_context(|| format!("{}: no exported function `{name}`", args.file.display()))?;
    let ty = func.ty();
    let params: &[String] = if args.invoke.is_some() {
        &args.args
    } else {
        &[]
    };
    if ty.params.len() != params.len() {
        bail!(
            "`{name}` takes {} arguments, {} given",
            ty.params.len(),
            params.len()
        );
    }
    let vals = params
        .iter()
        .zip(&ty.params)
        .map(|(s, t)| parse_arg(s, *t).with_context(|| format!("bad {t} argument `{s}`")))
        .collect::<Result<Vec<_>>>()?;
    // A WASI reactor is initialized before any of its exports runs.
    let init = instance
        .get_func("_initialize")
        .filter(|f| name != "_initialize" && f.ty() == FuncType::default());
    let outcome = match init {
        Some(init) => init
            .call(&mut store, &[])
            .and_then(|_| func.call(&mut store, &vals)),
        None => func.call(&mut store, &vals),
    };
    match outcome {
        Ok(results) => {
            if args.invoke.is_some() {
                for r in &results {
                    println!("{}", format_val(r));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(CallError::Trap(trap)) => match trap.exit_code {
            // Like a process's exit status, only the low 8 bits reach the parent.
            Some(code) => Ok(ExitCode::from(code as u8)),
            None => {
                eprintln!("error: {}: {trap}", args.file.display());
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
