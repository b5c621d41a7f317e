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
