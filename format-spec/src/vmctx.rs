//! The run-time ABI shared by generated code and the loader: the VMContext layout, the records it
//! points to, the builtin functions and the calling conventions.
//!
//! Generated code never refers to a symbol: everything it needs beyond its own module's code is
//! reached through the VMContext, whose address is every function's first argument. Offsets are in
//! bytes; all pointers are 8 bytes (Kiln targets only 64-bit architectures).

/// Pointer size on every supported target.
pub const PTR: u32 = 8;

/// VMContext offset of `*mut VMStoreContext`.
pub const VMCTX_STORE: u32 = 0;
/// VMContext offset of `*const [usize; BUILTIN_COUNT]`, the builtin function table.
pub const VMCTX_BUILTINS: u32 = 8;
/// VMContext offset of `*const u32`: the canonical id of each of the module's types, indexed by
/// type index. Two types have the same id if and only if they are the same function type.
pub const VMCTX_TYPE_IDS: u32 = 16;
/// VMContext offset of the loader's private instance pointer, used by builtins.
pub const VMCTX_INSTANCE: u32 = 24;
/// Size of the fixed part of the VMContext.
pub const VMCTX_FIXED_SIZE: u32 = 32;

/// `VMStoreContext` offset of the stack limit: the lowest stack address guest code may use.
pub const STORE_STACK_LIMIT: u32 = 0;

/// `VMFuncRef`: what a `funcref` points to and what `call_indirect` calls.
/// `{ code: *const u8, type_id: u32, _pad: u32, vmctx: *mut VMContext }`.
pub const FUNCREF_CODE: u32 = 0;
/// `VMFuncRef` offset of the canonical type id (u32).
pub const FUNCREF_TYPE_ID: u32 = 8;
/// `VMFuncRef` offset of the callee's VMContext.
pub const FUNCREF_VMCTX: u32 = 16;
/// Size of `VMFuncRef`.
pub const FUNCREF_SIZE: u32 = 24;

/// Per-memory record in the VMContext, `{ base: *mut u8, def: *mut VMMemoryDef }`. The base never
/// changes after instantiation (memories are reserved at their maximum), so code may cache it.
pub const MEMREF_BASE: u32 = 0;
/// Offset of the pointer to the owning `VMMemoryDef` (defined here or in the exporting instance).
pub const MEMREF_DEF: u32 = 8;
/// Size of a memory record.
pub const MEMREF_SIZE: u32 = 16;
/// `VMMemoryDef { base: *mut u8, length: u64 }`: offset of the current length in bytes.
pub const MEMDEF_LENGTH: u32 = 8;
/// Size of `VMMemoryDef`.
pub const MEMDEF_SIZE: u32 = 16;

/// `VMTableDef { base: *mut u64, length: u64 }`: offset of the element array pointer. Elements are
/// 8 bytes: a `*const VMFuncRef` for `funcref` (0 is null), an opaque handle for `externref`.
pub const TABLEDEF_BASE: u32 = 0;
/// Offset of the current length in elements.
pub const TABLEDEF_LENGTH: u32 = 8;
/// Size of `VMTableDef`.
pub const TABLEDEF_SIZE: u32 = 16;
/// Size of a table element.
pub const TABLE_ELEM_SIZE: u32 = 8;

/// Size of a global's storage (large enough for `v128`).
pub const GLOBAL_SIZE: u32 = 16;

/// Size of one value slot in the arrays that trampolines and host calls exchange.
pub const VALUE_SLOT_SIZE: u32 = 16;

/// `VMHostFuncContext`: the callee VMContext of a host function. Its first word is
/// `dispatch: extern "C" fn(host_ctx, caller_vmctx, values: *mut [u128]) -> u32`, called by the
/// artifact's host adapter with the arguments in `values`; it writes the results there and returns 0,
/// or returns non-zero to make the adapter trap with [`crate::TrapKind::HostError`].
pub const HOSTCTX_DISPATCH: u32 = 0;

/// The builtin functions, in table order. Each takes the caller's VMContext first. Builtins that can
/// fail return a `u32` that is non-zero on failure; the caller then traps with the kind given by
/// [`Builtin::trap_kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Builtin {
    /// `(vmctx, mem: u32, delta_pages: u64) -> u64`: old size in pages, or `u64::MAX`.
    MemoryGrow = 0,
    /// `(vmctx, mem: u32, dst: u64, byte: u32, len: u64) -> u32`.
    MemoryFill,
    /// `(vmctx, dst_mem: u32, src_mem: u32, dst: u64, src: u64, len: u64) -> u32`.
    MemoryCopy,
    /// `(vmctx, mem: u32, data: u32, dst: u64, src: u32, len: u32) -> u32`.
    MemoryInit,
    /// `(vmctx, data: u32)`.
    DataDrop,
    /// `(vmctx, table: u32, init: u64, delta: u64) -> u64`: old size, or `u64::MAX`.
    TableGrow,
    /// `(vmctx, table: u32, dst: u64, value: u64, len: u64) -> u32`.
    TableFill,
    /// `(vmctx, dst_table: u32, src_table: u32, dst: u64, src: u64, len: u64) -> u32`.
    TableCopy,
    /// `(vmctx, table: u32, elem: u32, dst: u64, src: u32, len: u32) -> u32`.
    TableInit,
    /// `(vmctx, elem: u32)`.
    ElemDrop,
}

/// Number of builtins.
pub const BUILTIN_COUNT: usize = 10;

impl Builtin {
    /// The trap a non-zero result of this builtin turns into, if it can fail.
    pub fn trap_kind(self) -> Option<crate::TrapKind> {
        use crate::TrapKind::*;
        match self {
            Builtin::MemoryFill | Builtin::MemoryCopy | Builtin::MemoryInit => {
                Some(MemoryOutOfBounds)
            }
            Builtin::TableFill | Builtin::TableCopy | Builtin::TableInit => Some(TableOutOfBounds),
            Builtin::MemoryGrow | Builtin::TableGrow | Builtin::DataDrop | Builtin::ElemDrop => {
                None
            }
        }
    }
}

/// Value-type codes (the WebAssembly binary encoding).
pub mod val_type {
    /// `i32`.
    pub const I32: u8 = 0x7f;
    /// `i64`.
    pub const I64: u8 = 0x7e;
    /// `f32`.
    pub const F32: u8 = 0x7d;
    /// `f64`.
    pub const F64: u8 = 0x7c;
    /// `v128`.
    pub const V128: u8 = 0x7b;
    /// `funcref`.
    pub const FUNCREF: u8 = 0x70;
    /// `externref`.
    pub const EXTERNREF: u8 = 0x6f;
}

/// Counts that determine a module's VMContext layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmctxCounts {
    /// `VMFuncRef` slots: every imported function, then the defined functions that can be
    /// referenced (`ModuleEntry::func_refs`).
    pub func_refs: u32,
    /// All memories.
    pub memories: u32,
    /// Imported memories.
    pub imported_memories: u32,
    /// All tables.
    pub tables: u32,
    /// Imported tables.
    pub imported_tables: u32,
    /// All globals.
    pub globals: u32,
    /// Imported globals.
    pub imported_globals: u32,
}

/// Where each array of a module's VMContext starts.
///
/// ```text
/// fixed part        VMCTX_FIXED_SIZE bytes (store, builtins, type ids, instance)
/// memories          [MemRef; memories]            { base, def: *mut VMMemoryDef }
/// tables            [*mut VMTableDef; tables]
/// imported_globals  [*mut [u8; 16]; imported globals]
/// global_defs       [[u8; 16]; defined globals]   (16-byte aligned)
/// func_refs         [VMFuncRef; func_refs]        { code, type_id, vmctx }
/// ```
///
/// Memory and table definitions live outside the VMContext, at stable addresses owned by the
/// loader, so that they can be shared with other instances that import them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmctxLayout {
    /// The counts this layout was computed from.
    pub counts: VmctxCounts,
    /// Offset of `memories`.
    pub memories: u32,
    /// Offset of `tables`.
    pub tables: u32,
    /// Offset of `imported_globals`.
    pub imported_globals: u32,
    /// Offset of `global_defs`.
    pub global_defs: u32,
    /// Offset of `func_refs`.
    pub func_refs: u32,
    /// Total size (16-byte aligned).
    pub size: u32,
}

impl VmctxLayout {
    /// Computes the layout for `counts`.
    pub fn new(counts: VmctxCounts) -> VmctxLayout {
        let defined_globals = counts.globals - counts.imported_globals;
        let memories = VMCTX_FIXED_SIZE;
        let tables = memories + MEMREF_SIZE * counts.memories;
        let imported_globals = tables + PTR * counts.tables;
        let global_defs = align16(imported_globals + PTR * counts.imported_globals);
        let func_refs = global_defs + GLOBAL_SIZE * defined_globals;
        let size = align16(func_refs + FUNCREF_SIZE * counts.func_refs);
        VmctxLayout {
            counts,
            memories,
            tables,
            imported_globals,
            global_defs,
            func_refs,
            size,
        }
    }

    /// Offset of memory `index`'s `{ base, def }` record.
    pub fn memory(&self, index: u32) -> u32 {
        self.memories + MEMREF_SIZE * index
    }

    /// Offset of table `index`'s `*mut VMTableDef`.
    pub fn table(&self, index: u32) -> u32 {
        self.tables + PTR * index
    }

    /// Offset of the pointer to imported global `index`.
    pub fn imported_global(&self, index: u32) -> u32 {
        self.imported_globals + PTR * index
    }

    /// Offset of the storage of defined global `defined_index`.
    pub fn global_def(&self, defined_index: u32) -> u32 {
        self.global_defs + GLOBAL_SIZE * defined_index
    }

    /// Offset of the `VMFuncRef` in slot `slot` (an imported function's slot is its index).
    pub fn func_ref(&self, slot: u32) -> u32 {
        self.func_refs + FUNCREF_SIZE * slot
    }
}

fn align16(n: u32) -> u32 {
    (n + 15) & !15
}

/// Bytes of address space reserved for every linear memory: all of a 32-bit index space.
pub const MEMORY_RESERVATION: u64 = 1 << 32;
/// Bytes of inaccessible guard after the reservation. A 32-bit access whose static offset plus
/// access size is at most this needs no explicit bounds check: it either hits accessible memory or
/// faults in the reservation or the guard.
pub const MEMORY_GUARD: u64 = 2 << 30;
