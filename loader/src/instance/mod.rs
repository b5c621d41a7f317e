//! Instances: a VMContext, the memories, tables and globals it points to, and the artifact's code.
//!
//! [`link`] checks what an instance imports against what the artifact expects; [`init`] creates
//! its own memories and tables (asking the store's limiter) and initializes it in the order the
//! specification gives; this module fills the VMContext and finds exports.

mod init;
mod link;

pub(crate) use init::elem_item;
pub(crate) use link::{import_name, Import};

use crate::artifact::Artifact;
use crate::call::WasmEntry;
use crate::constexpr::ConstEnv;
use crate::error::{Error, Result};
use crate::extern_::Extern;
use crate::func::{Func, FuncKind, TypedFunc, WasmParams, WasmResults};
use crate::global::{Global, GlobalKind};
use crate::memory::Memory;
use crate::send_sync::SendSyncPtr;
use crate::store::{AsContextMut, StoreId, StoreOpaque, VMStore};
use crate::table::Table;
use crate::values::Val;
use crate::vmctx::{VmctxAlloc, VmctxPtr};
use kiln_format::tables::{extern_kind, TableId, NULL_FUNC};
use kiln_format::vmctx::*;
use kiln_format::{EntityIndex, FormatError, Location};

/// An instance of an artifact in a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// Where the loader finds an instance from its VMContext (`VMContextHeader::host` points to
/// it): kept right after the VMContext, in the same allocation.
#[repr(C)]
#[derive(Clone, Copy)]
struct VMInstanceHost {
    store: StoreId,
    index: u32,
}

/// An instance's state, owned by its store.
pub(crate) struct InstanceData {
    pub artifact: Artifact,
    pub layout: VmctxLayout,
    vmctx: VmctxAlloc,
    /// Imported functions (they take the first function indices and slots).
    imported_funcs: u32,
    /// The store's memory index of each of the instance's memories, imported first.
    pub memories: Vec<u32>,
    /// The store's table index of each of its tables, imported first.
    pub tables: Vec<u32>,
    /// Its imported globals.
    pub imported_globals: Vec<Global>,
    /// The store's tag index of each of its tags, imported first.
    pub tags: Vec<u32>,
    /// Which data segments `data.drop` (or instantiation) has dropped.
    pub dropped_data: Vec<bool>,
    /// Which element segments `elem.drop` (or instantiation) has dropped.
    pub dropped_elems: Vec<bool>,
}

/// Function index → `VMFuncRef` address, for one instance.
pub(crate) struct FuncRefs<'a> {
    imported: u32,
    defined: &'a [crate::artifact::DefinedFunc],
    elem_slots: &'a [u32],
    vmctx: VmctxPtr,
    layout: VmctxLayout,
}

impl FuncRefs<'_> {
    /// The address of the `VMFuncRef` in `slot`, which must be below the layout's count.
    fn slot(&self, slot: u32) -> u64 {
        debug_assert!(slot < self.layout.counts.func_refs);
        self.vmctx.field(self.layout.func_ref(slot)) as u64
    }

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
        // Every slot is below the count (checked when `elem_slots` was made).
        Ok(slots.iter().map(|&slot| {
            if slot == NULL_FUNC {
                0
            } else {
                self.slot(slot)
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
        (slot < self.layout.counts.func_refs).then(|| self.slot(slot) as *mut VMFuncRef)
    }
}

impl Instance {
    /// Instantiates `artifact` in `store` with `imports`, given in the order of the artifact's
    /// imports (see [`crate::Artifact::imports`]; a [`Linker`](crate::Linker) finds them by
    /// name): checks them, creates memories, tables and globals, applies active segments and runs
    /// the start function.
    ///
    /// An instantiation the store's limits refuse, or whose imports do not fit, leaves nothing
    /// behind. If a segment is out of bounds or the start function traps, the error is returned
    /// but the instance stays in the store, as the specification says: segments applied before
    /// the failure may have written into imported tables and memories.
    pub fn new(
        mut store: impl AsContextMut,
        artifact: &Artifact,
        imports: &[Extern],
    ) -> Result<Instance> {
        let imports: Vec<Import<'_>> = imports.iter().map(|e| Import::Extern(*e)).collect();
        let store: &mut (dyn VMStore + 'static) = store.as_context_mut().into_inner();
        instantiate(store, artifact, &imports)
    }

    /// The instance whose VMContext is `vmctx`.
    ///
    /// # Safety
    /// `vmctx` must be the VMContext of a live instance.
    #[inline]
    pub(crate) unsafe fn from_vmctx(vmctx: *mut VMContext) -> Instance {
        // SAFETY: per the contract, `vmctx` is a live instance's VMContext, whose `host` field
        // points to its `VMInstanceHost` (written at instantiation, never changed).
        let host = unsafe {
            let vmctx = VmctxPtr::from_raw(vmctx).unwrap_unchecked();
            *vmctx.read(VmctxLayout::HOST).cast::<VMInstanceHost>()
        };
        Instance {
            store: host.store,
            index: host.index,
        }
    }

    pub(crate) fn data<'a>(&self, store: &'a StoreOpaque) -> Result<&'a InstanceData> {
        store.check_owns(self.store, "instance")?;
        Ok(&store.instances[self.index as usize])
    }

    /// An export by name. Exports are handles of the store: memories, globals and tables are
    /// read and written through it.
    ///
    /// ```
    /// # fn artifact(wat: &str, fuel: bool, epochs: bool) -> kiln_loader::Artifact {
    /// #     let options = kiln_compiler::CompileOptions { fuel, epoch_interruption: epochs, ..Default::default() };
    /// #     let bytes = kiln_compiler::compile(&wat::parse_str(wat).unwrap(), &options).unwrap();
    /// #     let path = std::env::temp_dir().join(format!("kiln-doc-{}-{}.kiln", std::process::id(), line!()));
    /// #     std::fs::write(&path, bytes).unwrap();
    /// #     kiln_loader::Artifact::open(&path).unwrap()
    /// # }
    /// use kiln_loader::{Instance, Store, Val};
    ///
    /// let artifact = artifact(r#"(module
    ///     (memory (export "mem") 1)
    ///     (global (export "counter") (mut i32) (i32.const 0))
    ///     (table (export "tab") 1 funcref)
    ///     (func (export "f") (result i32) (i32.load8_u (i32.const 7))))"#, false, false);
    /// let mut store = Store::new(());
    /// let instance = Instance::new(&mut store, &artifact, &[])?;
    /// let mem = instance.get_memory(&mut store, "mem").unwrap();
    /// mem.data_mut(&mut store)[7] = 99;
    /// assert_eq!(instance.call(&mut store, "f", &[])?, [Val::I32(99)]);
    /// let counter = instance.get_global(&mut store, "counter").unwrap();
    /// counter.set(&mut store, Val::I32(5))?;
    /// assert_eq!(counter.get(&mut store), Val::I32(5));
    /// let tab = instance.get_table(&mut store, "tab").unwrap();
    /// let f = instance.get_func(&mut store, "f").unwrap();
    /// tab.set(&mut store, 0, Val::FuncRef(Some(f)))?;
    /// assert_eq!(tab.get(&mut store, 0).and_then(|v| v.func_ref()), Some(f));
    /// # Ok::<(), kiln_loader::Error>(())
    /// ```
    pub fn get_export(&self, mut store: impl AsContextMut, name: &str) -> Option<Extern> {
        let mut cx = store.as_context_mut();
        let opaque = cx.opaque_mut();
        let inst = self.data(opaque).ok()?;
        let view = inst.artifact.checked_view();
        let e = view.find_export(name)?;
        export(opaque, *self, e.kind, e.index.get())
    }

    /// An exported function by name.
    pub fn get_func(&self, store: impl AsContextMut, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    /// An exported function by name, as a typed function (its type checked against `P` and `R`
    /// once).
    pub fn get_typed_func<P: WasmParams, R: WasmResults>(
        &self,
        mut store: impl AsContextMut,
        name: &str,
    ) -> Result<TypedFunc<P, R>> {
        let f = self
            .get_func(&mut store, name)
            .ok_or_else(|| Error::not_found("function", name))?;
        f.typed(&store).map_err(|e| match e {
            Error::Type(why) => Error::Type(format!("`{name}`: {why}")),
            e => e,
        })
    }

    /// An exported memory by name.
    pub fn get_memory(&self, store: impl AsContextMut, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    /// An exported table by name.
    pub fn get_table(&self, store: impl AsContextMut, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }

    /// An exported global by name.
    pub fn get_global(&self, store: impl AsContextMut, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// An exported tag by name.
    pub fn get_tag(&self, store: impl AsContextMut, name: &str) -> Option<crate::exn::Tag> {
        self.get_export(store, name)?.into_tag()
    }

    /// Calls exported function `name` with `args`, returning its results (a convenience: a
    /// [`TypedFunc`] or a [`Func`] looked up once is faster).
    pub fn call(&self, mut store: impl AsContextMut, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let f = self
            .get_func(&mut store, name)
            .ok_or_else(|| Error::not_found("function", name))?;
        let n = f.ty_in(store.as_context().opaque())?.results().len();
        let mut results = vec![Val::I32(0); n];
        f.call(&mut store, args, &mut results)?;
        Ok(results)
    }

    /// Every export, in name order.
    pub fn exports(&self, mut store: impl AsContextMut) -> Vec<(String, Extern)> {
        let mut cx = store.as_context_mut();
        let opaque = cx.opaque_mut();
        let Ok(inst) = self.data(opaque) else {
            return Vec::new();
        };
        let view = inst.artifact.checked_view();
        view.exports()
            .iter()
            .filter_map(|e| {
                let ext = export(opaque, *self, e.kind, e.index.get())?;
                Some((view.str_lossy(e.name).into_owned(), ext))
            })
            .collect()
    }

    /// The artifact this instance runs.
    ///
    /// # Panics
    /// If `store` does not own this instance (as every accessor that cannot fail).
    pub fn artifact(&self, store: impl crate::AsContext) -> Artifact {
        let cx = store.as_context();
        cx.opaque().assert_owns(self.store, "instance");
        cx.opaque().instances[self.index as usize].artifact.clone()
    }

    /// Memory `index` (imported or defined), if `store` owns the instance and it has one.
    pub(crate) fn memory_at(&self, store: &StoreOpaque, index: u32) -> Option<Memory> {
        let inst = self.data(store).ok()?;
        Some(Memory {
            store: self.store,
            index: *inst.memories.get(index as usize)?,
        })
    }
}

/// The extern an export of `instance` names.
fn export(store: &StoreOpaque, instance: Instance, kind: u8, index: u32) -> Option<Extern> {
    let inst = &store.instances[instance.index as usize];
    let view = inst.artifact.checked_view();
    let id = store.id;
    Some(match kind {
        extern_kind::FUNC => {
            let ptr = inst.func_ref(index)?;
            Extern::Func(Func {
                store: id,
                kind: FuncKind::Ref(SendSyncPtr::from_raw(ptr)?),
            })
        }
        extern_kind::TABLE => Extern::Table(Table {
            store: id,
            index: *inst.tables.get(index as usize)?,
        }),
        extern_kind::MEMORY => Extern::Memory(Memory {
            store: id,
            index: *inst.memories.get(index as usize)?,
        }),
        extern_kind::GLOBAL => match view.global_index(index) {
            EntityIndex::Imported(i) => Extern::Global(*inst.imported_globals.get(i as usize)?),
            EntityIndex::Defined(_) => {
                view.globals().get(index as usize)?;
                Extern::Global(Global {
                    store: id,
                    kind: GlobalKind::Instance {
                        instance: instance.index,
                        index,
                    },
                })
            }
        },
        extern_kind::TAG => Extern::Tag(crate::exn::Tag {
            store: id,
            index: *inst.tags.get(index as usize)?,
        }),
        _ => return None,
    })
}

impl InstanceData {
    /// This instance's VMContext.
    pub(crate) fn vmctx(&self) -> VmctxPtr {
        self.vmctx.ptr()
    }

    /// Resolves function indices to `VMFuncRef` addresses (for many lookups in a row).
    pub(crate) fn func_refs(&self) -> Result<FuncRefs<'_>, FormatError> {
        let defined = self.artifact.defined_funcs()?;
        Ok(FuncRefs {
            imported: self.num_imported_funcs(),
            defined: &defined.all,
            elem_slots: &defined.elem_slots,
            vmctx: self.vmctx(),
            layout: self.layout,
        })
    }

    /// The address of function `index`'s `VMFuncRef`; `None` for a function that has none (one
    /// that can only be called directly) or does not exist.
    pub(crate) fn func_ref(&self, index: u32) -> Option<*mut VMFuncRef> {
        self.func_refs().ok()?.get(index)
    }

    /// Number of imported functions (they take the first function indices and slots).
    fn num_imported_funcs(&self) -> u32 {
        self.imported_funcs
    }

    /// The address of global `index`'s storage.
    pub(crate) fn global_ptr(&self, store: &StoreOpaque, index: u32) -> Option<*mut VMGlobal> {
        match EntityIndex::split(index, self.imported_globals.len() as u32) {
            EntityIndex::Imported(i) => {
                let g = self.imported_globals.get(i as usize)?;
                g.location(store).ok().map(|(ptr, _)| ptr)
            }
            EntityIndex::Defined(_) if index >= self.layout.counts.globals => None,
            EntityIndex::Defined(d) => Some(self.vmctx().field(self.layout.global_def(d))),
        }
    }

    /// The entry of defined or imported function `index`, for calling it from the host.
    pub(crate) fn entry(&self, index: u32) -> Result<WasmEntry> {
        let view = self.artifact.checked_view();
        let ti = view.func_type_index(index)?;
        let off = view.type_entry(ti)?.entry_trampoline.get() as usize;
        if off >= self.artifact.code().len() {
            return Err(FormatError::corrupt(
                Location::entry(TableId::Types, ti, "entry_trampoline"),
                "offset outside the text",
            )
            .into());
        }
        let trampoline = self.artifact.code_ptr().wrapping_add(off);
        let (code, vmctx) = match EntityIndex::split(index, self.num_imported_funcs()) {
            EntityIndex::Imported(slot) => {
                // SAFETY: an imported function's slot is its index, below the count (checked in
                // `link::counts`), written by `fill_vmctx`.
                let f = unsafe { &*self.vmctx().field(self.layout.func_ref(slot)) };
                (f.code, f.vmctx)
            }
            EntityIndex::Defined(d) => {
                let f = self
                    .artifact
                    .defined_funcs()?
                    .all
                    .get(d as usize)
                    .ok_or_else(|| {
                        FormatError::corrupt(
                            Location::entry(TableId::Functions, d, ""),
                            "no such function",
                        )
                    })?;
                (
                    self.artifact.code_ptr().wrapping_add(f.offset),
                    self.vmctx().as_ptr(),
                )
            }
        };
        WasmEntry::new(trampoline, code, vmctx)
    }
}

/// Instantiates `artifact` in `store` with `imports` in import order (see [`Instance::new`]).
pub(crate) fn instantiate(
    store: &mut (dyn VMStore + 'static),
    artifact: &Artifact,
    imports: &[Import<'_>],
) -> Result<Instance> {
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
    let opaque = store.opaque_mut();
    opaque.check_interruption(artifact)?;
    if opaque.instances.len() >= opaque.limits.instances {
        return Err(Error::Resource(format!(
            "instance count limit of {} would be exceeded",
            opaque.limits.instances
        )));
    }
    let type_ids = artifact.type_ids()?;
    let linked = link::resolve(opaque, artifact, &view, type_ids, imports)?;
    let own = init::create_memories_and_tables(store, &view, &linked, type_ids)?;
    let opaque = store.opaque_mut();
    let mut tags = linked.tags;
    for t in &view.tags()[tags.len().min(view.tags().len())..] {
        let ti = t.type_index.get();
        let ty = crate::artifact::func_type(&view, type_ids, ti)?;
        let id = *type_ids.get(ti as usize).ok_or_else(|| {
            FormatError::corrupt(
                Location::entry(TableId::Tags, tags.len(), "type_index"),
                "no such type",
            )
        })?;
        tags.push(
            opaque
                .new_tag_of_type(crate::exn::TagType::from_func_type(ty), id)
                .index,
        );
    }
    let index = opaque.instances.len() as u32;
    let host = VMInstanceHost {
        store: opaque.id,
        index,
    };
    let vmctx = VmctxAlloc::new(
        layout.size,
        layout.func_refs,
        size_of::<VMInstanceHost>() as u32,
    );
    let data = InstanceData {
        artifact: artifact.clone(),
        layout,
        vmctx,
        imported_funcs: view.module().imported_funcs.get(),
        memories: own.memories,
        tables: own.tables,
        imported_globals: linked.globals,
        tags,
        dropped_data: vec![false; view.data().len()],
        dropped_elems: vec![false; view.elements().len()],
    };
    fill_vmctx(opaque, &data, host, &linked.funcs)?;
    opaque.instances.push(data);
    opaque.add_artifact(artifact);
    let instance = Instance {
        store: opaque.id,
        index,
    };
    init::initialize(store, instance)?;
    Ok(instance)
}

/// Fills the VMContext: fixed part, memories, tables, imported globals, function references.
/// Defined globals are written by `init::initialize`.
fn fill_vmctx(
    store: &StoreOpaque,
    inst: &InstanceData,
    host: VMInstanceHost,
    imported_funcs: &[VMFuncRef],
) -> Result<(), FormatError> {
    let l = inst.layout;
    let vmctx = inst.vmctx();
    let type_ids = inst.artifact.type_ids()?;
    let host_ptr = inst.vmctx.trailer().cast::<VMInstanceHost>();
    // SAFETY: here and in every write below, the field comes from this VMContext's own layout
    // (indices below its counts) or is the trailer allocated for the host record, and no
    // reference into the allocation exists while it is filled.
    unsafe {
        host_ptr.write(host);
        vmctx.write(VmctxLayout::STORE, store.vm_ptr());
        vmctx.write(VmctxLayout::BUILTINS, crate::builtins::table());
        // The ids live in the artifact, which this instance keeps alive.
        vmctx.write(VmctxLayout::TYPE_IDS, type_ids.as_ptr());
        vmctx.write(VmctxLayout::HOST, host_ptr.cast_const().cast());
    }
    for (i, &m) in inst.memories.iter().enumerate() {
        let m = &store.memories[m as usize];
        let record = VMMemoryRef {
            base: m.base(),
            def: m.def_ptr(),
        };
        // SAFETY: a field of this layout (`i` < its memory count), not borrowed.
        unsafe { vmctx.write(l.memory(i as u32), record) };
    }
    for (i, &t) in inst.tables.iter().enumerate() {
        let def = store.tables[t as usize].def_ptr();
        // SAFETY: a field of this layout (`i` < its table count), not borrowed.
        unsafe { vmctx.write(l.table(i as u32), def) };
    }
    for (i, g) in inst.imported_globals.iter().enumerate() {
        let ptr = g
            .location(store)
            .map_err(|e| FormatError::corrupt(Location::entry(TableId::Globals, i, ""), e))?;
        // SAFETY: a field of this layout (`i` < its imported-global count), not borrowed.
        unsafe { vmctx.write(l.imported_global(i as u32), ptr.0) };
    }
    for (i, f) in imported_funcs.iter().enumerate() {
        let func_ref = VMFuncRef {
            code: f.code,
            type_id: f.type_id,
            pad: 0,
            vmctx: f.vmctx,
        };
        // SAFETY: a field of this layout, not borrowed: an imported function's slot is its
        // index, below the count (checked in `link::counts`). The padding is written too: this
        // part of the VMContext is not zeroed at allocation.
        unsafe { vmctx.write(l.func_ref(i as u32), func_ref) };
    }
    let imported = imported_funcs.len() as u32;
    let referenceable = &inst.artifact.defined_funcs()?.referenceable;
    if imported as usize + referenceable.len() != l.counts.func_refs as usize {
        return Err(FormatError::corrupt(
            Location::Module("func_refs"),
            format_args!(
                "{} slots for {imported} imported and {} referenceable functions",
                l.counts.func_refs,
                referenceable.len()
            ),
        ));
    }
    let own = vmctx.as_ptr();
    let code = inst.artifact.code_ptr();
    for (k, &(offset, type_id)) in referenceable.iter().enumerate() {
        let func_ref = VMFuncRef {
            code: code.wrapping_add(offset),
            type_id,
            pad: 0,
            vmctx: own,
        };
        // SAFETY: a field of this layout, not borrowed: the slots after the imported functions'
        // belong to the referenceable defined functions, in order, below the count (checked just
        // above).
        unsafe { vmctx.write(l.func_ref(imported + k as u32), func_ref) };
    }
    Ok(())
}

/// What constant expressions of one instance may refer to.
pub(crate) struct InstanceConstEnv<'a> {
    pub store: &'a StoreOpaque,
    pub inst: &'a InstanceData,
}

impl ConstEnv for InstanceConstEnv<'_> {
    fn global(&self, index: u32) -> Option<u128> {
        let ptr = self.inst.global_ptr(self.store, index)?;
        // SAFETY: a valid global's storage is 16 bytes, aligned, alive with the store.
        Some(unsafe { (*ptr).raw })
    }

    fn func_ref(&self, index: u32) -> Option<u64> {
        self.inst.func_ref(index).map(|p| p as u64)
    }
}
