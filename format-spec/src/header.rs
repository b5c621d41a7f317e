//! The fixed header at file offset 64, right after the ELF file header.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The eight bytes every Kiln header starts with.
pub const MAGIC: [u8; 8] = *b"KILNART\0";
/// Format major version: a loader refuses any other major version.
pub const FORMAT_MAJOR: u16 = 2;
/// Format minor version: additions a loader of the same major version may ignore. A loader refuses
/// artifacts with a newer minor version than its own, since it cannot know what they rely on.
pub const FORMAT_MINOR: u16 = 0;
/// File offset of the Kiln header.
pub const HEADER_OFFSET: u64 = 64;

/// `flags` bit: the artifact carries `.eh_frame` unwind tables.
pub const FLAG_UNWIND_INFO: u32 = 1 << 0;
/// `flags` bit: names and the address map were stripped.
pub const FLAG_STRIPPED: u32 = 1 << 1;
/// `flags` bit: every function keeps a frame pointer.
pub const FLAG_FRAME_POINTERS: u32 = 1 << 2;

/// Bounds-check strategy: a 4 GiB reservation plus a guard region; accesses whose static offset
/// fits in the guard have no explicit check.
pub const BOUNDS_STATIC_GUARD: u8 = 1;
/// Stack-limit scheme: every function's prologue compares the stack pointer with the limit stored
/// at offset 0 of the store context that the VMContext points to.
pub const STACK_LIMIT_STORE_CONTEXT: u8 = 1;

/// A file range `[offset, offset + size)`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct FileRange {
    /// Offset from the start of the file.
    pub offset: U64,
    /// Length in bytes.
    pub size: U64,
}

/// The artifact header. All fields are little-endian; `SPEC.md` describes each.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
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
    /// 64-bit FNV-1a checksum of the file from the end of this header to the end of the data region.
    pub checksum: U64,
}

impl ArtifactHeader {
    /// The header's size in bytes.
    pub const SIZE: usize = size_of::<ArtifactHeader>();

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

/// 64-bit FNV-1a, the artifact checksum. Chosen for being trivially specified and dependency-free;
/// it detects corruption, not tampering.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
