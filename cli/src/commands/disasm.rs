//! `kiln disasm`: the machine code of an artifact, per function, with trap sites and wasm offsets.

use super::machine_code::functions;
use anyhow::{Context, Result};
use kiln_format::ArtifactView;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `kiln disasm`.
#[derive(clap::Args)]
pub struct Args {
    /// The artifact (any target).
    file: PathBuf,
    /// Only functions whose name or index matches.
    #[arg(long)]
    function: Option<String>,
}

/// Disassembles the functions of `view` that `filter` selects, with trap and wasm-offset notes.
pub fn disassemble(view: &ArtifactView<'_>, filter: Option<&str>) -> Result<String> {
    let mut out = String::new();
    for f in functions(view, filter)? {
        writeln!(
            out,
            "\n{:016x} <{}> (function {}):",
            f.address, f.name, f.index
        )?;
        let mut last_wasm = None;
        for insn in &f.instructions {
            let mut note = String::new();
            if insn.wasm != last_wasm {
                if let Some(w) = insn.wasm {
                    write!(note, "  ; wasm 0x{w:x}")?;
                }
                last_wasm = insn.wasm;
            }
            if let Some(kind) = insn.trap {
                write!(note, "  ; trap: {kind}")?;
            }
            writeln!(
                out,
                "  {:8x}:  {:<8} {}{}",
                insn.address, insn.mnemonic, insn.operands, note
            )?;
        }
    }
    Ok(out)
}

/// Runs `kiln disasm`.
pub fn run(args: Args) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let view = ArtifactView::parse(&bytes).with_context(|| args.file.display().to_string())?;
    let listing = disassemble(&view, args.function.as_deref())?;
    // A module without functions has nothing to show; that is not an error. Asking for a
    // function that is not there is.
    if listing.is_empty() && args.function.is_some() {
        anyhow::bail!("{}: no function matches", args.file.display());
    }
    print!("{listing}");
    Ok(ExitCode::SUCCESS)
}
