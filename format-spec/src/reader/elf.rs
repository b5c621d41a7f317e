//! The ELF container around a Kiln artifact, as far as the loader relies on it: an ELF64 file
//! header, and section headers that fit in the file (they come last, so a file truncated anywhere
//! after the regions the loader reads is caught by this check alone).

use crate::error::FormatError;
use object::elf::{FileHeader64, ELFMAG};
use object::read::elf::FileHeader;
use object::Endianness;

/// Checks the ELF file header at the start of `bytes`, a prefix of a file of `file_len` bytes.
pub(super) fn check_container(bytes: &[u8], file_len: usize) -> Result<(), FormatError> {
    if bytes.len() < size_of::<FileHeader64<Endianness>>() {
        return Err(FormatError::Truncated("shorter than an ELF header"));
    }
    if bytes[..ELFMAG.len()] != ELFMAG {
        return Err(FormatError::NotElf("no ELF magic"));
    }
    // The container follows the target's byte order (s390x is big-endian); Kiln's own header and
    // tables are little-endian everywhere.
    let not_elf64 = || FormatError::NotElf("not a 64-bit ELF file");
    let header = FileHeader64::<Endianness>::parse(bytes).map_err(|_| not_elf64())?;
    let endian = header.endian().map_err(|_| not_elf64())?;
    let sections_end = u64::from(header.e_shnum(endian))
        .checked_mul(u64::from(header.e_shentsize(endian)))
        .and_then(|n| n.checked_add(header.e_shoff(endian)));
    if sections_end.is_none_or(|end| end > file_len as u64) {
        return Err(FormatError::Truncated(
            "ELF section headers past end of file",
        ));
    }
    Ok(())
}
