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
use crate::vmctx::{VmctxAlloc, VmctxPtr};
use kiln_format::tables::{extern_kind, TableId, NO_CODE};
use kiln_format::vmctx::*;
use kiln_format::{EntityIndex, FormatError, Location};
use std::sync::atomic::AtomicBool;
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
    base: *mut VMFuncRef,
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
            .ok_or_else(|| {
                FormatError::corrupt(
                    Location::Table(TableId::ElemFuncs),
                    format_args!("items {start}+{n} out of range"),
                )
            })?;
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
    pub(crate) fn get(&self, index: u32) -> Option<*mut VMFuncRef> {
        let slot = match EntityIndex::split(index, self.imported) {
            EntityIndex::Imported(slot) => slot,
            EntityIndex::Defined(d) => self.defined.get(d as usize)?.slot,
        };
        // `NO_FUNC_REF` is out of range; slots were checked against the count (`defined_funcs`).
        (slot < self.count).then(|| self.base.wrapping_add(slot as usize))
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
    /// Which data segments `data.drop` (or instantiation) has dropped.
    pub dropped_data: Vec<AtomicBool>,
    /// Which element segments `elem.drop` (or instantiation) has dropped.
    pub dropped_elems: Vec<AtomicBool>,
}

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
            return Err(FormatError::corrupt(
                Location::Header("vmctx_size"),
                format_args!(
                    "{} bytes, but the module's counts give {}",
                    view.header().vmctx_size,
                    layout.size
                ),
            )
            .into());
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
            dropped_data: (0..view.data().len())
                .map(|_| AtomicBool::new(false))
                .collect(),
            dropped_elems: (0..view.elements().len())
                .map(|_| AtomicBool::new(false))
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
    /// This instance's VMContext.
    pub(crate) fn vmctx(&self) -> VmctxPtr {
        self.vmctx.ptr()
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
        let vmctx = self.vmctx();
        let type_ids = self.artifact.type_ids()?;
        // SAFETY: here and in every write below, the field comes from this VMContext's own layout
        // (indices below its counts), and no reference into the VMContext exists while it is
        // filled.
        unsafe {
            vmctx.write(VmctxLayout::STORE, store.inner.ctx_ptr());
            vmctx.write(VmctxLayout::BUILTINS, crate::builtins::table());
            // The ids live in the artifact, which this instance keeps alive.
            vmctx.write(VmctxLayout::TYPE_IDS, type_ids.as_ptr());
            vmctx.write(VmctxLayout::INSTANCE, Arc::as_ptr(self).cast());
        }
        for (i, m) in self.memories.iter().enumerate() {
            let record = VMMemoryRef {
                base: m.base(),
                def: m.def_ptr(),
            };
            // SAFETY: a field of this layout (`i` < its memory count), not borrowed.
            unsafe { vmctx.write(l.memory(i as u32), record) };
        }
        for (i, t) in self.tables.iter().enumerate() {
            // SAFETY: a field of this layout (`i` < its table count), not borrowed.
            unsafe { vmctx.write(l.table(i as u32), t.def_ptr()) };
        }
        for (i, g) in self.imported_globals.iter().enumerate() {
            // SAFETY: a field of this layout (`i` < its imported-global count), not borrowed.
            unsafe { vmctx.write(l.imported_global(i as u32), g.ptr.as_ptr()) };
        }
        let text = self.artifact.code();
        let code_at = |ti: u32, offset: u32| -> Result<*const u8, FormatError> {
            if offset != NO_CODE && (offset as usize) < text.len() {
                Ok((text.start + offset as usize) as *const u8)
            } else {
                Err(FormatError::corrupt(
                    Location::entry(TableId::Types, ti, "host_adapter"),
                    format_args!("code offset {offset} outside the {}-byte text", text.len()),
                ))
            }
        };
        let type_id = |ti: u32| -> Result<u32, FormatError> {
            type_ids.get(ti as usize).copied().ok_or_else(|| {
                FormatError::corrupt(Location::entry(TableId::Types, ti, ""), "no such type")
            })
        };
        for (i, f) in imported_funcs.iter().enumerate() {
            let ti = view.func_type_index(i as u32)?;
            let (code, callee) = match &f.0 {
                FuncKind::Host(host) => {
                    let adapter = view.func_type(ti)?.host_adapter.get();
                    let ctx = Arc::as_ptr(host).cast::<VMContext>().cast_mut();
                    (code_at(ti, adapter)?, ctx)
                }
                FuncKind::Wasm { instance, index } => instance.code_and_vmctx(*index)?,
            };
            let func_ref = VMFuncRef {
                code,
                type_id: type_id(ti)?,
                pad: 0,
                vmctx: callee,
            };
            // SAFETY: a field of this layout, not borrowed: an imported function's slot is its
            // index, below the count (checked in `link::counts`). The padding is written too:
            // this part of the VMContext is not zeroed at allocation.
            unsafe { vmctx.write(l.func_ref(i as u32), func_ref) };
        }
        let imported = view.module().imported_funcs.get();
        let referenceable = &self.artifact.defined_funcs()?.referenceable;
        if imported as usize + referenceable.len() != l.counts.func_refs as usize {
            return Err(FormatError::corrupt(
                Location::Module("func_refs"),
                "more slots than imported and referenceable functions",
            ));
        }
        let own = vmctx.as_ptr();
        for (k, &(code, type_id)) in referenceable.iter().enumerate() {
            let func_ref = VMFuncRef {
                code: code as *const u8,
                type_id,
                pad: 0,
                vmctx: own,
            };
            // SAFETY: a field of this layout, not borrowed: the slots after the imported
            // functions' belong to the referenceable defined functions, in order, below the count
            // (checked just above).
            unsafe { vmctx.write(l.func_ref(imported + k as u32), func_ref) };
        }
        Ok(())
    }

    /// The address of function `index`'s `VMFuncRef`; `None` for a function that has none (one
    /// that can only be called directly) or does not exist.
    pub(crate) fn func_ref(&self, index: u32) -> Option<*mut VMFuncRef> {
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
            base: self.vmctx().field(self.layout.func_ref(0)),
        })
    }

    /// The code address and callee VMContext of function `index`, for calling it.
    pub(crate) fn code_and_vmctx(
        &self,
        index: u32,
    ) -> Result<(*const u8, *mut VMContext), FormatError> {
        match EntityIndex::split(index, self.num_imported_funcs()) {
            EntityIndex::Imported(slot) => {
                // SAFETY: an imported function's slot is its index, below the count (checked in
                // `link::counts`), written by `fill_vmctx`.
                let f = unsafe { &*self.vmctx().field(self.layout.func_ref(slot)) };
                Ok((f.code, f.vmctx))
            }
            EntityIndex::Defined(d) => {
                let f = self.artifact.defined_funcs()?.all.get(d as usize);
                let f = f.ok_or_else(|| {
                    FormatError::corrupt(
                        Location::entry(TableId::Functions, d, ""),
                        "no such function",
                    )
                })?;
                Ok((f.code as *const u8, self.vmctx().as_ptr()))
            }
        }
    }

    /// Number of imported functions (they take the first function indices and slots).
    fn num_imported_funcs(&self) -> u32 {
        self.imported_funcs.len() as u32
    }

    /// The address of global `index`'s storage.
    pub(crate) fn global_ptr(&self, index: u32) -> Option<*mut VMGlobal> {
        match EntityIndex::split(index, self.imported_globals.len() as u32) {
            EntityIndex::Imported(i) => Some(self.imported_globals[i as usize].ptr.as_ptr()),
            EntityIndex::Defined(_) if index >= self.layout.counts.globals => None,
            EntityIndex::Defined(d) => Some(self.vmctx().field(self.layout.global_def(d))),
        }
    }

    /// The type of function `index`.
    pub(crate) fn func_type(&self, index: u32) -> Result<FuncType, FormatError> {
        let view = self.artifact.checked_view();
        let ti = view.func_type_index(index)?;
        let (p, r) = view.signature(ti)?;
        FuncType::from_codes(p, r).ok_or_else(|| {
            FormatError::corrupt(
                Location::entry(TableId::Types, ti, "valtypes"),
                "unknown value type",
            )
        })
    }

    /// The instance a guest VMContext belongs to.
    ///
    /// # Safety
    /// `vmctx` must be the VMContext of a live instance, whose store the caller borrows.
    pub(crate) unsafe fn from_vmctx<'a>(vmctx: *mut VMContext) -> &'a InstanceInner {
        let vmctx = VmctxPtr::from_raw(vmctx);
        // SAFETY: per the contract, `INSTANCE` holds `Arc::as_ptr` of the live instance
        // (`fill_vmctx`), which its store keeps alive.
        unsafe {
            let vmctx = vmctx.unwrap_unchecked();
            &*vmctx.read(VmctxLayout::INSTANCE).cast::<InstanceInner>()
        }
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
            extern_kind::GLOBAL => match view.global_index(index) {
                EntityIndex::Imported(i) => {
                    Extern::Global(self.imported_globals.get(i as usize)?.clone())
                }
                EntityIndex::Defined(_) => {
                    let entry = view.globals().get(index as usize)?;
                    Extern::Global(Global {
                        ptr: crate::send_sync::SendSyncPtr::from_raw(self.global_ptr(index)?)?,
                        ty: ValType::from_code(entry.val_type)?,
                        mutable: entry.mutable != 0,
                        store_id: self.store_id,
                        _owner: self.arc(),
                    })
                }
            },
            _ => return None,
        })
    }
}

impl ConstEnv for InstanceInner {
    fn global(&self, index: u32) -> Option<u128> {
        // SAFETY: a valid global's storage is 16 bytes, aligned, alive with the instance.
        self.global_ptr(index).map(|p| unsafe { (*p).raw })
    }

    fn func_ref(&self, index: u32) -> Option<u64> {
        InstanceInner::func_ref(self, index).map(|p| p as u64)
    }
}
