//! `kiln run`.

use super::compile::read_module;
use anyhow::{bail, Context, Result};
use kiln_loader::{Artifact, CallError, Imports, Instance, Store, Val, ValType};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `kiln run`.
#[derive(clap::Args)]
pub struct Args {
    /// An artifact (.kiln) or a WebAssembly module (.wasm/.wat, compiled in memory first).
    file: PathBuf,
    /// The exported function to call (default: `_start`).
    #[arg(long)]
    invoke: Option<String>,
    /// Arguments of the function, parsed by its parameter types.
    args: Vec<String>,
}

/// Maps `path` if it is an artifact; otherwise compiles it into a temporary artifact first.
pub fn load(path: &Path) -> Result<Artifact> {
    let head = std::fs::read(path)
        .map(|b| b.get(..4).map(<[u8]>::to_vec).unwrap_or_default())
        .with_context(|| format!("cannot read {}", path.display()))?;
    if head == b"\x7fELF" {
        return Ok(Artifact::open(path)?);
    }
    let wasm = read_module(path)?;
    let bytes = kiln_compiler::compile(&wasm, &Default::default())
        .with_context(|| format!("{}: compilation failed", path.display()))?;
    let tmp = std::env::temp_dir().join(format!("kiln-run-{}.kiln", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    let artifact = Artifact::open(&tmp);
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

/// Runs `kiln run`.
pub fn run(args: Args) -> Result<ExitCode> {
    let artifact = load(&args.file)?;
    let mut store = Store::new();
    let instance = Instance::new(&mut store, &artifact, &Imports::new())
        .with_context(|| format!("{}: instantiation failed", args.file.display()))?;
    let name = args.invoke.as_deref().unwrap_or("_start");
    let func = instance
        .get_func(name)
        .with_context(|| format!("{}: no exported function `{name}`", args.file.display()))?;
    let ty = func.ty();
    if ty.params.len() != args.args.len() {
        bail!(
            "`{name}` takes {} arguments, {} given",
            ty.params.len(),
            args.args.len()
        );
    }
    let vals = args
        .args
        .iter()
        .zip(&ty.params)
        .map(|(s, t)| parse_arg(s, *t).with_context(|| format!("bad {t} argument `{s}`")))
        .collect::<Result<Vec<_>>>()?;
    match func.call(&mut store, &vals) {
        Ok(results) => {
            for r in &results {
                println!("{}", format_val(r));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(CallError::Trap(trap)) => {
            eprintln!("error: {}: {trap}", args.file.display());
            Ok(ExitCode::from(134))
        }
        Err(e) => Err(e.into()),
    }
}
