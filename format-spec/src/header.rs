//! The fixed header at file offset 64, right after the ELF file header.

use crate::tables::{MetaDirectory, TableId};
use crate::target::Arch;
use crate::vmctx::{MEMORY_GUARD, MEMORY_RESERVATION};
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The eight bytes every Kiln header starts with.
pub const MAGIC: [u8; 8] = *b"KILNART\0";
/// Format major version: a loader refuses any other major version.
pub const FORMAT_MAJOR: u16 = 5;
/// Format minor version: additions a loader of the same major version may ignore. A loader refuses
/// artifacts with a newer minor version than its own, since it cannot know what they rely on.
pub const FORMAT_MINOR: u16 = 0;
/// File offset of the Kiln header.
pub const HEADER_OFFSET: u64 = 64;

/// File offset of the end of the Kiln header: the ELF and Kiln headers together, which identify an
/// artifact's contents (the wasm hash and the checksum are in it).
pub const HEADERS_END: usize = HEADER_OFFSET as usize + ArtifactHeader::SIZE;

/// `os` code of Linux, the only OS Kiln targets.
pub const OS_LINUX: u16 = 1;

/// `flags` bit: the artifact carries `.eh_frame` unwind tables.
pub const FLAG_UNWIND_INFO: u32 = 1 << 0;
/// `flags` bit: names and the address map were stripped.
pub const FLAG_STRIPPED: u32 = 1 << 1;
/// `flags` bit: every function keeps a frame pointer.
pub const FLAG_FRAME_POINTERS: u32 = 1 << 2;
/// `flags` bit: the code meters fuel (`VMStoreContext::fuel_consumed`).
pub const FLAG_FUEL: u32 = 1 << 3;
/// `flags` bit: the code checks the epoch deadline (`VMStoreContext::epoch_deadline`).
pub const FLAG_EPOCH_INTERRUPTION: u32 = 1 << 4;
/// Every `flags` bit this format defines; a loader refuses any other.
pub const KNOWN_FLAGS: u32 =
    FLAG_UNWIND_INFO | FLAG_STRIPPED | FLAG_FRAME_POINTERS | FLAG_FUEL | FLAG_EPOCH_INTERRUPTION;

/// Bounds-check strategy: a 4 GiB reservation plus a guard region; accesses whose static offset
/// fits in the guard have no explicit check.
pub const BOUNDS_STATIC_GUARD: u8 = 1;
/// Stack-limit scheme: every function's prologue compares the stack pointer with the limit stored
/// at offset 0 of the store context that the VMContext points to.
pub const STACK_LIMIT_STORE_CONTEXT: u8 = 1;

/// A file range `[offset, offset + size)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct FileRange {
    /// Offset from the start of the file.
    pub offset: U64,
    /// Length in bytes.
    pub size: U64,
}

/// The artifact header. All fields are little-endian; `SPEC.md` describes each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ArtifactHeader {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`FORMAT_MAJOR`] of the writer.
    pub format_major: U16,
    /// [`FORMAT_MINOR`] of the writer.
    pub format_minor: U16,
    /// `size_of::<ArtifactHeader>()` of the writer.
    pub header_size: U32,
    /// The Kiln version that wrote the artifact, NUL-padded UTF-8.
    pub kiln_version: [u8; 16],
    /// [`crate::Arch`] code.
    pub arch: U16,
    /// Operating system: 1 = Linux.
    pub os: U16,
    /// Code alignment in the file, the largest page size of the target.
    pub region_align: U32,
    /// Target triple, NUL-padded.
    pub triple: [u8; 32],
    /// CPU features the code requires ([`crate::target`]).
    pub cpu_features: U64,
    /// [`BOUNDS_STATIC_GUARD`].
    pub bounds_checks: u8,
    /// [`STACK_LIMIT_STORE_CONTEXT`].
    pub stack_limit_scheme: u8,
    /// Cranelift optimization level: 0 none, 1 speed, 2 speed and size.
    pub opt_level: u8,
    /// Reserved, zero.
    pub reserved0: u8,
    /// `FLAG_*` bits.
    pub flags: U32,
    /// Bytes of address space reserved per linear memory.
    pub memory_reservation: U64,
    /// Bytes of guard after the reservation.
    pub memory_guard: U64,
    /// Size of the VMContext the code expects.
    pub vmctx_size: U32,
    /// Number of defined functions (for a quick `inspect`).
    pub num_functions: U32,
    /// SHA-256 of the input WebAssembly binary.
    pub wasm_sha256: [u8; 32],
    /// Executable code.
    pub text: FileRange,
    /// Read-only metadata tables.
    pub meta: FileRange,
    /// Data-segment images.
    pub data: FileRange,
    /// `.eh_frame`, empty without unwind info.
    pub eh_frame: FileRange,
    /// xxh3-64 of the file from its first byte to the end of the furthest region, with this field
    /// read as zero ([`checksum`]). Verified on request: it reads every byte.
    pub checksum: U64,
    /// xxh3-64 of what steers instantiation and calls: the ELF and Kiln headers (with both
    /// checksum fields read as zero) and the metadata tables but the trap table and the address map
    /// ([`meta_checksum`]). Verified at every validation.
    pub meta_checksum: U64,
}

/// What a compiler records about the code it wrote: everything in the header that is not fixed by
/// the format or by the file's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeSettings {
    /// The target architecture.
    pub arch: Arch,
    /// CPU features the code requires ([`crate::target`] mask).
    pub cpu_features: u64,
    /// Cranelift optimization level: 0 none, 1 speed, 2 speed and size.
    pub opt_level: u8,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Size of the VMContext the code expects.
    pub vmctx_size: u32,
    /// Number of defined functions.
    pub num_functions: u32,
    /// SHA-256 of the input WebAssembly binary.
    pub wasm_sha256: [u8; 32],
}

/// Where the regions of an artifact lie in its file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regions {
    /// Executable code.
    pub text: FileRange,
    /// Metadata tables.
    pub meta: FileRange,
    /// Data-segment images.
    pub data: FileRange,
    /// `.eh_frame`.
    pub eh_frame: FileRange,
}

impl FileRange {
    /// The range `[offset, offset + size)`.
    pub fn new(offset: u64, size: u64) -> FileRange {
        FileRange {
            offset: offset.into(),
            size: size.into(),
        }
    }

    /// One past the last byte, saturating.
    pub fn end(&self) -> u64 {
        self.offset.get().saturating_add(self.size.get())
    }
}

impl ArtifactHeader {
    /// The header's size in bytes.
    pub const SIZE: usize = size_of::<ArtifactHeader>();

    /// The header of an artifact of this format version with `settings` and `regions`, and zero
    /// checksums (the writer fills them in last, see [`seal`]).
    pub fn new(settings: &CodeSettings, regions: &Regions) -> ArtifactHeader {
        let arch = settings.arch;
        ArtifactHeader {
            magic: MAGIC,
            format_major: FORMAT_MAJOR.into(),
            format_minor: FORMAT_MINOR.into(),
            header_size: (ArtifactHeader::SIZE as u32).into(),
            kiln_version: pad_str(env!("CARGO_PKG_VERSION")),
            arch: (arch as u16).into(),
            os: OS_LINUX.into(),
            region_align: (arch.region_align() as u32).into(),
            triple: pad_str(arch.triple()),
            cpu_features: settings.cpu_features.into(),
            bounds_checks: BOUNDS_STATIC_GUARD,
            stack_limit_scheme: STACK_LIMIT_STORE_CONTEXT,
            opt_level: settings.opt_level,
            reserved0: 0,
            flags: settings.flags.into(),
            memory_reservation: MEMORY_RESERVATION.into(),
            memory_guard: MEMORY_GUARD.into(),
            vmctx_size: settings.vmctx_size.into(),
            num_functions: settings.num_functions.into(),
            wasm_sha256: settings.wasm_sha256,
            text: regions.text,
            meta: regions.meta,
            data: regions.data,
            eh_frame: regions.eh_frame,
            checksum: 0.into(),
            meta_checksum: 0.into(),
        }
    }

    /// The regions.
    pub fn regions(&self) -> Regions {
        Regions {
            text: self.text,
            meta: self.meta,
            data: self.data,
            eh_frame: self.eh_frame,
        }
    }

    /// The file range the checksum covers: from the first byte (ELF header, this header, program
    /// headers: everything that steers loading) to the end of the furthest region.
    pub fn checksum_range(&self) -> std::ops::Range<usize> {
        let end = [self.text, self.meta, self.data, self.eh_frame]
            .iter()
            .map(FileRange::end)
            .max()
            .unwrap_or(0);
        0..usize::try_from(end).unwrap_or(usize::MAX).max(HEADERS_END)
    }

    /// The triple as a string.
    pub fn triple_str(&self) -> &str {
        nul_padded(&self.triple)
    }

    /// The writer's Kiln version as a string.
    pub fn kiln_version_str(&self) -> &str {
        nul_padded(&self.kiln_version)
    }
}

/// Fills a NUL-padded field from `s`, truncating if needed.
pub fn pad_str<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let n = s.len().min(N);
    out[..n].copy_from_slice(&s.as_bytes()[..n]);
    out
}

fn nul_padded(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    std::str::from_utf8(&bytes[..end]).unwrap_or("<invalid utf-8>")
}

/// The file offset of the header's `checksum` field.
pub const CHECKSUM_OFFSET: usize =
    HEADER_OFFSET as usize + std::mem::offset_of!(ArtifactHeader, checksum);
/// The file offset of the header's `meta_checksum` field.
pub const META_CHECKSUM_OFFSET: usize =
    HEADER_OFFSET as usize + std::mem::offset_of!(ArtifactHeader, meta_checksum);

/// The artifact checksum of `file` (its checksummed range, see
/// [`ArtifactHeader::checksum_range`]): xxh3-64 with the `checksum` field read as zero. Chosen for
/// speed (it hashes gigabytes per second, so verifying costs little next to loading) from a
/// well-kept crate; it detects damage, not tampering (that is what signatures are for).
pub fn checksum(file: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    hash_zeroing(&mut h, file, &[CHECKSUM_OFFSET]);
    h.digest()
}

/// The metadata checksum of `file`, whose header is `header` (see
/// [`ArtifactHeader::meta_checksum`]); `None` if the headers or the metadata region lie outside
/// `file`.
pub fn meta_checksum(file: &[u8], header: &ArtifactHeader) -> Option<u64> {
    let start = usize::try_from(header.meta.offset.get()).ok()?;
    let end = usize::try_from(header.meta.end()).ok()?;
    Some(meta_checksum_of(
        file.get(..HEADERS_END)?,
        file.get(start..end)?,
    ))
}

/// The metadata checksum from its parts: xxh3-64 of `headers` (the file's first [`HEADERS_END`]
/// bytes) with both checksum fields read as zero, then of every byte of the metadata region but
/// those of the tables it leaves out ([`TableId::in_meta_checksum`]). A table that does not lie
/// inside `meta` is not left out (the reader refuses such a directory anyway).
pub fn meta_checksum_of(headers: &[u8], meta: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    hash_zeroing(&mut h, headers, &[CHECKSUM_OFFSET, META_CHECKSUM_OFFSET]);
    let mut left_out: Vec<std::ops::Range<usize>> = match MetaDirectory::ref_from_prefix(meta) {
        Ok((dir, _)) => TableId::ALL
            .into_iter()
            .filter(|id| !id.in_meta_checksum())
            .filter_map(|id| {
                let r = &dir.tables[id as usize];
                let start = r.offset.get() as usize;
                let len = (r.count.get() as usize).checked_mul(r.entry_size.get() as usize)?;
                let end = start.checked_add(len)?;
                (end <= meta.len()).then_some(start..end)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    left_out.sort_by_key(|r| r.start);
    let mut at = 0;
    for r in left_out {
        if r.start >= at {
            h.update(&meta[at..r.start]);
            at = r.end;
        }
    }
    h.update(&meta[at..]);
    h.digest()
}

/// Feeds `bytes` to `h` with the 8-byte fields at `zeroed` (ascending offsets) read as zero.
fn hash_zeroing(h: &mut xxhash_rust::xxh3::Xxh3Default, bytes: &[u8], zeroed: &[usize]) {
    let mut at = 0;
    for &field in zeroed {
        if bytes.len() < field + 8 {
            break;
        }
        h.update(&bytes[at..field]);
        h.update(&[0; 8]);
        at = field + 8;
    }
    h.update(&bytes[at..]);
}

/// Fills in both checksums of `file`, an artifact whose header is otherwise complete: what the
/// writer does last, and what a tool that edits an artifact does after editing it. `None` if
/// `file` has no readable header or a region lies outside it.
pub fn seal(file: &mut [u8]) -> Option<()> {
    let at = HEADER_OFFSET as usize;
    let mut header = ArtifactHeader::read_from_bytes(file.get(at..HEADERS_END)?).ok()?;
    header.meta_checksum = meta_checksum(file, &header)?.into();
    file[META_CHECKSUM_OFFSET..META_CHECKSUM_OFFSET + 8]
        .copy_from_slice(&header.meta_checksum.get().to_le_bytes());
    // The whole-file checksum covers the metadata checksum just written.
    let end = header.checksum_range().end.min(file.len());
    let sum = checksum(&file[..end]);
    file[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 8].copy_from_slice(&sum.to_le_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    /// The table in SPEC.md §2, field by field: changing it is a new format major.
    #[test]
    fn header_has_the_documented_layout() {
        assert_eq!(ArtifactHeader::SIZE, 224);
        let offsets = [
            (offset_of!(ArtifactHeader, magic), 0),
            (offset_of!(ArtifactHeader, format_major), 8),
            (offset_of!(ArtifactHeader, format_minor), 10),
            (offset_of!(ArtifactHeader, header_size), 12),
            (offset_of!(ArtifactHeader, kiln_version), 16),
            (offset_of!(ArtifactHeader, arch), 32),
            (offset_of!(ArtifactHeader, os), 34),
            (offset_of!(ArtifactHeader, region_align), 36),
            (offset_of!(ArtifactHeader, triple), 40),
            (offset_of!(ArtifactHeader, cpu_features), 72),
            (offset_of!(ArtifactHeader, bounds_checks), 80),
            (offset_of!(ArtifactHeader, stack_limit_scheme), 81),
            (offset_of!(ArtifactHeader, opt_level), 82),
            (offset_of!(ArtifactHeader, reserved0), 83),
            (offset_of!(ArtifactHeader, flags), 84),
            (offset_of!(ArtifactHeader, memory_reservation), 88),
            (offset_of!(ArtifactHeader, memory_guard), 96),
            (offset_of!(ArtifactHeader, vmctx_size), 104),
            (offset_of!(ArtifactHeader, num_functions), 108),
            (offset_of!(ArtifactHeader, wasm_sha256), 112),
            (offset_of!(ArtifactHeader, text), 144),
            (offset_of!(ArtifactHeader, meta), 160),
            (offset_of!(ArtifactHeader, data), 176),
            (offset_of!(ArtifactHeader, eh_frame), 192),
            (offset_of!(ArtifactHeader, checksum), 208),
            (offset_of!(ArtifactHeader, meta_checksum), 216),
        ];
        for (i, (actual, documented)) in offsets.into_iter().enumerate() {
            assert_eq!(actual, documented, "field {i}");
        }
    }

    #[test]
    fn the_checksum_ignores_only_its_own_field() {
        let mut file = vec![7u8; 400];
        let sum = checksum(&file);
        file[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 8].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(checksum(&file), sum);
        for at in [0, 64, CHECKSUM_OFFSET - 1, CHECKSUM_OFFSET + 8, 399] {
            let mut damaged = file.clone();
            damaged[at] ^= 1;
            assert_ne!(checksum(&damaged), sum, "byte {at}");
        }
    }

    #[test]
    fn new_header_records_settings_and_regions() {
        let settings = CodeSettings {
            arch: Arch::Aarch64,
            cpu_features: 3,
            opt_level: 2,
            flags: FLAG_STRIPPED,
            vmctx_size: 48,
            num_functions: 9,
            wasm_sha256: [1; 32],
        };
        let regions = Regions {
            text: FileRange::new(0x10000, 100),
            meta: FileRange::new(512, 64),
            data: FileRange::new(0x20000, 0),
            eh_frame: FileRange::new(0x10068, 0),
        };
        let h = ArtifactHeader::new(&settings, &regions);
        assert_eq!(h.magic, MAGIC);
        assert_eq!(h.triple_str(), "aarch64-unknown-linux-gnu");
        assert_eq!(h.region_align.get(), 64 * 1024);
        assert_eq!(h.regions(), regions);
        assert_eq!(h.checksum_range(), 0..0x20000);
        assert_eq!(h.kiln_version_str(), env!("CARGO_PKG_VERSION"));
    }
}
