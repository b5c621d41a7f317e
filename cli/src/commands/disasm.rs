//! `kiln disasm`: the machine code of an artifact, per function, with trap sites and wasm offsets.

use anyhow::{anyhow, Context, Result};
use capstone::arch::{self, BuildsCapstone, BuildsCapstoneExtraMode};
use capstone::Capstone;
use kiln_format::EntityIndex;
use kiln_format::{Arch, ArtifactView, TrapKind};
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

fn disassembler(arch: Arch) -> Result<Capstone> {
    let cs = match arch {
        Arch::X86_64 => Capstone::new()
            .x86()
            .mode(arch::x86::ArchMode::Mode64)
            .build(),
        Arch::Aarch64 => Capstone::new()
            .arm64()
            .mode(arch::arm64::ArchMode::Arm)
            .build(),
        Arch::Riscv64 => Capstone::new()
            .riscv()
            .mode(arch::riscv::ArchMode::RiscV64)
            .extra_mode([arch::riscv::ArchExtraMode::RiscVC].into_iter())
            .build(),
        Arch::S390x => Capstone::new()
            .sysz()
            .mode(arch::sysz::ArchMode::Default)
            .build(),
    };
    cs.map_err(|e| anyhow!("disassembler for {}: {e}", arch.name()))
}

/// Disassembles the functions of `view` that `filter` selects, with trap and wasm-offset notes.
pub fn disassemble(view: &ArtifactView<'_>, filter: Option<&str>) -> Result<String> {
    let cs = disassembler(view.arch())?;
    let text = &view.bytes()[view.text_range()];
    let text_addr = view.header().text.offset.get();
    let imported = view.module().imported_funcs.get();
    let mut out = String::new();
    for (i, f) in view.functions().iter().enumerate() {
        let index = EntityIndex::of_defined(i as u32, imported).unwrap_or(u32::MAX);
        let name = view.func_name(index);
        if filter.is_some_and(|w| w != name && w != index.to_string()) {
            continue;
        }
        let start = f.code_offset.get() as usize;
        let code = text
            .get(start..start + f.code_len.get() as usize)
            .ok_or_else(|| anyhow!("function {index} lies outside the text"))?;
        writeln!(
            out,
            "\n{:016x} <{name}> (function {index}):",
            text_addr + start as u64
        )?;
        let insns = cs
            .disasm_all(code, text_addr + start as u64)
            .map_err(|e| anyhow!("disassembling {name}: {e}"))?;
        let mut last_wasm = None;
        for insn in insns.iter() {
            let offset = (insn.address() - text_addr) as u32;
            let wasm = view.wasm_offset_at(offset);
            let mut note = String::new();
            if wasm != last_wasm {
                if let Some(w) = wasm {
                    write!(note, "  ; wasm 0x{w:x}")?;
                }
                last_wasm = wasm;
            }
            if let Some(kind) = view.trap_at(offset).and_then(TrapKind::from_code) {
                write!(note, "  ; trap: {kind}")?;
            }
            writeln!(
                out,
                "  {:8x}:  {:<8} {}{}",
                insn.address(),
                insn.mnemonic().unwrap_or("?"),
                insn.op_str().unwrap_or(""),
                note
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
