//! The run-time ABI shared by generated code and the loader: the VMContext layout and the records
//! it points to.
//!
//! Generated code never refers to a symbol: everything it needs beyond its own module's code is
//! reached through the VMContext, whose address is every function's first argument.
//!
//! Each record is defined once, as a `#[repr(C)]` struct below; the offsets generated code uses are
//! derived from those structs with `offset_of!`, and the loader reads and writes the same structs.
//! Kiln targets only 64-bit architectures, where these layouts are the same on every target (the
//! fields are pointers and fixed-size integers), so a compiler running on one host computes the
//! layout of every target.

use std::marker::{PhantomData, PhantomPinned};
use std::mem::offset_of;

/// Pointer size on every supported target.
pub const PTR: u32 = 8;

const _: () = assert!(
    size_of::<usize>() == PTR as usize,
    "Kiln runs on, and compiles for, 64-bit targets only"
);

/// An instance's VMContext, opaque: generated code and the loader reach its fields through the
/// offsets of a [`VmctxLayout`].
#[repr(C)]
pub struct VMContext {
    _opaque: [u8; 0],
    _pinned: PhantomData<PhantomPinned>,
}

/// The fixed part at the start of every VMContext.
#[repr(C)]
pub struct VMContextHeader {
    /// The store's run-time state.
    pub store: *mut VMStoreContext,
    /// The builtin function table, [`crate::Builtin::COUNT`] code addresses in
    /// [`crate::Builtin`] order.
    pub builtins: *const usize,
    /// The canonical id of each of the module's types, indexed by type index. Two types have the
    /// same id if and only if they are the same function type.
    pub type_ids: *const u32,
    /// Loader-private: how the loader finds this instance and its store from generated code's
    /// calls (builtins, host functions). Generated code never reads it.
    pub host: *const (),
}

/// VMContext offset of [`VMContextHeader::store`].
pub const VMCTX_STORE: u32 = offset_of!(VMContextHeader, store) as u32;
/// VMContext offset of [`VMContextHeader::builtins`].
pub const VMCTX_BUILTINS: u32 = offset_of!(VMContextHeader, builtins) as u32;
/// VMContext offset of [`VMContextHeader::type_ids`].
pub const VMCTX_TYPE_IDS: u32 = offset_of!(VMContextHeader, type_ids) as u32;
/// VMContext offset of [`VMContextHeader::host`].
pub const VMCTX_HOST: u32 = offset_of!(VMContextHeader, host) as u32;
/// Size of the fixed part of the VMContext.
pub const VMCTX_FIXED_SIZE: u32 = size_of::<VMContextHeader>() as u32;

/// The run-time state of a store that generated code reads and writes, shared by all its
/// instances.
#[repr(C)]
pub struct VMStoreContext {
    /// The lowest stack address guest code may use: every function's prologue compares the
    /// stack pointer with it.
    pub stack_limit: usize,
    /// Fuel metering (artifacts compiled with fuel): fuel consumed minus fuel given, so the
    /// negation of the fuel left. Code adds each basic block's cost and, at function entries and
    /// loop headers, traps with `OutOfFuel` once it is no longer negative. Code may keep it in a
    /// register and writes it back before every call and return.
    pub fuel_consumed: i64,
    /// Epoch interruption (artifacts compiled with it): the epoch at which guest code calls the
    /// `epoch_interrupt` builtin. Code may cache it and reloads it after every call.
    pub epoch_deadline: u64,
    /// The engine's epoch counter (an atomic `u64` that any thread may increment), read by code
    /// at function entries and loop headers. Aligned 64-bit loads are atomic on every target.
    pub epoch_counter: *const u64,
}

/// `VMStoreContext` offset of the stack limit.
pub const STORE_STACK_LIMIT: u32 = offset_of!(VMStoreContext, stack_limit) as u32;
/// `VMStoreContext` offset of the fuel consumed (i64).
pub const STORE_FUEL_CONSUMED: u32 = offset_of!(VMStoreContext, fuel_consumed) as u32;
/// `VMStoreContext` offset of the epoch deadline (u64).
pub const STORE_EPOCH_DEADLINE: u32 = offset_of!(VMStoreContext, epoch_deadline) as u32;
/// `VMStoreContext` offset of the pointer to the epoch counter.
pub const STORE_EPOCH_COUNTER: u32 = offset_of!(VMStoreContext, epoch_counter) as u32;

/// What a `funcref` points to and what `call_indirect` calls.
#[repr(C)]
pub struct VMFuncRef {
    /// The function's code (for a host function, the host adapter of its type).
    pub code: *const u8,
    /// The canonical id of its type.
    pub type_id: u32,
    /// Zero.
    pub pad: u32,
    /// The VMContext to call it with (for a host function, its [`VMHostFuncContext`]).
    pub vmctx: *mut VMContext,
}

/// `VMFuncRef` offset of the code address.
pub const FUNCREF_CODE: u32 = offset_of!(VMFuncRef, code) as u32;
/// `VMFuncRef` offset of the canonical type id (u32).
pub const FUNCREF_TYPE_ID: u32 = offset_of!(VMFuncRef, type_id) as u32;
/// `VMFuncRef` offset of the callee's VMContext.
pub const FUNCREF_VMCTX: u32 = offset_of!(VMFuncRef, vmctx) as u32;
/// Size of `VMFuncRef`.
pub const FUNCREF_SIZE: u32 = size_of::<VMFuncRef>() as u32;

/// A memory's record in the VMContext. The base never changes after instantiation (memories are
/// reserved at their maximum), so code may cache it.
#[repr(C)]
pub struct VMMemoryRef {
    /// The memory's base address.
    pub base: *mut u8,
    /// The memory's definition (here or in the exporting instance).
    pub def: *mut VMMemoryDef,
}

/// `VMMemoryRef` offset of the base.
pub const MEMREF_BASE: u32 = offset_of!(VMMemoryRef, base) as u32;
/// `VMMemoryRef` offset of the definition pointer.
pub const MEMREF_DEF: u32 = offset_of!(VMMemoryRef, def) as u32;
/// Size of `VMMemoryRef`.
pub const MEMREF_SIZE: u32 = size_of::<VMMemoryRef>() as u32;

/// A linear memory's definition, at a stable address owned by the loader.
#[repr(C)]
pub struct VMMemoryDef {
    /// The base address.
    pub base: *mut u8,
    /// The accessible length in bytes.
    pub length: u64,
}

/// `VMMemoryDef` offset of the current length in bytes.
pub const MEMDEF_LENGTH: u32 = offset_of!(VMMemoryDef, length) as u32;
/// Size of `VMMemoryDef`.
pub const MEMDEF_SIZE: u32 = size_of::<VMMemoryDef>() as u32;

/// A table's definition, at a stable address owned by the loader. Elements are 8 bytes: a
/// `*const VMFuncRef` for `funcref` (0 is null), an opaque handle for `externref`.
#[repr(C)]
pub struct VMTableDef {
    /// The element array (it moves when the table grows).
    pub base: *mut u64,
    /// The current length in elements.
    pub length: u64,
}

/// `VMTableDef` offset of the element array pointer.
pub const TABLEDEF_BASE: u32 = offset_of!(VMTableDef, base) as u32;
/// `VMTableDef` offset of the current length in elements.
pub const TABLEDEF_LENGTH: u32 = offset_of!(VMTableDef, length) as u32;
/// Size of `VMTableDef`.
pub const TABLEDEF_SIZE: u32 = size_of::<VMTableDef>() as u32;
/// Size of a table element.
pub const TABLE_ELEM_SIZE: u32 = size_of::<u64>() as u32;

/// A global's storage: 16 bytes, large enough for `v128`, holding the value in its low bits in
/// native byte order.
#[repr(C, align(16))]
pub struct VMGlobal {
    /// The value.
    pub raw: u128,
}

/// Size of a global's storage.
pub const GLOBAL_SIZE: u32 = size_of::<VMGlobal>() as u32;

/// Size of one value slot in the arrays that entry trampolines and host adapters exchange: a
/// value in its low bits, as in [`VMGlobal`].
pub const VALUE_SLOT_SIZE: u32 = size_of::<u128>() as u32;

/// The callee VMContext of a host function, as its host adapter sees it: a header that the loader
/// embeds at the start of its own host function record.
#[repr(C)]
pub struct VMHostFuncContext {
    /// Called by the host adapter with the arguments in `values` (`max(params, results)` slots);
    /// writes the results there and returns [`DISPATCH_OK`], or returns [`DISPATCH_EXCEPTION`]
    /// (the host function threw a guest exception, which the loader keeps: the adapter calls the
    /// `throw_pending` builtin) or [`DISPATCH_ERROR`] (any other non-zero value does the same) to
    /// make the adapter trap with [`crate::TrapKind::HostError`].
    pub dispatch: unsafe extern "C" fn(
        host_ctx: *const VMHostFuncContext,
        caller_vmctx: *mut VMContext,
        values: *mut u128,
    ) -> u32,
}

/// `dispatch` result: the results are in the slots.
pub const DISPATCH_OK: u32 = 0;
/// `dispatch` result: the host function failed (the loader keeps the error); the adapter traps
/// with [`crate::TrapKind::HostError`].
pub const DISPATCH_ERROR: u32 = 1;
/// `dispatch` result: the host function threw an exception.
pub const DISPATCH_EXCEPTION: u32 = 2;

/// `VMHostFuncContext` offset of `dispatch`.
pub const HOSTCTX_DISPATCH: u32 = offset_of!(VMHostFuncContext, dispatch) as u32;

/// Offset of the payload in an exception object (what an `exnref` points to): one value slot
/// ([`VALUE_SLOT_SIZE`]) per parameter of the exception's tag, after a header only the loader
/// reads. A landing pad loads the payload from here.
pub const EXN_PAYLOAD: u32 = VALUE_SLOT_SIZE;

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

/// The offset of a field of type `T` in a VMContext: what [`VmctxLayout`] hands out, so that the
/// loader accesses each offset with the type that lives there.
#[derive(Debug)]
pub struct Field<T> {
    offset: u32,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Field<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Field<T> {}

impl<T> Field<T> {
    const fn at(offset: u32) -> Field<T> {
        Field {
            offset,
            _type: PhantomData,
        }
    }

    /// The offset in bytes from the start of the VMContext.
    pub fn offset(self) -> u32 {
        self.offset
    }
}

/// Where each array of a module's VMContext starts.
///
/// ```text
/// fixed part        VMContextHeader               { store, builtins, type ids, instance }
/// memories          [VMMemoryRef; memories]       { base, def: *mut VMMemoryDef }
/// tables            [*mut VMTableDef; tables]
/// imported_globals  [*mut VMGlobal; imported globals]
/// global_defs       [VMGlobal; defined globals]   (16-byte aligned)
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

/// The fixed fields, with their types.
impl VmctxLayout {
    /// [`VMContextHeader::store`].
    pub const STORE: Field<*mut VMStoreContext> = Field::at(VMCTX_STORE);
    /// [`VMContextHeader::builtins`].
    pub const BUILTINS: Field<*const usize> = Field::at(VMCTX_BUILTINS);
    /// [`VMContextHeader::type_ids`].
    pub const TYPE_IDS: Field<*const u32> = Field::at(VMCTX_TYPE_IDS);
    /// [`VMContextHeader::host`].
    pub const HOST: Field<*const ()> = Field::at(VMCTX_HOST);
}

impl VmctxLayout {
    /// Computes the layout for `counts`. Callers bound the counts (the loader by WebAssembly's
    /// implementation limits) so that every offset fits in `u32`.
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

    /// Memory `index`'s record.
    pub fn memory(&self, index: u32) -> Field<VMMemoryRef> {
        Field::at(self.memories + MEMREF_SIZE * index)
    }

    /// Table `index`'s definition pointer.
    pub fn table(&self, index: u32) -> Field<*mut VMTableDef> {
        Field::at(self.tables + PTR * index)
    }

    /// The pointer to imported global `index`'s storage.
    pub fn imported_global(&self, index: u32) -> Field<*mut VMGlobal> {
        Field::at(self.imported_globals + PTR * index)
    }

    /// The storage of defined global `defined_index`.
    pub fn global_def(&self, defined_index: u32) -> Field<VMGlobal> {
        Field::at(self.global_defs + GLOBAL_SIZE * defined_index)
    }

    /// The `VMFuncRef` in slot `slot` (an imported function's slot is its index).
    pub fn func_ref(&self, slot: u32) -> Field<VMFuncRef> {
        Field::at(self.func_refs + FUNCREF_SIZE * slot)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout SPEC.md §6 gives, byte for byte: changing any of it is a new format major.
    #[test]
    fn records_have_the_documented_layout() {
        assert_eq!(
            (VMCTX_STORE, VMCTX_BUILTINS, VMCTX_TYPE_IDS, VMCTX_HOST),
            (0, 8, 16, 24)
        );
        assert_eq!(VMCTX_FIXED_SIZE, 32);
        assert_eq!(
            (
                STORE_STACK_LIMIT,
                STORE_FUEL_CONSUMED,
                STORE_EPOCH_DEADLINE,
                STORE_EPOCH_COUNTER
            ),
            (0, 8, 16, 24)
        );
        assert_eq!(
            (FUNCREF_CODE, FUNCREF_TYPE_ID, FUNCREF_VMCTX, FUNCREF_SIZE),
            (0, 8, 16, 24)
        );
        assert_eq!((MEMREF_BASE, MEMREF_DEF, MEMREF_SIZE), (0, 8, 16));
        assert_eq!((MEMDEF_LENGTH, MEMDEF_SIZE), (8, 16));
        assert_eq!((TABLEDEF_BASE, TABLEDEF_LENGTH, TABLEDEF_SIZE), (0, 8, 16));
        assert_eq!((GLOBAL_SIZE, align_of::<VMGlobal>()), (16, 16));
        assert_eq!(HOSTCTX_DISPATCH, 0);
    }

    #[test]
    fn layout_places_arrays_in_order_and_aligned() {
        let counts = VmctxCounts {
            func_refs: 3,
            memories: 2,
            imported_memories: 1,
            tables: 1,
            imported_tables: 0,
            globals: 3,
            imported_globals: 1,
        };
        let l = VmctxLayout::new(counts);
        assert_eq!(l.memories, 32);
        assert_eq!(l.memory(1).offset(), 48);
        assert_eq!(l.tables, 64);
        assert_eq!(l.imported_globals, 72);
        assert_eq!(l.global_defs, 80);
        assert_eq!(l.global_def(1).offset(), 96);
        assert_eq!(l.func_refs, 112);
        assert_eq!(l.func_ref(2).offset(), 160);
        assert_eq!(l.size, 192);
        assert_eq!(l.size % 16, 0);
        let empty = VmctxLayout::new(VmctxCounts::default());
        assert_eq!(empty.size, VMCTX_FIXED_SIZE);
    }
}
