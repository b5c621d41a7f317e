//! Tables of references. Elements are 8 bytes: a `VMFuncRef` address or an `externref` handle,
//! 0 for null. The element array may move when the table grows; `VMTableDef` always points to it.

use crate::send_sync::SendSyncPtr;
use crate::values::ValType;
use kiln_format::vmctx::VMTableDef;
use std::ptr::NonNull;
use std::sync::Arc;

/// The largest table Kiln creates, in elements.
pub const MAX_TABLE_ELEMS: u64 = 10_000_000;

/// What generated code reads of a table (`def`, first) and the elements it points to.
#[repr(C)]
struct TableState {
    def: VMTableDef,
    elems: Vec<u64>,
}

pub(crate) struct TableInner {
    /// A boxed `TableState` at a stable address, freed on drop, accessed under the store
    /// discipline (`SendSyncPtr`).
    state: SendSyncPtr<TableState>,
    pub(crate) elem_type: ValType,
    max: Option<u64>,
    pub(crate) store_id: u64,
}

impl Drop for TableInner {
    fn drop(&mut self) {
        // SAFETY: leaked from a Box in `create`; no handle or instance refers to it any more.
        drop(unsafe { Box::from_raw(self.state.as_ptr()) });
    }
}

/// A table.
#[derive(Clone)]
pub struct Table(pub(crate) Arc<TableInner>);

impl Table {
    /// A host table of `min` null elements of type `elem_type` (a reference type), growable to
    /// `max`, owned by `store`, for instances to import. `None` if the type is not a reference
    /// type or the size is too large.
    pub fn new(
        store: &mut crate::Store,
        elem_type: ValType,
        min: u64,
        max: Option<u64>,
    ) -> Option<Table> {
        if !matches!(elem_type, ValType::FuncRef | ValType::ExternRef) {
            return None;
        }
        let table = Table::create(store.id(), elem_type, min, max, 0)?;
        store.inner.keep_alive.push(table.0.clone());
        Some(table)
    }

    /// A table of `min` elements set to `init` (raw), growable to `max`.
    pub(crate) fn create(
        store_id: u64,
        elem_type: ValType,
        min: u64,
        max: Option<u64>,
        init: u64,
    ) -> Option<Table> {
        if min > MAX_TABLE_ELEMS {
            return None;
        }
        let mut elems = vec![init; min as usize];
        let def = VMTableDef {
            base: elems.as_mut_ptr(),
            length: min,
        };
        let state = Box::leak(Box::new(TableState { def, elems }));
        Some(Table(Arc::new(TableInner {
            state: SendSyncPtr::new(NonNull::from(state)),
            elem_type,
            max,
            store_id,
        })))
    }

    pub(crate) fn def_ptr(&self) -> *mut VMTableDef {
        // `def` is the first field of the `repr(C)` state.
        self.0.state.as_ptr().cast()
    }

    /// Element type.
    pub fn elem_type(&self) -> ValType {
        self.0.elem_type
    }

    /// Maximum size, if any.
    pub fn max(&self) -> Option<u64> {
        self.0.max
    }

    /// Current size.
    pub fn size(&self) -> u64 {
        // SAFETY: the state lives as long as `self`; callers hold the store, so no guest code
        // runs concurrently.
        unsafe { (*self.def_ptr()).length }
    }

    /// The raw elements.
    #[allow(
        clippy::mut_from_ref,
        reason = "callers hold the store; the host API issue (#11) makes this take `&mut Store`"
    )]
    pub(crate) fn elems(&self) -> &mut [u64] {
        // SAFETY: exclusive by the store discipline; the Vec is only resized in `grow`.
        unsafe { &mut (*self.0.state.as_ptr()).elems }
    }

    /// Grows by `delta` elements set to `init`; returns the old size, or `None`.
    pub(crate) fn grow(&self, delta: u64, init: u64) -> Option<u64> {
        let old = self.size();
        let new = old.checked_add(delta)?;
        if new > self.0.max.unwrap_or(u32::MAX as u64) || new > MAX_TABLE_ELEMS {
            return None;
        }
        // SAFETY: exclusive by the store discipline; generated code reloads `base` after every
        // call that may grow.
        let state = unsafe { &mut *self.0.state.as_ptr() };
        state.elems.resize(new as usize, init);
        state.def = VMTableDef {
            base: state.elems.as_mut_ptr(),
            length: new,
        };
        Some(old)
    }

    /// Whether two handles are the same table.
    pub fn ptr_eq(&self, other: &Table) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
