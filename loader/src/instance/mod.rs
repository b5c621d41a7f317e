//! Instances: a VMContext, the memories, tables and globals it points to, and the artifact's code.

mod init;
mod link;

pub(crate) use init::elem_item;

use crate::artifact::Artifact;
use crate::constexpr::ConstEnv;
use crate::func::{Func, FuncKind};
use crate::global::Global;
use crate::imports::{Extern, Imports};
use crate::memory::Memory;
use crate::store::Store;
use crate::table::Table;
use crate::trap::Trap;
use crate::values::{FuncType, ValType};
use kiln_format::tables::extern_kind;
use kiln_format::vmctx::*;
use kiln_format::FormatError;
use std::alloc::Layout;
use std::cell::Cell;
use std::sync::Arc;

/// Why instantiation failed.
#[derive(Debug, thiserror::Error)]
pub enum InstantiateError {
    /// An import is missing or has the wrong type.
    #[error("{0}")]
    Link(String),
    /// The artifact is damaged, foreign or incompatible with this machine (found when it was
    /// validated, at its first use).
    #[error(transparent)]
    Load(#[from] crate::LoadError),
    /// The artifact's metadata is inconsistent.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A memory or table could not be created.
    #[error("{0}")]
    Resource(String),
    /// A segment was out of bounds, or the start function trapped.
    #[error("{0}")]
    Trap(Trap),
}

/// An instance of an artifact in a store.
#[derive(Clone)]
pub struct Instance(pub(crate) Arc<InstanceInner>);

/// Function index → `VMFuncRef` address, for one instance.
pub(crate) struct FuncRefs<'a> {
    imported: u32,
    defined: &'a [crate::artifact::DefinedFunc],
    elem_slots: &'a [u32],
    count: u32,
    base: *mut u8,
}

impl FuncRefs<'_> {
    /// The table values of items `start..start + n` of the `ElemFuncs` table (`VMFuncRef`
    /// addresses, 0 for null).
    #[inline]
    pub(crate) fn elem_items(
        &self,
        start: usize,
        n: usize,
    ) -> Result<impl Iterator<Item = u64> + '_, FormatError> {
        let slots = self
            .elem_slots
            .get(start..start.saturating_add(n))
            .ok_or_else(|| FormatError::Corrupt("element items out of range".into()))?;
        Ok(slots.iter().map(|&slot| {
            if slot == kiln_format::tables::NULL_FUNC {
                0
            } else {
                // Every slot is below the count (checked when `elem_slots` was made).
                debug_assert!(slot < self.count);
                self.base as u64 + u64::from(slot) * u64::from(FUNCREF_SIZE)
            }
        }))
    }

    /// The address of function `index`'s `VMFuncRef`; `None` for a function that has none or
    /// does not exist.
    #[inline]
    pub(crate) fn get(&self, index: u32) -> Option<*mut u8> {
        let slot = if index < self.imported {
            index
        } else {
            self.defined.get((index - self.imported) as usize)?.slot
        };
        // `NO_FUNC_REF` is out of range; slots were checked against the count (`defined_funcs`).
        (slot < self.count).then(|| {
            // SAFETY: `slot < func_refs`: inside the VMContext's `func_refs` array.
            unsafe { self.base.add(slot as usize * FUNCREF_SIZE as usize) }
        })
    }
}

/// `VMFuncRef` as generated code sees it (`FUNCREF_*` offsets).
#[repr(C)]
struct VMFuncRef {
    code: usize,
    type_id: u32,
    _pad: u32,
    vmctx: usize,
}

const _: () = assert!(
    std::mem::size_of::<VMFuncRef>() == FUNCREF_SIZE as usize
        && std::mem::offset_of!(VMFuncRef, type_id) == FUNCREF_TYPE_ID as usize
        && std::mem::offset_of!(VMFuncRef, vmctx) == FUNCREF_VMCTX as usize
);

/// A zeroed, 16-byte aligned allocation for the VMContext. Generated code and the loader access it
/// only through raw pointers.
struct VmctxAlloc {
    ptr: *mut u8,
    layout: Layout,
}

impl VmctxAlloc {
    /// Allocates `size` bytes and zeroes the first `zeroed` of them. The rest (the function
    /// references, which instantiation overwrites in full) is left as is: for modules with
    /// thousands of functions, zeroing it would be most of the allocation's cost.
    fn new(size: u32, zeroed: u32) -> VmctxAlloc {
        let layout = Layout::from_size_align(size.max(16) as usize, 16).expect("valid layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: `zeroed <= size`, inside the allocation.
        unsafe { std::ptr::write_bytes(ptr, 0, zeroed.min(size) as usize) };
        VmctxAlloc { ptr, layout }
    }
}

impl Drop for VmctxAlloc {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

pub(crate) struct InstanceInner {
    pub store_id: u64,
    pub artifact: Artifact,
    pub layout: VmctxLayout,
    vmctx: VmctxAlloc,
    pub memories: Vec<Memory>,
    pub tables: Vec<Table>,
    imported_globals: Vec<Global>,
    /// Keeps imported functions' owners alive.
    imported_funcs: Vec<Func>,
    pub dropped_data: Vec<Cell<bool>>,
    pub dropped_elems: Vec<Cell<bool>>,
}

// SAFETY: an instance is only used while its store is borrowed; `&mut Store` serializes every
// call into guest code and every builtin that mutates instance state.
unsafe impl Send for InstanceInner {}
// SAFETY: as above.
unsafe impl Sync for InstanceInner {}

impl Instance {
    /// Instantiates `artifact` in `store` with `imports`: links imports, creates memories, tables
    /// and globals, applies active segments and runs the start function.
    ///
    /// If a segment is out of bounds or the start function traps, the error is returned, but the
    /// instance stays in the store: segments applied before the failure may have written its
    /// function references into imported tables.
    pub fn new(
        store: &mut Store,
        artifact: &Artifact,
        imports: &Imports,
    ) -> Result<Instance, InstantiateError> {
        let view = artifact.view()?;
        let counts = link::counts(&view)?;
        let layout = VmctxLayout::new(counts);
        if layout.size != view.header().vmctx_size.get() {
            return Err(
                FormatError::Corrupt("VMContext size does not match the module".into()).into(),
            );
        }
        artifact.type_ids()?;
        let linked = link::resolve(store, &view, imports)?;
        let memories = init::create_memories(store, &view, linked.memories)?;
        let tables = init::create_tables(store, &view, linked.tables)?;

        let vmctx = VmctxAlloc::new(layout.size, layout.func_refs);
        let inner = Arc::new(InstanceInner {
            store_id: store.id(),
            artifact: artifact.clone(),
            layout,
            vmctx,
            memories,
            tables,
            imported_globals: linked.globals,
            imported_funcs: linked.funcs.clone(),
            dropped_data: (0..view.data().len()).map(|_| Cell::new(false)).collect(),
            dropped_elems: (0..view.elements().len())
                .map(|_| Cell::new(false))
                .collect(),
        });
        inner.fill_vmctx(store, &linked.funcs)?;
        store.add_artifact(artifact);
        store.inner.instances.push(inner.clone());
        init::initialize(store, &inner)?;
        Ok(Instance(inner))
    }

    /// An export by name.
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        self.0.export(name)
    }

    /// An exported function by name.
    pub fn get_func(&self, name: &str) -> Option<Func> {
        match self.get_export(name)? {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }

    /// An exported memory by name.
    pub fn get_memory(&self, name: &str) -> Option<Memory> {
        match self.get_export(name)? {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// An exported global by name.
    pub fn get_global(&self, name: &str) -> Option<Global> {
        match self.get_export(name)? {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }

    /// The names and kinds of all exports, in name order.
    pub fn exports(&self) -> Vec<(String, &'static str)> {
        let view = self.0.artifact.checked_view();
        view.exports()
            .iter()
            .map(|e| {
                let kind = match e.kind {
                    extern_kind::FUNC => "func",
                    extern_kind::TABLE => "table",
                    extern_kind::MEMORY => "memory",
                    extern_kind::GLOBAL => "global",
                    _ => "tag",
                };
                (view.str_lossy(e.name).into_owned(), kind)
            })
            .collect()
    }

    /// The artifact this instance runs.
    pub fn artifact(&self) -> &Artifact {
        &self.0.artifact
    }
}

impl InstanceInner {
    pub(crate) fn vmctx(&self) -> *mut u8 {
        self.vmctx.ptr
    }

    /// Writes a pointer-sized value at `offset` of the VMContext.
    fn write_ptr(&self, offset: u32, value: usize) {
        debug_assert!(offset + PTR <= self.layout.size);
        // SAFETY: `offset` comes from the layout, inside the allocation, 8-byte aligned.
        unsafe { (self.vmctx().add(offset as usize) as *mut usize).write(value) };
    }

    /// Fills the VMContext: fixed part, memories, tables, imported globals, function references.
    /// Defined globals are written by `init::initialize`.
    fn fill_vmctx(
        self: &Arc<Self>,
        store: &Store,
        imported_funcs: &[Func],
    ) -> Result<(), FormatError> {
        let view = self.artifact.checked_view();
        let l = self.layout;
        self.write_ptr(VMCTX_STORE, &store.inner.ctx as *const _ as usize);
        self.write_ptr(VMCTX_BUILTINS, crate::builtins::table() as usize);
        let type_ids = self.artifact.type_ids()?;
        // The ids live in the artifact, which this instance keeps alive.
        self.write_ptr(VMCTX_TYPE_IDS, type_ids.as_ptr() as usize);
        self.write_ptr(VMCTX_INSTANCE, Arc::as_ptr(self) as usize);
        for (i, m) in self.memories.iter().enumerate() {
            self.write_ptr(l.memory(i as u32) + MEMREF_BASE, m.base() as usize);
            self.write_ptr(l.memory(i as u32) + MEMREF_DEF, m.def_ptr() as usize);
        }
        for (i, t) in self.tables.iter().enumerate() {
            self.write_ptr(l.table(i as u32), t.def_ptr() as usize);
        }
        for (i, g) in self.imported_globals.iter().enumerate() {
            self.write_ptr(l.imported_global(i as u32), g.ptr as usize);
        }
        let text = self.artifact.code();
        let code_at = |offset: u32, len: u32| -> Result<usize, FormatError> {
            let end = (offset as usize).checked_add(len as usize);
            match end {
                Some(end) if end <= text.len() && offset != kiln_format::tables::NO_CODE => {
                    Ok(text.start + offset as usize)
                }
                _ => Err(FormatError::Corrupt(format!(
                    "code offset {offset} outside the text"
                ))),
            }
        };
        let type_id = |ti: u32| -> Result<u32, FormatError> {
            type_ids
                .get(ti as usize)
                .copied()
                .ok_or_else(|| FormatError::Corrupt(format!("type index {ti} out of range")))
        };
        for (i, f) in imported_funcs.iter().enumerate() {
            let at = l.func_ref(i as u32);
            let ti = view.func_type_index(i as u32)?;
            match &f.0 {
                FuncKind::Host(host) => {
                    let adapter = view.func_type(ti)?.host_adapter.get();
                    self.write_ptr(at + FUNCREF_CODE, code_at(adapter, 1)?);
                    self.write_ptr(at + FUNCREF_VMCTX, Arc::as_ptr(host) as usize);
                }
                FuncKind::Wasm { instance, index } => {
                    let (code, vmctx) = instance.code_and_vmctx(*index)?;
                    self.write_ptr(at + FUNCREF_CODE, code);
                    self.write_ptr(at + FUNCREF_VMCTX, vmctx);
                }
            }
            self.write_u32(at + FUNCREF_TYPE_ID, type_id(ti)?);
            // The padding too: this part of the VMContext is not zeroed at allocation.
            self.write_u32(at + FUNCREF_TYPE_ID + 4, 0);
        }
        let imported = view.module().imported_funcs.get();
        let referenceable = &self.artifact.defined_funcs()?.referenceable;
        if imported as usize + referenceable.len() != l.counts.func_refs as usize {
            return Err(FormatError::Corrupt("function reference count".into()));
        }
        // SAFETY: `func_refs` holds one 24-byte, 8-aligned VMFuncRef per slot inside the
        // VMContext allocation (the layout was computed from these counts); the slots after the
        // imported functions' belong to the referenceable defined functions, in order.
        let refs = unsafe {
            std::slice::from_raw_parts_mut(
                self.vmctx().add(l.func_ref(imported) as usize) as *mut VMFuncRef,
                referenceable.len(),
            )
        };
        let vmctx = self.vmctx() as usize;
        for (slot, &(code, type_id)) in refs.iter_mut().zip(referenceable.iter()) {
            *slot = VMFuncRef {
                code,
                type_id,
                _pad: 0,
                vmctx,
            };
        }
        Ok(())
    }

    fn write_u32(&self, offset: u32, value: u32) {
        // SAFETY: as for `write_ptr`, 4-byte aligned.
        unsafe { (self.vmctx().add(offset as usize) as *mut u32).write(value) };
    }

    /// The address of function `index`'s `VMFuncRef`; `None` for a function that has none (one
    /// that can only be called directly) or does not exist.
    pub(crate) fn func_ref(&self, index: u32) -> Option<*mut u8> {
        self.func_refs().ok()?.get(index)
    }

    /// Resolves function indices to `VMFuncRef` addresses (for many lookups in a row).
    pub(crate) fn func_refs(&self) -> Result<FuncRefs<'_>, FormatError> {
        let defined = self.artifact.defined_funcs()?;
        Ok(FuncRefs {
            imported: self.num_imported_funcs(),
            defined: &defined.all,
            elem_slots: &defined.elem_slots,
            count: self.layout.counts.func_refs,
            // SAFETY: the `func_refs` array lies inside the VMContext allocation.
            base: unsafe { self.vmctx().add(self.layout.func_refs as usize) },
        })
    }

    /// The code address and callee VMContext of function `index`, for calling it.
    pub(crate) fn code_and_vmctx(&self, index: u32) -> Result<(usize, usize), FormatError> {
        let imported = self.num_imported_funcs();
        if index < imported {
            // SAFETY: an imported function's slot is its index, below `func_refs` (checked in
            // `link::counts`): inside the VMContext allocation.
            let fref = unsafe { self.vmctx().add(self.layout.func_ref(index) as usize) };
            // SAFETY: an imported function's VMFuncRef, written by `fill_vmctx`.
            return Ok(unsafe {
                (
                    *(fref.add(FUNCREF_CODE as usize) as *const usize),
                    *(fref.add(FUNCREF_VMCTX as usize) as *const usize),
                )
            });
        }
        let f = self
            .artifact
            .defined_funcs()?
            .all
            .get((index - imported) as usize);
        let f = f.ok_or_else(|| FormatError::Corrupt(format!("function index {index}")))?;
        Ok((f.code, self.vmctx() as usize))
    }

    /// Number of imported functions (they take the first function indices and slots).
    fn num_imported_funcs(&self) -> u32 {
        self.imported_funcs.len() as u32
    }

    /// The address of global `index`'s storage.
    pub(crate) fn global_ptr(&self, index: u32) -> Option<*mut u128> {
        let imported = self.imported_globals.len() as u32;
        if index < imported {
            return Some(self.imported_globals[index as usize].ptr);
        }
        if index >= self.layout.counts.globals {
            return None;
        }
        let offset = self.layout.global_def(index - imported);
        // SAFETY: inside the VMContext allocation, 16-byte aligned by the layout.
        Some(unsafe { self.vmctx().add(offset as usize) as *mut u128 })
    }

    /// The type of function `index`.
    pub(crate) fn func_type(&self, index: u32) -> Result<FuncType, FormatError> {
        let view = self.artifact.checked_view();
        let ty = view.func_type(view.func_type_index(index)?)?;
        let (p, r) = view.signature(ty)?;
        FuncType::from_codes(p, r).ok_or_else(|| FormatError::Corrupt("unknown value type".into()))
    }

    /// The instance a guest VMContext belongs to.
    ///
    /// # Safety
    /// `vmctx` must be null or the VMContext of a live instance.
    pub(crate) unsafe fn from_vmctx<'a>(vmctx: *mut u8) -> Option<&'a InstanceInner> {
        if vmctx.is_null() {
            return None;
        }
        // SAFETY: per the contract, VMCTX_INSTANCE holds `Arc::as_ptr` of the live instance.
        unsafe { (*(vmctx.add(VMCTX_INSTANCE as usize) as *const *const InstanceInner)).as_ref() }
    }

    /// A new `Arc` to the instance behind `self`, which must be owned by an `Arc` (always true:
    /// instances are only created in `Instance::new`).
    fn arc(&self) -> Arc<InstanceInner> {
        let ptr = self as *const InstanceInner;
        // SAFETY: `self` lives in an Arc kept by its store; adding a strong count and rebuilding
        // an Arc from the same pointer is the documented way to clone from a raw pointer.
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }

    /// An export by name.
    pub(crate) fn export(&self, name: &str) -> Option<Extern> {
        let view = self.artifact.checked_view();
        let e = view.find_export(name)?;
        let index = e.index.get();
        Some(match e.kind {
            extern_kind::FUNC if index < view.num_funcs() => Extern::Func(Func(FuncKind::Wasm {
                instance: self.arc(),
                index,
            })),
            extern_kind::TABLE => Extern::Table(self.tables.get(index as usize)?.clone()),
            extern_kind::MEMORY => Extern::Memory(self.memories.get(index as usize)?.clone()),
            extern_kind::GLOBAL => {
                let imported = self.imported_globals.len() as u32;
                if index < imported {
                    return Some(Extern::Global(
                        self.imported_globals[index as usize].clone(),
                    ));
                }
                let entry = view.globals().get(index as usize)?;
                Extern::Global(Global {
                    ptr: self.global_ptr(index)?,
                    ty: ValType::from_code(entry.val_type)?,
                    mutable: entry.mutable != 0,
                    store_id: self.store_id,
                    _owner: self.arc(),
                })
            }
            _ => return None,
        })
    }
}

impl ConstEnv for InstanceInner {
    fn global(&self, index: u32) -> Option<u128> {
        // SAFETY: a valid global's storage is 16 bytes, aligned, alive with the instance.
        self.global_ptr(index).map(|p| unsafe { *p })
    }

    fn func_ref(&self, index: u32) -> Option<u64> {
        InstanceInner::func_ref(self, index).map(|p| p as u64)
    }
}
