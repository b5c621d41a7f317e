//! Reading an artifact in place: header checks, region and table bounds, typed table access.
//!
//! [`ArtifactView::parse`] checks everything that later accessors rely on: that the header is a Kiln
//! header of a supported version, that every region lies inside the file, that every table lies
//! inside the metadata region with the entry size this crate expects. Accessors that follow a
//! reference stored in an entry (a string, an expression) check it again on use, so corrupt bytes
//! give a [`FormatError`], never a panic or an out-of-bounds read.

use crate::header::{ArtifactHeader, FileRange, FORMAT_MAJOR, FORMAT_MINOR, HEADER_OFFSET, MAGIC};
use crate::tables::*;
use crate::target::{feature_names, host_features, Arch};
use std::ops::Range;
use zerocopy::{FromBytes, Immutable, KnownLayout};

/// Why an artifact cannot be read or used here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The file is too short to hold what it claims.
    #[error("artifact is truncated: {0}")]
    Truncated(&'static str),
    /// Not an ELF file, or not a 64-bit little-endian one.
    #[error("not a Kiln artifact: {0}")]
    NotElf(&'static str),
    /// ELF, but without the Kiln header.
    #[error("not a Kiln artifact: bad magic in the Kiln header")]
    BadMagic,
    /// Another major format version, or a newer minor one.
    #[error("unsupported artifact format version {found_major}.{found_minor}; this loader reads {FORMAT_MAJOR}.0 to {FORMAT_MAJOR}.{FORMAT_MINOR}: recompile the module with this Kiln")]
    Version {
        /// Major version in the file.
        found_major: u16,
        /// Minor version in the file.
        found_minor: u16,
    },
    /// Compiled for another architecture or OS.
    #[error("artifact was compiled for {found}, but this machine is {host}")]
    WrongTarget {
        /// Target in the file.
        found: String,
        /// Host target.
        host: String,
    },
    /// The code needs CPU features this machine lacks.
    #[error("artifact requires CPU features this machine lacks: {}", .0.join(", "))]
    MissingCpuFeatures(Vec<String>),
    /// A setting the loader does not implement.
    #[error("artifact uses an unsupported setting: {0}")]
    UnsupportedSetting(String),
    /// A region or table is out of bounds or malformed.
    #[error("corrupt artifact: {0}")]
    Corrupt(String),
    /// The checksum does not match the contents.
    #[error("corrupt artifact: checksum mismatch (file was modified or damaged)")]
    Checksum,
    /// A constant expression cannot be decoded.
    #[error("corrupt artifact: bad constant expression ({0})")]
    BadConstExpr(&'static str),
}

fn corrupt(msg: impl Into<String>) -> FormatError {
    FormatError::Corrupt(msg.into())
}

/// A checked view of an artifact's bytes.
#[derive(Clone, Copy)]
pub struct ArtifactView<'a> {
    bytes: &'a [u8],
    header: &'a ArtifactHeader,
    meta: &'a [u8],
    dir: &'a MetaDirectory,
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
        if bytes.len() < 64 {
            return Err(FormatError::Truncated("shorter than an ELF header"));
        }
        if bytes[..4] != *b"\x7fELF" {
            return Err(FormatError::NotElf("no ELF magic"));
        }
        // The ELF container follows the target's byte order (s390x is big-endian); Kiln's own
        // header and tables are little-endian everywhere.
        if bytes[4] != 2 || !matches!(bytes[5], 1 | 2) {
            return Err(FormatError::NotElf("not a 64-bit ELF file"));
        }
        // The ELF section headers come last in the file: checking that they fit catches a file
        // truncated anywhere after the regions the loader reads.
        let big = bytes[5] == 2;
        let u16_at = |o: usize| {
            let b = [bytes[o], bytes[o + 1]];
            if big {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let mut shoff = [0u8; 8];
        shoff.copy_from_slice(&bytes[0x28..0x30]);
        let shoff = if big {
            u64::from_be_bytes(shoff)
        } else {
            u64::from_le_bytes(shoff)
        };
        let sh_end = (u16_at(0x3a) as u64)
            .checked_mul(u16_at(0x3c) as u64)
            .and_then(|n| n.checked_add(shoff));
        if sh_end.is_none_or(|end| end > file_len as u64) {
            return Err(FormatError::Truncated(
                "ELF section headers past end of file",
            ));
        }
        let start = HEADER_OFFSET as usize;
        let rest = &bytes[start..];
        if rest.len() < 8 {
            return Err(FormatError::Truncated("no Kiln header"));
        }
        if rest[..8] != MAGIC {
            return Err(FormatError::BadMagic);
        }
        if rest.len() < 16 {
            return Err(FormatError::Truncated("Kiln header"));
        }
        let major = u16::from_le_bytes([rest[8], rest[9]]);
        let minor = u16::from_le_bytes([rest[10], rest[11]]);
        if major != FORMAT_MAJOR || minor > FORMAT_MINOR {
            return Err(FormatError::Version {
                found_major: major,
                found_minor: minor,
            });
        }
        let (header, _) = ArtifactHeader::ref_from_prefix(rest)
            .map_err(|_| FormatError::Truncated("Kiln header"))?;
        if (header.header_size.get() as usize) < ArtifactHeader::SIZE {
            return Err(corrupt("header size too small"));
        }
        let arch = Arch::from_code(header.arch.get())
            .ok_or_else(|| corrupt(format!("unknown architecture code {}", header.arch.get())))?;
        let align = header.region_align.get() as u64;
        if align != arch.region_align() {
            return Err(corrupt("region alignment does not match the architecture"));
        }
        for (what, r) in [
            ("text region past end of file", header.text),
            ("metadata region past end of file", header.meta),
            ("data region past end of file", header.data),
            ("eh_frame past end of file", header.eh_frame),
        ] {
            range_in(file_len, r).ok_or(FormatError::Truncated(what))?;
        }
        if header.text.offset.get() % align != 0 || header.data.offset.get() % align != 0 {
            return Err(corrupt("text or data region is not page-aligned"));
        }
        // The directory must be readable from the prefix: a loader validates everything it relies on
        // from one small read, without touching the mapping.
        let meta_start = header.meta.offset.get() as usize;
        let dir_bytes = bytes
            .get(meta_start..)
            .filter(|d| {
                d.len() >= size_of::<MetaDirectory>()
                    && header.meta.size.get() >= size_of::<MetaDirectory>() as u64
            })
            .ok_or(FormatError::Truncated("metadata directory"))?;
        let (dir, _) = MetaDirectory::ref_from_prefix(dir_bytes)
            .map_err(|_| FormatError::Truncated("metadata directory"))?;
        check_directory(dir, header.meta.size.get())?;
        Ok(header)
    }

    /// Checks a whole artifact in memory (see [`ArtifactView::check_prefix`]) and gives access to
    /// its tables.
    pub fn parse(bytes: &'a [u8]) -> Result<ArtifactView<'a>, FormatError> {
        let header = ArtifactView::check_prefix(bytes, bytes.len())?;
        let meta = &bytes[range_in(bytes.len(), header.meta).expect("checked by check_prefix")];
        let (dir, _) = MetaDirectory::ref_from_prefix(meta).expect("checked by check_prefix");
        Ok(ArtifactView {
            bytes,
            header,
            meta,
            dir,
        })
    }

    /// Checks that this machine can run the artifact (see [`check_compatibility`]).
    pub fn check_compatibility(&self) -> Result<(), FormatError> {
        check_compatibility(self.header)
    }

    /// Recomputes the checksum and compares it with the header's.
    pub fn verify_checksum(&self) -> Result<(), FormatError> {
        let start = HEADER_OFFSET as usize + ArtifactHeader::SIZE;
        let end = checksum_end(self.header);
        let body = self
            .bytes
            .get(start..end)
            .ok_or(FormatError::Truncated("checksummed range"))?;
        if crate::header::fnv1a64(body) != self.header.checksum.get() {
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

    /// The target architecture.
    pub fn arch(&self) -> Arch {
        Arch::from_code(self.header.arch.get()).expect("checked in parse")
    }

    /// Module-level facts.
    pub fn module(&self) -> &'a ModuleEntry {
        &self.dir.module
    }

    /// File range of the text region.
    pub fn text_range(&self) -> Range<usize> {
        range_in(self.bytes.len(), self.header.text).expect("checked in parse")
    }

    /// File range of the data region.
    pub fn data_range(&self) -> Range<usize> {
        range_in(self.bytes.len(), self.header.data).expect("checked in parse")
    }

    fn table<T: FromBytes + Immutable + KnownLayout>(&self, id: TableId) -> &'a [T] {
        let t = &self.dir.tables[id as usize];
        let start = t.offset.get() as usize;
        let len = t.count.get() as usize * size_of::<T>();
        // Bounds and entry size were checked in `parse`.
        <[T]>::ref_from_bytes(&self.meta[start..start + len]).expect("checked in parse")
    }

    fn blob(&self, id: TableId) -> &'a [u8] {
        self.table::<u8>(id)
    }

    /// Function types.
    pub fn types(&self) -> &'a [FuncTypeEntry] {
        self.table(TableId::Types)
    }
    /// Imports, in module order.
    pub fn imports(&self) -> &'a [ImportEntry] {
        self.table(TableId::Imports)
    }
    /// Defined functions.
    pub fn functions(&self) -> &'a [FunctionEntry] {
        self.table(TableId::Functions)
    }
    /// Tables, imported first.
    pub fn tables(&self) -> &'a [TableEntry] {
        self.table(TableId::Tables)
    }
    /// Memories, imported first.
    pub fn memories(&self) -> &'a [MemoryEntry] {
        self.table(TableId::Memories)
    }
    /// Globals, imported first.
    pub fn globals(&self) -> &'a [GlobalEntry] {
        self.table(TableId::Globals)
    }
    /// Exports, sorted by name.
    pub fn exports(&self) -> &'a [ExportEntry] {
        self.table(TableId::Exports)
    }
    /// Element segments.
    pub fn elements(&self) -> &'a [ElementEntry] {
        self.table(TableId::Elements)
    }
    /// Data segments.
    pub fn data(&self) -> &'a [DataEntry] {
        self.table(TableId::Data)
    }
    /// Trap table, sorted by code offset.
    pub fn traps(&self) -> &'a [TrapEntry] {
        self.table(TableId::Traps)
    }
    /// Memory images of defined memories.
    pub fn memory_images(&self) -> &'a [MemoryImageEntry] {
        self.table(TableId::MemoryImages)
    }

    /// The bytes of a memory image.
    pub fn image_bytes(&self, m: &MemoryImageEntry) -> Result<&'a [u8], FormatError> {
        self.data_slice(m.image_offset.get(), m.len.get())
            .ok_or_else(|| corrupt("memory image out of range"))
    }

    /// `len` bytes at `offset` of the data region, if they lie inside it.
    fn data_slice(&self, offset: u64, len: u64) -> Option<&'a [u8]> {
        let data = &self.bytes[self.data_range()];
        let start = usize::try_from(offset).ok()?;
        data.get(start..start.checked_add(usize::try_from(len).ok()?)?)
    }

    /// Address map, sorted by code offset.
    pub fn address_map(&self) -> &'a [AddressMapEntry] {
        self.table(TableId::AddressMap)
    }

    /// Total number of functions, imported and defined.
    pub fn num_funcs(&self) -> u32 {
        let defined = self.functions().len() as u32;
        self.module().imported_funcs.get().saturating_add(defined)
    }

    /// A string's bytes.
    pub fn str_bytes(&self, r: StrRef) -> Result<&'a [u8], FormatError> {
        slice_of(self.blob(TableId::Strings), r).ok_or_else(|| corrupt("string out of range"))
    }

    /// A string, lossily decoded for display.
    pub fn str_lossy(&self, r: StrRef) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.str_bytes(r).unwrap_or(b"<corrupt>"))
    }

    /// A constant expression's bytes.
    pub fn expr(&self, r: ExprRef) -> Result<&'a [u8], FormatError> {
        slice_of(self.blob(TableId::Exprs), r).ok_or_else(|| corrupt("expression out of range"))
    }

    /// Parameter and result types of a function type.
    pub fn signature(&self, ty: &FuncTypeEntry) -> Result<(&'a [u8], &'a [u8]), FormatError> {
        let vt = self.blob(TableId::ValTypes);
        let start = ty.valtypes.get() as usize;
        let p = ty.params.get() as usize;
        let r = ty.results.get() as usize;
        let all = vt
            .get(start..start.saturating_add(p).saturating_add(r))
            .ok_or_else(|| corrupt("signature out of range"))?;
        Ok(all.split_at(p))
    }

    /// Function type `index`.
    pub fn func_type(&self, index: u32) -> Result<&'a FuncTypeEntry, FormatError> {
        self.types()
            .get(index as usize)
            .ok_or_else(|| corrupt(format!("type index {index} out of range")))
    }

    /// Type index of function `func` (imported or defined).
    pub fn func_type_index(&self, func: u32) -> Result<u32, FormatError> {
        let imported = self.module().imported_funcs.get();
        if func < imported {
            self.imports()
                .iter()
                .filter(|i| i.kind == extern_kind::FUNC)
                .nth(func as usize)
                .map(|i| i.type_index.get())
                .ok_or_else(|| corrupt("imported function missing"))
        } else {
            self.functions()
                .get((func - imported) as usize)
                .map(|f| f.type_index.get())
                .ok_or_else(|| corrupt(format!("function index {func} out of range")))
        }
    }

    /// The function-index items of every element segment (`ElementEntry::items_start` indexes it).
    pub fn all_elem_funcs(&self) -> &'a [zerocopy::little_endian::U32] {
        self.table(TableId::ElemFuncs)
    }

    /// The function-index items of an element segment.
    pub fn elem_funcs(
        &self,
        e: &ElementEntry,
    ) -> Result<&'a [zerocopy::little_endian::U32], FormatError> {
        let all: &[zerocopy::little_endian::U32] = self.table(TableId::ElemFuncs);
        let start = e.items_start.get() as usize;
        all.get(start..start.saturating_add(e.items_count.get() as usize))
            .ok_or_else(|| corrupt("element items out of range"))
    }

    /// The expression items of an element segment.
    pub fn elem_exprs(&self, e: &ElementEntry) -> Result<&'a [ExprRef], FormatError> {
        let all: &[ExprRef] = self.table(TableId::ElemExprs);
        let start = e.items_start.get() as usize;
        all.get(start..start.saturating_add(e.items_count.get() as usize))
            .ok_or_else(|| corrupt("element items out of range"))
    }

    /// The bytes of a data segment.
    pub fn data_bytes(&self, d: &DataEntry) -> Result<&'a [u8], FormatError> {
        self.data_slice(d.image_offset.get(), d.len.get())
            .ok_or_else(|| corrupt("data segment out of range"))
    }

    /// Looks an export up by name (binary search).
    pub fn find_export(&self, name: &str) -> Option<&'a ExportEntry> {
        let exports = self.exports();
        exports
            .binary_search_by(|e| self.str_bytes(e.name).unwrap_or(&[]).cmp(name.as_bytes()))
            .ok()
            .map(|i| &exports[i])
    }

    /// The defined function whose code contains text offset `offset`, with its index in the
    /// function index space.
    pub fn function_at(&self, offset: u32) -> Option<(u32, &'a FunctionEntry)> {
        let funcs = self.functions();
        let i = funcs.partition_point(|f| f.code_offset.get() <= offset);
        let f = funcs.get(i.checked_sub(1)?)?;
        let end = f.code_offset.get().checked_add(f.code_len.get())?;
        let index = self
            .module()
            .imported_funcs
            .get()
            .checked_add((i - 1) as u32)?;
        (offset < end).then_some((index, f))
    }

    /// The trap kind recorded for the instruction at text offset `offset`.
    pub fn trap_at(&self, offset: u32) -> Option<u8> {
        let traps = self.traps();
        traps
            .binary_search_by_key(&offset, |t| t.code_offset.get())
            .ok()
            .map(|i| traps[i].kind)
    }

    /// The wasm offset recorded for the text offset, from the address map.
    pub fn wasm_offset_at(&self, offset: u32) -> Option<u32> {
        let map = self.address_map();
        let i = map.partition_point(|e| e.code_offset.get() <= offset);
        map.get(i.checked_sub(1)?).map(|e| e.wasm_offset.get())
    }

    /// A function's display name: its name-section name or `func[N]`.
    pub fn func_name(&self, index: u32) -> String {
        let imported = self.module().imported_funcs.get();
        let named = index
            .checked_sub(imported)
            .and_then(|i| self.functions().get(i as usize))
            .filter(|f| f.name.len.get() > 0)
            .map(|f| self.str_lossy(f.name).into_owned());
        named.unwrap_or_else(|| format!("func[{index}]"))
    }
}

/// The end of the checksummed range: the end of the furthest region.
pub fn checksum_end(h: &ArtifactHeader) -> usize {
    [h.text, h.meta, h.data, h.eh_frame]
        .iter()
        .map(|r| r.offset.get().saturating_add(r.size.get()))
        .max()
        .unwrap_or(0) as usize
}

/// This machine's target triple, as Kiln names targets.
pub fn host_triple() -> String {
    match Arch::host() {
        Some(a) if cfg!(target_os = "linux") => a.triple().to_string(),
        _ => format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
    }
}

fn range_in(len: usize, r: FileRange) -> Option<Range<usize>> {
    let start = usize::try_from(r.offset.get()).ok()?;
    let end = start.checked_add(usize::try_from(r.size.get()).ok()?)?;
    (end <= len).then_some(start..end)
}

fn slice_of(blob: &[u8], r: StrRef) -> Option<&[u8]> {
    let start = r.offset.get() as usize;
    blob.get(start..start.checked_add(r.len.get() as usize)?)
}

fn check_directory(dir: &MetaDirectory, meta_len: u64) -> Result<(), FormatError> {
    let sizes: [usize; TABLE_COUNT] = [
        size_of::<FuncTypeEntry>(),
        size_of::<ImportEntry>(),
        size_of::<FunctionEntry>(),
        size_of::<TableEntry>(),
        size_of::<MemoryEntry>(),
        size_of::<GlobalEntry>(),
        size_of::<ExportEntry>(),
        size_of::<ElementEntry>(),
        size_of::<DataEntry>(),
        size_of::<TrapEntry>(),
        1,
        1,
        1,
        4,
        size_of::<StrRef>(),
        size_of::<AddressMapEntry>(),
        size_of::<MemoryImageEntry>(),
    ];
    for (i, (t, size)) in dir.tables.iter().zip(sizes).enumerate() {
        if t.entry_size.get() as usize != size {
            return Err(corrupt(format!(
                "table {i} has entry size {}",
                t.entry_size
            )));
        }
        let end = (t.offset.get() as u64) + (t.count.get() as u64) * size as u64;
        if end > meta_len {
            return Err(corrupt(format!(
                "table {i} extends past the metadata region"
            )));
        }
    }
    Ok(())
}

/// Checks that this machine can run the artifact: architecture, OS, CPU features, page size,
/// and the run-time settings this loader implements.
pub fn check_compatibility(h: &ArtifactHeader) -> Result<(), FormatError> {
    let arch = Arch::from_code(h.arch.get())
        .ok_or_else(|| corrupt(format!("unknown architecture code {}", h.arch.get())))?;
    let host = Arch::host();
    if host != Some(arch) || h.os.get() != 1 || !cfg!(target_os = "linux") {
        return Err(FormatError::WrongTarget {
            found: h.triple_str().to_string(),
            host: host_triple(),
        });
    }
    let missing = h.cpu_features.get() & !host_features();
    if missing != 0 {
        return Err(FormatError::MissingCpuFeatures(feature_names(
            arch, missing,
        )));
    }
    if h.bounds_checks != crate::header::BOUNDS_STATIC_GUARD {
        return Err(FormatError::UnsupportedSetting(format!(
            "bounds-check strategy {}",
            h.bounds_checks
        )));
    }
    if h.stack_limit_scheme != crate::header::STACK_LIMIT_STORE_CONTEXT {
        return Err(FormatError::UnsupportedSetting(format!(
            "stack-limit scheme {}",
            h.stack_limit_scheme
        )));
    }
    if h.memory_reservation.get() != 1 << 32 {
        return Err(FormatError::UnsupportedSetting(format!(
            "memory reservation of {} bytes",
            h.memory_reservation
        )));
    }
    Ok(())
}
