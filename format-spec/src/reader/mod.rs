//! Reading an artifact in place: header checks, region and table bounds, typed table access.
//!
//! [`ArtifactView::parse`] checks everything that later accessors rely on: that the header is a Kiln
//! header of a supported version, that every region lies inside the file, that every table lies
//! inside the metadata region with the entry size this crate expects. Accessors that follow a
//! reference stored in an entry (a string, an expression) check it again on use, so corrupt bytes
//! give a [`FormatError`], never a panic or an out-of-bounds read.

pub(crate) mod code_map;
mod compat;
mod elf;
mod meta;

pub use code_map::{CodeMap, CodeMapEntry};
pub use compat::{check_compatibility, host_triple};
pub use meta::MetaView;

use crate::error::{FormatError, Location};
use crate::header::{
    ArtifactHeader, FileRange, FORMAT_MAJOR, FORMAT_MINOR, HEADERS_END, HEADER_OFFSET, MAGIC,
};
use crate::tables::*;
use crate::target::Arch;
use std::ops::Range;
use zerocopy::FromBytes;

/// Everything validation reads lies in this many first bytes of the file: the ELF and Kiln
/// headers, the program headers and the metadata directory (the writer refuses a layout that
/// would put the directory further, SPEC.md §1), so that a loader can validate from one small read.
pub const PREFIX_LEN: usize = 1024;

/// The shortest file that can be an artifact: an ELF file header, which the Kiln header follows.
pub const MIN_FILE_LEN: usize = HEADER_OFFSET as usize;

/// A checked view of an artifact's bytes. It dereferences to the [`MetaView`] of its metadata
/// region, which has the table accessors.
#[derive(Clone, Copy)]
pub struct ArtifactView<'a> {
    bytes: &'a [u8],
    header: &'a ArtifactHeader,
    meta: MetaView<'a>,
}

impl<'a> std::ops::Deref for ArtifactView<'a> {
    type Target = MetaView<'a>;

    fn deref(&self) -> &MetaView<'a> {
        &self.meta
    }
}

fn header_error(field: &'static str, problem: impl std::fmt::Display) -> FormatError {
    FormatError::corrupt(Location::Header(field), problem)
}

impl<'a> ArtifactView<'a> {
    /// Checks everything the loader relies on before mapping: the ELF identification, that the
    /// section headers fit in a file of `file_len` bytes, the Kiln header (magic, version, region
    /// alignment), that every region lies inside the file, and the table directory (entry sizes,
    /// bounds within the metadata region). `bytes` is the start of the file; the directory must
    /// lie within it (the format puts it in the first 1 KiB).
    pub fn check_prefix(
        bytes: &'a [u8],
        file_len: usize,
    ) -> Result<&'a ArtifactHeader, FormatError> {
        elf::check_container(bytes, file_len)?;
        let rest = &bytes[HEADER_OFFSET as usize..];
        if rest.len() < MAGIC.len() {
            return Err(FormatError::Truncated("no Kiln header"));
        }
        if rest[..MAGIC.len()] != MAGIC {
            return Err(FormatError::BadMagic);
        }
        // The version first, from its fixed place: a header of another version may have another
        // size or layout.
        let at = std::mem::offset_of!(ArtifactHeader, format_major);
        let version = rest
            .get(at..at + 4)
            .ok_or(FormatError::Truncated("Kiln header"))?;
        let major = u16::from_le_bytes([version[0], version[1]]);
        let minor = u16::from_le_bytes([version[2], version[3]]);
        if major != FORMAT_MAJOR || minor > FORMAT_MINOR {
            return Err(FormatError::Version {
                found_major: major,
                found_minor: minor,
            });
        }
        let (header, _) = ArtifactHeader::ref_from_prefix(rest)
            .map_err(|_| FormatError::Truncated("Kiln header"))?;
        // This format version has exactly this header; a field it does not define is refused
        // rather than ignored.
        if header.header_size.get() as usize != ArtifactHeader::SIZE {
            return Err(header_error(
                "header_size",
                format_args!("{} instead of {}", header.header_size, ArtifactHeader::SIZE),
            ));
        }
        if header.reserved0 != 0 {
            return Err(header_error("reserved0", "not zero"));
        }
        if std::str::from_utf8(&header.kiln_version).is_err() {
            return Err(header_error("kiln_version", "not UTF-8"));
        }
        let arch = Arch::from_code(header.arch.get()).ok_or_else(|| {
            header_error(
                "arch",
                format_args!("unknown architecture code {}", header.arch),
            )
        })?;
        if header.triple_str() != arch.triple()
            || header.triple[arch.triple().len()..].iter().any(|&b| b != 0)
        {
            return Err(header_error(
                "triple",
                format_args!(
                    "{:?} is not the triple of {}",
                    header.triple_str(),
                    arch.name()
                ),
            ));
        }
        let align = header.region_align.get() as u64;
        if align != arch.region_align() {
            return Err(header_error(
                "region_align",
                format_args!("{align} is not the alignment of {}", arch.name()),
            ));
        }
        for (what, r) in [
            ("text region past end of file", header.text),
            ("metadata region past end of file", header.meta),
            ("data region past end of file", header.data),
            ("eh_frame past end of file", header.eh_frame),
        ] {
            range_in(file_len, r).ok_or(FormatError::Truncated(what))?;
        }
        for (field, r) in [("text", header.text), ("data", header.data)] {
            if r.offset.get() % align != 0 {
                return Err(header_error(
                    field,
                    format_args!("region offset 0x{:x} is not page-aligned", r.offset),
                ));
            }
        }
        check_regions(header)?;
        // The directory must be readable from the prefix: a loader validates everything it relies on
        // from one small read, without touching the mapping.
        let meta_start = header.meta.offset.get() as usize;
        let dir_len = size_of::<MetaDirectory>();
        let dir_bytes = bytes
            .get(meta_start..)
            .filter(|d| d.len() >= dir_len && header.meta.size.get() >= dir_len as u64)
            .ok_or(FormatError::Truncated("metadata directory"))?;
        MetaView::check_directory(dir_bytes, header.meta.size.get())?;
        Ok(header)
    }

    /// Checks a whole artifact in memory (see [`ArtifactView::check_prefix`] and
    /// [`ArtifactView::check_meta`]) and gives access to its tables.
    pub fn parse(bytes: &'a [u8]) -> Result<ArtifactView<'a>, FormatError> {
        let header = ArtifactView::check_prefix(bytes, bytes.len())?;
        // In range: checked by `check_prefix`.
        let region = |r| range_in(bytes.len(), r).map_or(&[][..], |r| &bytes[r]);
        let meta = ArtifactView::check_meta(&bytes[..HEADERS_END], header, region(header.meta))?;
        Ok(ArtifactView {
            bytes,
            header,
            meta,
        })
    }

    /// Checks the metadata, given the file's first [`HEADERS_END`] bytes, its checked `header`
    /// (from [`ArtifactView::check_prefix`]) and its metadata region: that they match the metadata
    /// checksum, then that every table is well formed.
    pub fn check_meta<'m>(
        headers: &[u8],
        header: &ArtifactHeader,
        meta: &'m [u8],
    ) -> Result<MetaView<'m>, FormatError> {
        // Before any table is read: what steers instantiation and calls is what the compiler
        // wrote.
        if crate::header::meta_checksum_of(headers, meta) != header.meta_checksum.get() {
            return Err(FormatError::MetaChecksum);
        }
        let meta = MetaView::parse(meta)?;
        if header.num_functions.get() as usize != meta.functions().len() {
            return Err(header_error(
                "num_functions",
                format_args!(
                    "{} but the function table has {}",
                    header.num_functions,
                    meta.functions().len()
                ),
            ));
        }
        Ok(meta)
    }

    /// Checks that this machine can run the artifact (see [`check_compatibility`]).
    pub fn check_compatibility(&self) -> Result<(), FormatError> {
        check_compatibility(self.header)
    }

    /// Recomputes the checksum and compares it with the header's.
    pub fn verify_checksum(&self) -> Result<(), FormatError> {
        let body = self
            .bytes
            .get(self.header.checksum_range())
            .ok_or(FormatError::Truncated("checksummed range"))?;
        if crate::header::checksum(body) != self.header.checksum.get() {
            return Err(FormatError::Checksum);
        }
        Ok(())
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The header.
    pub fn header(&self) -> &'a ArtifactHeader {
        self.header
    }

    /// The metadata region.
    pub fn meta(&self) -> MetaView<'a> {
        self.meta
    }

    /// The target architecture.
    pub fn arch(&self) -> Arch {
        // Checked in `check_prefix`; x86_64 is unreachable.
        Arch::from_code(self.header.arch.get()).unwrap_or(Arch::X86_64)
    }

    /// File range of the text region.
    pub fn text_range(&self) -> Range<usize> {
        range_in(self.bytes.len(), self.header.text).unwrap_or(0..0)
    }

    /// File range of the data region.
    pub fn data_range(&self) -> Range<usize> {
        range_in(self.bytes.len(), self.header.data).unwrap_or(0..0)
    }

    /// The bytes of memory image `index`.
    pub fn image_bytes(&self, index: usize) -> Result<&'a [u8], FormatError> {
        let m = self.memory_images().get(index);
        let m = m.ok_or_else(|| entry_missing(TableId::MemoryImages, index))?;
        self.data_bytes_of(
            TableId::MemoryImages,
            index,
            m.image_offset.get(),
            m.len.get(),
        )
    }

    /// The bytes of data segment `index`.
    pub fn data_bytes(&self, index: usize) -> Result<&'a [u8], FormatError> {
        let d = self.data().get(index);
        let d = d.ok_or_else(|| entry_missing(TableId::Data, index))?;
        self.data_bytes_of(TableId::Data, index, d.image_offset.get(), d.len.get())
    }

    /// The `len` bytes at `offset` of the data region that entry `index` of `table` names.
    fn data_bytes_of(
        &self,
        table: TableId,
        index: usize,
        offset: u64,
        len: u64,
    ) -> Result<&'a [u8], FormatError> {
        self.data_slice(offset, len).ok_or_else(|| {
            FormatError::corrupt(
                Location::entry(table, index, "image_offset"),
                format_args!("bytes {offset}+{len} outside the data region"),
            )
        })
    }

    /// `len` bytes at `offset` of the data region, if they lie inside it.
    fn data_slice(&self, offset: u64, len: u64) -> Option<&'a [u8]> {
        let data = &self.bytes[self.data_range()];
        let start = usize::try_from(offset).ok()?;
        data.get(start..start.checked_add(usize::try_from(len).ok()?)?)
    }
}

/// Checks that the regions lie after the headers and do not overlap each other, and that only an
/// artifact with unwind tables has an `.eh_frame`: no byte of the file may be read as two things.
fn check_regions(h: &ArtifactHeader) -> Result<(), FormatError> {
    if h.flags.get() & crate::header::FLAG_UNWIND_INFO == 0 && h.eh_frame.size.get() != 0 {
        return Err(header_error(
            "eh_frame",
            "unwind tables in an artifact without the flag",
        ));
    }
    let regions = [
        ("text", h.text),
        ("meta", h.meta),
        ("data", h.data),
        ("eh_frame", h.eh_frame),
    ];
    for (i, (field, r)) in regions.iter().enumerate() {
        if r.size.get() == 0 {
            continue;
        }
        if r.offset.get() < crate::header::HEADERS_END as u64 {
            return Err(header_error(field, "region overlaps the headers"));
        }
        for (other, o) in &regions[i + 1..] {
            if o.size.get() != 0 && r.offset.get() < o.end() && o.offset.get() < r.end() {
                return Err(header_error(
                    field,
                    format_args!("region overlaps the {other} region"),
                ));
            }
        }
    }
    Ok(())
}

/// The error for entry `index` of `table` that does not exist.
pub(crate) fn entry_missing(table: TableId, index: impl TryInto<u32>) -> FormatError {
    FormatError::corrupt(Location::entry(table, index, ""), "no such entry")
}

/// `r` as a range of a file of `len` bytes, if it lies inside it.
pub(crate) fn range_in(len: usize, r: FileRange) -> Option<Range<usize>> {
    let start = usize::try_from(r.offset.get()).ok()?;
    let end = start.checked_add(usize::try_from(r.size.get()).ok()?)?;
    (end <= len).then_some(start..end)
}
