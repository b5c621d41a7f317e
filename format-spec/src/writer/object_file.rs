//! A relocatable ELF object that carries a whole artifact, for linking into a host executable
//! (`kiln compile --emit obj`, SPEC.md §9).
//!
//! The artifact goes, unchanged, into one section `.text.kiln_artifact.NAME` (allocated and
//! executable, aligned to the target's region alignment), so that the linker places it in the
//! executable's text segment; the global symbol `NAME` marks its start and `NAME_len` (a
//! little-endian `u64` in `.rodata`) holds its length. The object has no relocations: artifact code
//! is position independent and reaches everything else through the VMContext, so the linker has
//! nothing to patch inside it.

use super::container::WriteError;
use crate::target::Arch;
use object::write::{Object, StandardSection, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope,
};

/// Whether `name` can be a C identifier, and so a symbol both C and Rust hosts can declare.
pub fn valid_symbol(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The object file carrying `artifact` (compiled for `arch`) under symbol `symbol`.
pub fn write_artifact_object(
    artifact: &[u8],
    arch: Arch,
    symbol: &str,
) -> Result<Vec<u8>, WriteError> {
    if !valid_symbol(symbol) {
        return Err(WriteError(format!(
            "`{symbol}` is not a valid symbol name (letters, digits and `_`, not starting with a digit)"
        )));
    }
    let (architecture, endian) = match arch {
        Arch::X86_64 => (Architecture::X86_64, Endianness::Little),
        Arch::Aarch64 => (Architecture::Aarch64, Endianness::Little),
        Arch::Riscv64 => (Architecture::Riscv64, Endianness::Little),
        Arch::S390x => (Architecture::S390x, Endianness::Big),
    };
    let mut obj = Object::new(BinaryFormat::Elf, architecture, endian);
    let name = format!(".text.kiln_artifact.{symbol}").into_bytes();
    // A text section: allocated and executable (`SHF_ALLOC | SHF_EXECINSTR`).
    let section = obj.add_section(Vec::new(), name, SectionKind::Text);
    let offset = obj.append_section_data(section, artifact, arch.region_align());
    debug_assert_eq!(offset, 0);
    obj.add_symbol(Symbol {
        name: symbol.as_bytes().to_vec(),
        value: 0,
        size: artifact.len() as u64,
        kind: SymbolKind::Data,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(section),
        flags: SymbolFlags::None,
    });
    let rodata = obj.section_id(StandardSection::ReadOnlyData);
    let len = artifact.len() as u64;
    let len_bytes = match endian {
        // The host reads it as a native `u64`/`size_t`.
        Endianness::Little => len.to_le_bytes(),
        Endianness::Big => len.to_be_bytes(),
    };
    let at = obj.append_section_data(rodata, &len_bytes, 8);
    obj.add_symbol(Symbol {
        name: format!("{symbol}_len").into_bytes(),
        value: at,
        size: 8,
        kind: SymbolKind::Data,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(rodata),
        flags: SymbolFlags::None,
    });
    obj.write().map_err(|e| WriteError(e.to_string()))
}
