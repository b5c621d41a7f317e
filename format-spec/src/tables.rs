//! Fixed-layout metadata tables, read in place from the `.kiln.meta` region.
//!
//! The region starts with a [`MetaDirectory`] that gives, for each [`TableId`], where its entries
//! are (relative to the region) and how many there are. Strings, value-type lists, constant
//! expressions and element items live in blobs referenced by offset and length.
//!
//! The list of tables is written once, in the `meta_tables!` invocation below: it defines
//! [`TableId`], the entry size the reader checks, the owned [`MetaTables`] the writer lays out, and
//! the typed accessors of [`crate::reader::MetaView`].

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Defines the tables from one list: `Id field: Entry`, in directory order.
macro_rules! meta_tables {
    ($( $(#[$doc:meta])* $id:ident $field:ident: $entry:ty, )*) => {
        /// Every table in the metadata region, in directory order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum TableId {
            $( $(#[$doc])* $id, )*
        }

        /// Number of tables in the directory.
        pub const TABLE_COUNT: usize = [$(TableId::$id),*].len();

        impl TableId {
            /// Every table, in directory order.
            pub const ALL: [TableId; TABLE_COUNT] = [$(TableId::$id),*];

            /// The table's name, as in `SPEC.md`.
            pub fn name(self) -> &'static str {
                match self { $(TableId::$id => stringify!($id),)* }
            }

            /// The size of one entry in bytes (1 for blobs).
            pub fn entry_size(self) -> usize {
                match self { $(TableId::$id => size_of::<$entry>(),)* }
            }
        }

        /// The tables of one module, owned: what the compiler fills and
        /// [`MetaTables::finish`](crate::writer) lays out, and what a reader's
        /// [`crate::reader::MetaView::to_tables`] gives back.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct MetaTables {
            $( $(#[$doc])* pub $field: Vec<$entry>, )*
        }

        impl MetaTables {
            /// Each table's bytes and entry count, in directory order.
            pub fn parts(&self) -> [(&[u8], usize); TABLE_COUNT] {
                [$((self.$field.as_bytes(), self.$field.len()),)*]
            }
        }

        impl<'a> crate::reader::MetaView<'a> {
            $(
                $(#[$doc])*
                pub fn $field(&self) -> &'a [$entry] {
                    self.table(TableId::$id)
                }
            )*

            /// A copy of every table.
            pub fn to_tables(&self) -> MetaTables {
                MetaTables { $($field: self.$field().to_vec(),)* }
            }
        }
    };
}

meta_tables! {
    /// [`TypeEntry`] per type.
    Types types: TypeEntry,
    /// [`ImportEntry`] per import, in module order.
    Imports imports: ImportEntry,
    /// [`FunctionEntry`] per defined function, in index order (so sorted by code offset).
    Functions functions: FunctionEntry,
    /// [`TableEntry`] per table (imported first).
    Tables tables: TableEntry,
    /// [`MemoryEntry`] per memory (imported first).
    Memories memories: MemoryEntry,
    /// [`GlobalEntry`] per global (imported first).
    Globals globals: GlobalEntry,
    /// [`ExportEntry`] per export, sorted by name bytes.
    Exports exports: ExportEntry,
    /// [`ElementEntry`] per element segment.
    Elements elements: ElementEntry,
    /// [`DataEntry`] per data segment.
    Data data: DataEntry,
    /// [`CodeMapBlock`] per block of the trap table (SPEC.md §3, code maps): its first
    /// trapping instruction's code offset and [`crate::TrapKind`] code.
    TrapBlocks trap_blocks: CodeMapBlock,
    /// Bytes: the delta-coded runs of the trap table's blocks.
    TrapRuns trap_runs: u8,
    /// Bytes: UTF-8 strings.
    Strings strings: u8,
    /// [`U32`] per value type of a signature or field of a struct or array type
    /// ([`crate::valtype`] words).
    ValTypes valtypes: U32,
    /// Bytes: WebAssembly constant expressions, each ending with `end`.
    Exprs exprs: u8,
    /// [`U32`] per item: function indices of element segments, [`NULL_FUNC`] for null.
    ElemFuncs elem_funcs: U32,
    /// [`ExprRef`] per item: expressions of element segments.
    ElemExprs elem_exprs: ExprRef,
    /// [`CodeMapBlock`] per block of the address map (native offset → wasm offset, one entry
    /// where the wasm offset changes; SPEC.md §3, code maps).
    AddressMapBlocks address_map_blocks: CodeMapBlock,
    /// Bytes: the delta-coded runs of the address map's blocks.
    AddressMapRuns address_map_runs: u8,
    /// [`MemoryImageEntry`] per defined memory whose initial contents are one page-aligned image.
    MemoryImages memory_images: MemoryImageEntry,
    /// [`TagEntry`] per exception tag (imported first).
    Tags tags: TagEntry,
    /// [`CallSiteEntry`] per call that has exception handlers, sorted by return address.
    CallSites call_sites: CallSiteEntry,
    /// [`HandlerEntry`] per handler of a call site, each site's in match order.
    Handlers handlers: HandlerEntry,
}

impl TableId {
    /// Whether the metadata checksum covers the table ([`crate::header::meta_checksum`]): every
    /// table that steers instantiation and calls does. The ones that do not are consulted only
    /// about code that already runs: the trap table (when that code faults) and the address map
    /// (for backtraces); they are the largest tables, and only the whole-file checksum covers them,
    /// as it covers the code they describe.
    pub fn in_meta_checksum(self) -> bool {
        !matches!(
            self,
            TableId::TrapBlocks
                | TableId::TrapRuns
                | TableId::AddressMapBlocks
                | TableId::AddressMapRuns
        )
    }
}

/// A table's place in the metadata region.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TableRef {
    /// Offset from the start of the metadata region.
    pub offset: U32,
    /// Number of entries (bytes for blobs).
    pub count: U32,
    /// Size of one entry in bytes (1 for blobs), checked by the reader.
    pub entry_size: U32,
}

/// The start of the metadata region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MetaDirectory {
    /// One [`TableRef`] per [`TableId`].
    pub tables: [TableRef; TABLE_COUNT],
    /// Module-level facts.
    pub module: ModuleEntry,
}

/// No function: the start function is absent, or an element item is null.
pub const NULL_FUNC: u32 = u32::MAX;
/// No code: a type has no trampoline of that kind.
pub const NO_CODE: u32 = u32::MAX;

/// Module-level counts and indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ModuleEntry {
    /// Imported functions (they come first in the function index space).
    pub imported_funcs: U32,
    /// Imported tables.
    pub imported_tables: U32,
    /// Imported memories.
    pub imported_memories: U32,
    /// Imported globals.
    pub imported_globals: U32,
    /// Start function index or [`NULL_FUNC`].
    pub start_func: U32,
    /// `VMFuncRef` slots in the VMContext: one per imported function (slot = function index),
    /// then one per defined function that can be referenced (exported, in an element segment, or
    /// named by `ref.func` in a constant expression), in function index order. Other functions
    /// are only ever called directly, and get none.
    pub func_refs: U32,
    /// Module name from the name section (a string), empty if none.
    pub name: StrRef,
}

/// A string in the `Strings` blob.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct StrRef {
    /// Offset in the blob.
    pub offset: U32,
    /// Length in bytes.
    pub len: U32,
}

/// A constant expression in the `Exprs` blob.
pub type ExprRef = StrRef;

/// Kinds of types ([`TypeEntry::kind`]).
pub mod type_kind {
    /// A function type: `params` then `results` value types.
    pub const FUNC: u8 = 0;
    /// A struct type: `params` field words, no results.
    pub const STRUCT: u8 = 1;
    /// An array type: one field word (`params` = 1), no results.
    pub const ARRAY: u8 = 2;
}

/// [`TypeEntry::flags`] bit: the type is final (no type may declare it as its supertype).
pub const TYPE_FINAL: u8 = 1 << 0;
/// No type: a type without a declared supertype.
pub const NO_TYPE: u32 = u32::MAX;

/// A type of the type section, with its place in its recursion group (the unit of type
/// equivalence across modules, SPEC.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TypeEntry {
    /// [`type_kind`].
    pub kind: u8,
    /// `TYPE_*` bits.
    pub flags: u8,
    /// Reserved, zero.
    pub reserved: [u8; 2],
    /// Index of the first type of its recursion group.
    pub rec_group: U32,
    /// Number of types in its recursion group.
    pub rec_group_len: U32,
    /// Index of its declared supertype, or [`NO_TYPE`].
    pub supertype: U32,
    /// First of its words in `ValTypes`: parameters then results, or fields.
    pub valtypes: U32,
    /// Number of parameters (fields of a struct; 1 for an array).
    pub params: U32,
    /// Number of results (0 for structs and arrays).
    pub results: U32,
    /// Text offset of the host-to-guest entry trampoline for this type, or [`NO_CODE`].
    pub entry_trampoline: U32,
    /// Text offset of the guest-to-host adapter for this type, or [`NO_CODE`].
    pub host_adapter: U32,
}

/// Import kinds.
pub mod extern_kind {
    /// A function.
    pub const FUNC: u8 = 0;
    /// A table.
    pub const TABLE: u8 = 1;
    /// A memory.
    pub const MEMORY: u8 = 2;
    /// A global.
    pub const GLOBAL: u8 = 3;
    /// An exception tag.
    pub const TAG: u8 = 4;
}

/// An import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ImportEntry {
    /// Module name.
    pub module: StrRef,
    /// Field name.
    pub name: StrRef,
    /// [`extern_kind`].
    pub kind: u8,
    /// Reserved, zero.
    pub reserved: [u8; 3],
    /// Index in the kind's index space (the function, table, memory or global index).
    pub index: U32,
    /// For functions and tags, the type index.
    pub type_index: U32,
}

/// A defined function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct FunctionEntry {
    /// Type index.
    pub type_index: U32,
    /// Offset of the code in the text region.
    pub code_offset: U32,
    /// Code length.
    pub code_len: U32,
    /// Name from the name section, or empty.
    pub name: StrRef,
    /// Offset of the function body in the wasm binary (for the address map).
    pub wasm_offset: U32,
    /// Slot of its `VMFuncRef` in the VMContext, or [`NO_FUNC_REF`] for a function that cannot
    /// be referenced (see [`ModuleEntry::func_refs`]).
    pub func_ref: U32,
}

/// [`FunctionEntry::func_ref`] of a function that has no `VMFuncRef`.
pub const NO_FUNC_REF: u32 = u32::MAX;

/// `flags` bit of tables and memories: imported.
pub const LIMITS_IMPORTED: u8 = 1 << 0;
/// `flags` bit of tables and memories: has a maximum.
pub const LIMITS_HAS_MAX: u8 = 1 << 1;
/// `flags` bit of memories: shared.
pub const LIMITS_SHARED: u8 = 1 << 2;
/// `flags` bit of tables and memories: 64-bit indices.
pub const LIMITS_64: u8 = 1 << 3;

/// A table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TableEntry {
    /// Element type ([`crate::valtype`] word).
    pub elem_type: U32,
    /// `LIMITS_*` bits.
    pub flags: u8,
    /// Reserved, zero.
    pub reserved: [u8; 3],
    /// Minimum size in elements.
    pub min: U64,
    /// Maximum size in elements, if [`LIMITS_HAS_MAX`].
    pub max: U64,
    /// Initial value of the elements for defined tables; empty means null.
    pub init: ExprRef,
}

/// How generated code keeps a memory's accesses in bounds (`MemoryEntry::bounds_check`); the
/// loader must set the memory up for it.
pub mod bounds_check {
    /// No check for static offsets up to the guard: the memory must be a
    /// `memory_reservation` + `memory_guard` reservation (header), so a 32-bit index cannot leave
    /// it. Only for 32-bit memories.
    pub const GUARD_PAGES: u8 = 0;
    /// Every access is compared with the memory's current length: any reservation at least as
    /// large as the accessible bytes will do. What 64-bit memories use, and 32-bit ones compiled
    /// with explicit checks.
    pub const EXPLICIT: u8 = 1;
}

/// A linear memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MemoryEntry {
    /// `LIMITS_*` bits ([`LIMITS_64`]: the memory's addresses are i64).
    pub flags: u8,
    /// [`bounds_check`] strategy of the code.
    pub bounds_check: u8,
    /// Reserved, zero.
    pub reserved: [u8; 2],
    /// Minimum size in pages.
    pub min_pages: U64,
    /// Maximum size in pages, if [`LIMITS_HAS_MAX`].
    pub max_pages: U64,
}

/// A global.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GlobalEntry {
    /// Value type ([`crate::valtype`] word).
    pub val_type: U32,
    /// 1 if mutable.
    pub mutable: u8,
    /// 1 if imported.
    pub imported: u8,
    /// Reserved, zero.
    pub reserved: [u8; 2],
    /// Initializer of a defined global.
    pub init: ExprRef,
}

/// An export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ExportEntry {
    /// Export name.
    pub name: StrRef,
    /// [`extern_kind`].
    pub kind: u8,
    /// Reserved, zero.
    pub reserved: [u8; 3],
    /// Index in the kind's index space.
    pub index: U32,
}

/// Segment modes.
pub mod segment_mode {
    /// Copied into the table or memory at instantiation.
    pub const ACTIVE: u8 = 0;
    /// Available to `table.init` / `memory.init`.
    pub const PASSIVE: u8 = 1;
    /// Element segment that only declares functions for `ref.func`.
    pub const DECLARED: u8 = 2;
}

/// `ElementEntry::items_kind`: items are function indices in `ElemFuncs`.
pub const ELEM_ITEMS_FUNCS: u8 = 0;
/// `ElementEntry::items_kind`: items are expressions listed in `ElemExprs`.
pub const ELEM_ITEMS_EXPRS: u8 = 1;

/// An element segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ElementEntry {
    /// [`segment_mode`].
    pub mode: u8,
    /// `ELEM_ITEMS_*`.
    pub items_kind: u8,
    /// Reserved, zero.
    pub reserved: [u8; 2],
    /// Type of the items ([`crate::valtype`] word).
    pub elem_type: U32,
    /// Table index of an active segment.
    pub table: U32,
    /// Offset expression of an active segment.
    pub offset: ExprRef,
    /// First item in `ElemFuncs` or `ElemExprs`.
    pub items_start: U32,
    /// Number of items.
    pub items_count: U32,
}

/// A data segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct DataEntry {
    /// [`segment_mode`] (active or passive).
    pub mode: u8,
    /// Reserved, zero.
    pub reserved: [u8; 3],
    /// Memory index of an active segment.
    pub memory: U32,
    /// Offset expression of an active segment.
    pub offset: ExprRef,
    /// Offset of the bytes in the data region; page-aligned.
    pub image_offset: U64,
    /// Number of bytes.
    pub len: U64,
}

/// One block of a code map (the trap table or the address map): a sorted list of
/// `(code_offset, value)` entries, stored as a sparse index of absolute entries, one per block
/// of at most [`CODE_MAP_BLOCK`] entries, each followed by the delta-coded rest of its block in the
/// map's runs blob (SPEC.md §3, code maps). A lookup binary-searches the blocks, then decodes at
/// most one block's run in place.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CodeMapBlock {
    /// Text offset of the block's first entry.
    pub code_offset: U32,
    /// Value of the block's first entry: a [`crate::TrapKind`] code, or a wasm offset.
    pub value: U32,
    /// Offset in the runs blob of the block's other entries, which end where the next block's
    /// start (the last block's at the end of the blob).
    pub run_offset: U32,
}

/// The most entries a writer puts in one [`CodeMapBlock`]: a lookup decodes at most this many
/// minus one. A reader does not rely on it (a block's run ends where the next one starts).
pub const CODE_MAP_BLOCK: usize = 64;

/// The initial contents of a defined memory as one page-aligned image: all of its active data
/// segments (constant offsets, in bounds of the initial size) merged in order. A loader maps it
/// copy-on-write with one `mmap` instead of applying the segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MemoryImageEntry {
    /// Memory index (a defined memory).
    pub memory: U32,
    /// Reserved, zero.
    pub reserved: U32,
    /// Where the image starts in linear memory; region-aligned.
    pub memory_offset: U64,
    /// Offset of the image in the data region; region-aligned.
    pub image_offset: U64,
    /// Length; a multiple of the region alignment.
    pub len: U64,
}

/// An exception tag: its type is a function type with no results, whose parameters are the
/// exception's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TagEntry {
    /// Type index.
    pub type_index: U32,
    /// 1 if imported.
    pub imported: u8,
    /// Reserved, zero.
    pub reserved: [u8; 3],
}

/// A call inside a `try_table` (or several): where its handlers are and how to find the catching
/// frame's state when an exception reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CallSiteEntry {
    /// Text offset of the call's return address.
    pub ret_offset: U32,
    /// Frame pointer minus stack pointer at the call: a handler runs with SP = FP - this.
    pub frame_offset: U32,
    /// Where the calling function's VMContext is saved: an offset from that SP.
    pub vmctx_sp_offset: U32,
    /// First handler in `Handlers`.
    pub handlers_start: U32,
    /// Number of handlers.
    pub handlers_count: U32,
}

/// [`HandlerEntry::tag`] of `catch_all` and `catch_all_ref`.
pub const CATCH_ALL: u32 = u32::MAX;

/// [`HandlerEntry::flags`] bit: the handler takes the exception reference (`catch_ref`,
/// `catch_all_ref`), so the exception object outlives the catch.
pub const HANDLER_REF: u8 = 1;

/// One handler of a call site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct HandlerEntry {
    /// Tag index in the calling module, or [`CATCH_ALL`].
    pub tag: U32,
    /// Text offset of the landing pad.
    pub landing_offset: U32,
    /// `HANDLER_*` bits.
    pub flags: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entry sizes are part of the format (SPEC.md §3): changing one is a new format major.
    #[test]
    fn entries_have_stable_sizes() {
        let sizes: Vec<(&str, usize)> = TableId::ALL
            .iter()
            .map(|t| (t.name(), t.entry_size()))
            .collect();
        assert_eq!(
            sizes,
            [
                ("Types", 36),
                ("Imports", 28),
                ("Functions", 28),
                ("Tables", 32),
                ("Memories", 20),
                ("Globals", 16),
                ("Exports", 16),
                ("Elements", 28),
                ("Data", 32),
                ("TrapBlocks", 12),
                ("TrapRuns", 1),
                ("Strings", 1),
                ("ValTypes", 4),
                ("Exprs", 1),
                ("ElemFuncs", 4),
                ("ElemExprs", 8),
                ("AddressMapBlocks", 12),
                ("AddressMapRuns", 1),
                ("MemoryImages", 32),
                ("Tags", 8),
                ("CallSites", 20),
                ("Handlers", 9),
            ]
        );
        assert_eq!(TABLE_COUNT, 22);
        assert_eq!(
            size_of::<MetaDirectory>(),
            TABLE_COUNT * 12 + size_of::<ModuleEntry>()
        );
    }
}
