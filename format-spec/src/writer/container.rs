//! The ELF container: where each region goes in the file (SPEC.md §1), the program and section
//! headers that describe them to tools, the symbol table, and the Kiln header with its checksum.

use crate::header::{
    seal, ArtifactHeader, CodeSettings, FileRange, Regions, FLAG_UNWIND_INFO, HEADER_OFFSET,
};
use crate::target::Arch;
use object::elf;
use object::write::elf::{FileHeader, ProgramHeader, SectionHeader, Sym, Writer};
use object::Endianness;
use zerocopy::IntoBytes;

/// A symbol of the ELF symbol table: a function or trampoline in `.text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// The name (no NUL byte).
    pub name: Vec<u8>,
    /// Offset in the text region.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// The contents of an artifact, region by region.
pub struct ArtifactParts<'a> {
    /// What the header records about the code.
    pub settings: CodeSettings,
    /// The metadata region.
    pub meta: &'a [u8],
    /// The code.
    pub text: &'a [u8],
    /// `.eh_frame`, built for [`Placement::eh_frame`]; empty without unwind tables.
    pub eh_frame: &'a [u8],
    /// `.eh_frame_hdr`, built for [`Placement::eh_frame_hdr`]; empty without unwind tables.
    pub eh_frame_hdr: &'a [u8],
    /// The data region.
    pub data: &'a [u8],
    /// The symbol table's entries.
    pub symbols: &'a [Symbol],
}

/// File offsets that code-dependent regions need before they can be built: unwind tables encode
/// addresses relative to their own place and to the code's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Offset of `.text`.
    pub text: u64,
    /// Offset of `.eh_frame`.
    pub eh_frame: u64,
}

impl Placement {
    /// Where `.text` and `.eh_frame` go in an artifact for `arch` with a metadata region of
    /// `meta_len` bytes and `text_len` bytes of code.
    pub fn new(arch: Arch, meta_len: usize, text_len: usize, unwind_info: bool) -> Placement {
        let mut out = Vec::new();
        let mut w = Writer::new(endianness(arch), true, &mut out);
        let offsets = reserve_code(&mut w, arch, meta_len, text_len, unwind_info);
        Placement {
            text: offsets.text,
            eh_frame: offsets.eh_frame,
        }
    }

    /// Offset of `.eh_frame_hdr` after an `.eh_frame` of `eh_frame_len` bytes.
    pub fn eh_frame_hdr(&self, eh_frame_len: usize) -> u64 {
        (self.eh_frame + eh_frame_len as u64).next_multiple_of(4)
    }
}

fn endianness(arch: Arch) -> Endianness {
    if arch.big_endian() {
        Endianness::Big
    } else {
        Endianness::Little
    }
}

/// Program headers: three `PT_LOAD`s and one for `.eh_frame`, plus `PT_GNU_EH_FRAME` with
/// unwind tables.
fn program_header_count(unwind_info: bool) -> u32 {
    if unwind_info {
        5
    } else {
        4
    }
}

/// File offsets of the regions before `.eh_frame`.
struct CodeOffsets {
    meta: u64,
    text: u64,
    /// Where `.eh_frame` goes if it is not empty.
    eh_frame: u64,
}

/// Reserves everything up to `.eh_frame` (the file header, the Kiln header, the program headers,
/// the metadata and the code), in file order.
fn reserve_code(
    w: &mut Writer<'_>,
    arch: Arch,
    meta_len: usize,
    text_len: usize,
    unwind_info: bool,
) -> CodeOffsets {
    w.reserve_file_header();
    let header = w.reserve(ArtifactHeader::SIZE as u64, 8);
    debug_assert_eq!(header, HEADER_OFFSET);
    w.reserve_program_headers(program_header_count(unwind_info));
    let meta = w.reserve(meta_len as u64, 8);
    let text = w.reserve(text_len as u64, arch.region_align());
    let eh_frame = (text + text_len as u64).next_multiple_of(8);
    CodeOffsets {
        meta,
        text,
        eh_frame,
    }
}

/// Why an artifact could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the ELF container: {0}")]
pub struct WriteError(pub(crate) String);

/// Writes a whole artifact: ELF header, Kiln header (with its checksum), program headers, the
/// regions in file order, the symbol table and the section headers.
pub fn write_artifact(parts: &ArtifactParts<'_>) -> Result<Vec<u8>, WriteError> {
    let settings = &parts.settings;
    let arch = settings.arch;
    let align = arch.region_align();
    let unwind_info = settings.flags & FLAG_UNWIND_INFO != 0;
    let (meta, text, data, syms) = (parts.meta, parts.text, parts.data, parts.symbols);
    let (eh_frame, eh_hdr) = (parts.eh_frame, parts.eh_frame_hdr);
    let mut out = Vec::new();
    let mut w = Writer::new(endianness(arch), true, &mut out);
    let err = |e: object::write::Error| WriteError(e.to_string());

    // Reserve: the order here is the order in the file.
    let code = reserve_code(&mut w, arch, meta.len(), text.len(), unwind_info);
    let (meta_off, text_off) = (code.meta, code.text);
    let directory_end = meta_off as usize + size_of::<crate::tables::MetaDirectory>();
    if directory_end > crate::reader::PREFIX_LEN {
        return Err(WriteError(format!(
            "the metadata directory would end at byte {directory_end}, past the first {} bytes \
             that loaders validate from",
            crate::reader::PREFIX_LEN
        )));
    }
    let eh_off = w.reserve(eh_frame.len() as u64, 8);
    debug_assert!(eh_frame.is_empty() || eh_off == code.eh_frame);
    let eh_hdr_off = w.reserve(eh_hdr.len() as u64, 4);
    let data_off = w.reserve(data.len() as u64, align);
    // A zero-length data region still gets a well-defined, aligned offset.
    let data_off = if data.is_empty() {
        data_off.next_multiple_of(align)
    } else {
        data_off
    };

    w.reserve_null_section_index();
    let names = [
        w.add_section_name(b".kiln.header"),
        w.add_section_name(b".kiln.meta"),
        w.add_section_name(b".text"),
        w.add_section_name(b".kiln.data"),
        w.add_section_name(b".eh_frame"),
        w.add_section_name(b".eh_frame_hdr"),
    ];
    // .kiln.header, .kiln.meta, .text, .kiln.data, .eh_frame, .eh_frame_hdr, in that order.
    let indices: Vec<_> = (0..names.len())
        .map(|_| w.reserve_section_index())
        .collect();
    let text_idx = indices[2];
    w.reserve_null_symbol_index();
    let sym_names: Vec<_> = syms.iter().map(|s| w.add_string(&s.name)).collect();
    for _ in syms {
        w.reserve_symbol_index(Some(text_idx));
    }
    w.reserve_symtab_section_index();
    w.reserve_strtab_section_index();
    w.reserve_shstrtab_section_index();
    w.reserve_symtab();
    w.reserve_strtab().map_err(err)?;
    w.reserve_shstrtab().map_err(err)?;
    w.reserve_section_headers();

    // Write.
    let e_flags = match arch {
        // RVC and the double-float ABI, as riscv64gc objects declare.
        Arch::Riscv64 => 0x5,
        _ => 0,
    };
    w.write_file_header(&FileHeader {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_type: elf::ET_DYN,
        e_machine: elf::Machine(arch.elf_machine()),
        e_entry: 0,
        e_flags: elf::FileFlags(e_flags),
    })
    .map_err(err)?;
    let header_pos = w.offset();
    w.write(&[0u8; ArtifactHeader::SIZE]);
    w.write_align_program_headers();
    let load = |flags: elf::ProgramFlags, off: u64, size: u64| ProgramHeader {
        p_type: elf::PT_LOAD,
        p_flags: flags,
        p_offset: off,
        p_vaddr: off,
        p_paddr: off,
        p_filesz: size,
        p_memsz: size,
        p_align: align,
    };
    w.write_program_header(&load(elf::PF_R, 0, meta_off + meta.len() as u64));
    w.write_program_header(&load(elf::PF_R | elf::PF_X, text_off, text.len() as u64));
    w.write_program_header(&load(elf::PF_R, data_off, data.len() as u64));
    w.write_program_header(&load(elf::PF_R, eh_off, eh_frame.len() as u64));
    if unwind_info {
        w.write_program_header(&ProgramHeader {
            p_type: elf::PT_GNU_EH_FRAME,
            p_align: 4,
            ..load(elf::PF_R, eh_hdr_off, eh_hdr.len() as u64)
        });
    }
    w.pad_until(meta_off);
    w.write(meta);
    w.pad_until(text_off);
    w.write(text);
    w.pad_until(eh_off);
    w.write(eh_frame);
    w.pad_until(eh_hdr_off);
    w.write(eh_hdr);
    w.pad_until(data_off);
    w.write(data);

    w.write_null_symbol();
    for (s, name) in syms.iter().zip(&sym_names) {
        w.write_symbol(&Sym {
            st_name: w.string_offset(Some(*name)),
            section: Some(text_idx.0),
            st_info: elf::SymbolInfo::new(elf::STB_GLOBAL, elf::STT_FUNC),
            st_other: elf::STV_DEFAULT.into(),
            st_shndx: elf::SymbolSection(0),
            st_value: text_off + u64::from(s.offset),
            st_size: u64::from(s.size),
        });
    }
    w.write_strtab();
    w.write_shstrtab();
    w.write_null_section_header();
    let sections = [
        (
            elf::SHF_ALLOC,
            HEADER_OFFSET,
            ArtifactHeader::SIZE as u64,
            8,
        ),
        (elf::SHF_ALLOC, meta_off, meta.len() as u64, 8),
        (
            elf::SHF_ALLOC | elf::SHF_EXECINSTR,
            text_off,
            text.len() as u64,
            align,
        ),
        (elf::SHF_ALLOC, data_off, data.len() as u64, align),
        (elf::SHF_ALLOC, eh_off, eh_frame.len() as u64, 8),
        (elf::SHF_ALLOC, eh_hdr_off, eh_hdr.len() as u64, 4),
    ];
    for (name, (flags, off, size, a)) in names.into_iter().zip(sections) {
        w.write_section_header(&SectionHeader {
            sh_name: w.section_name_offset(Some(name)),
            sh_type: elf::SHT_PROGBITS,
            sh_flags: flags,
            sh_addr: off,
            sh_offset: off,
            sh_size: size,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: a,
            sh_entsize: 0,
        });
    }
    w.write_symtab_section_header(1);
    w.write_strtab_section_header();
    w.write_shstrtab_section_header();
    drop(w);
    if (out.len() as u64) < data_off {
        out.resize(data_off as usize, 0);
    }

    let range = |offset: u64, len: usize| FileRange::new(offset, len as u64);
    let regions = Regions {
        text: range(text_off, text.len()),
        meta: range(meta_off, meta.len()),
        data: range(data_off, data.len()),
        eh_frame: range(eh_off, eh_frame.len()),
    };
    let header = ArtifactHeader::new(settings, &regions);
    let at = header_pos as usize;
    out[at..at + ArtifactHeader::SIZE].copy_from_slice(header.as_bytes());
    // Last: the checksums cover the header written just above (with their fields as zero).
    seal(&mut out)
        .ok_or_else(|| WriteError("the header written does not describe the file".into()))?;
    Ok(out)
}
