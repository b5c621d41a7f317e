//! `.eh_frame` for the whole text section: one CIE and one FDE per function and trampoline.
//!
//! Addresses are PC-relative (`DW_EH_PE_pcrel | DW_EH_PE_sdata4`), so the section is valid wherever
//! the artifact is mapped: nothing to relocate. It ends with a zero terminator, so that the loader
//! can register it with one `__register_frame` call.

use crate::error::CompileError;
use cranelift_codegen::gimli::write::{Address, EhFrame, EndianVec, FrameTable, Writer};
use cranelift_codegen::gimli::{self, RunTimeEndian};
use cranelift_codegen::isa::unwind::UnwindInfo;
use cranelift_codegen::isa::TargetIsa;

/// Builds `.eh_frame` for code placed at `text_offset` in the file, the section itself being at
/// `eh_frame_offset`. `code` lists each piece's offset in the text region and its unwind info.
pub fn build_eh_frame<'a>(
    isa: &dyn TargetIsa,
    big_endian: bool,
    text_offset: u64,
    eh_frame_offset: u64,
    code: impl Iterator<Item = (u32, &'a UnwindInfo)>,
) -> Result<Vec<u8>, CompileError> {
    let Some(mut cie) = isa.create_systemv_cie() else {
        return Err(CompileError::Target(
            "this target has no System V unwind tables".into(),
        ));
    };
    cie.fde_address_encoding = gimli::DW_EH_PE_pcrel | gimli::DW_EH_PE_sdata4;
    let mut table = FrameTable::default();
    let cie_id = table.add_cie(cie);
    for (offset, info) in code {
        let UnwindInfo::SystemV(info) = info else {
            return Err(CompileError::Target(
                "unexpected non-System V unwind info".into(),
            ));
        };
        // gimli subtracts the field's offset within the section from a pcrel constant, so pass the
        // target's offset relative to the start of the section.
        let target = (text_offset + u64::from(offset)).wrapping_sub(eh_frame_offset);
        table.add_fde(cie_id, info.to_fde(Address::Constant(target)));
    }
    let endian = if big_endian {
        RunTimeEndian::Big
    } else {
        RunTimeEndian::Little
    };
    let mut eh_frame = EhFrame(EndianVec::new(endian));
    table
        .write_eh_frame(&mut eh_frame)
        .map_err(|e| CompileError::Emit(format!(".eh_frame: {e}")))?;
    eh_frame
        .0
        .write_u32(0)
        .map_err(|e| CompileError::Emit(format!(".eh_frame: {e}")))?;
    Ok(eh_frame.0.into_vec())
}

/// Builds `.eh_frame_hdr` for `eh_frame` (placed at file offset `eh_frame_offset`), to be placed at
/// `hdr_offset`: the binary-search table that debuggers and unwinders use to find a PC's FDE
/// without scanning. Every pointer is relative (`pcrel` to the section pointer, `datarel` in the
/// table), so it too is valid wherever the artifact is mapped.
pub fn build_eh_frame_hdr(
    eh_frame: &[u8],
    eh_frame_offset: u64,
    hdr_offset: u64,
    big_endian: bool,
) -> Result<Vec<u8>, CompileError> {
    let read_u32 = |at: usize| -> Option<u32> {
        let b: [u8; 4] = eh_frame.get(at..at + 4)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let bad = || CompileError::Emit(".eh_frame_hdr: malformed .eh_frame".into());
    // (function address, FDE address), both as file offsets.
    let mut table: Vec<(u64, u64)> = Vec::new();
    let mut at = 0usize;
    loop {
        let len = read_u32(at).ok_or_else(bad)? as usize;
        if len == 0 {
            break;
        }
        let cie_pointer = read_u32(at + 4).ok_or_else(bad)?;
        if cie_pointer != 0 {
            // An FDE: pc_begin is sdata4, relative to its own position.
            let rel = read_u32(at + 8).ok_or_else(bad)? as i32 as i64;
            let field = eh_frame_offset + at as u64 + 8;
            table.push((field.wrapping_add(rel as u64), eh_frame_offset + at as u64));
        }
        at = at.checked_add(4 + len).ok_or_else(bad)?;
    }
    table.sort_unstable();
    let mut out = Vec::with_capacity(12 + 8 * table.len());
    let push = |out: &mut Vec<u8>, v: u32| {
        out.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    out.push(1); // version
    out.push((gimli::DW_EH_PE_pcrel | gimli::DW_EH_PE_sdata4).0);
    out.push(gimli::DW_EH_PE_udata4.0);
    out.push((gimli::DW_EH_PE_datarel | gimli::DW_EH_PE_sdata4).0);
    let rel32 = |target: u64, base: u64| -> Result<u32, CompileError> {
        i32::try_from(target as i64 - base as i64)
            .map(|v| v as u32)
            .map_err(|_| CompileError::Emit(".eh_frame_hdr: offset beyond 2 GiB".into()))
    };
    push(&mut out, rel32(eh_frame_offset, hdr_offset + 4)?);
    push(&mut out, table.len() as u32);
    for (pc, fde) in table {
        push(&mut out, rel32(pc, hdr_offset)?);
        push(&mut out, rel32(fde, hdr_offset)?);
    }
    Ok(out)
}
