//! Tables of references. Elements are 8 bytes: a `VMFuncRef` address or an `externref` handle,
//! 0 for null. The element array may move when the table grows; `VMTableDef` always points to it.

use crate::values::ValType;
use std::cell::UnsafeCell;
use std::sync::Arc;

/// The largest table Kiln creates, in elements.
pub const MAX_TABLE_ELEMS: u64 = 10_000_000;

/// `VMTableDef` as generated code sees it.
#[repr(C)]
pub(crate) struct VMTableDef {
    pub base: *mut u64,
    pub length: u64,
}

pub(crate) struct TableInner {
    def: UnsafeCell<VMTableDef>,
    elems: UnsafeCell<Vec<u64>>,
    pub(crate) elem_type: ValType,
    max: Option<u64>,
    pub(crate) store_id: u64,
}

// SAFETY: accessed only while the owning store is borrowed, as for memories.
unsafe impl Send for TableInner {}
// SAFETY: as above.
unsafe impl Sync for TableInner {}

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
        Some(Table(Arc::new(TableInner {
            def: UnsafeCell::new(def),
            elems: UnsafeCell::new(elems),
            elem_type,
            max,
            store_id,
        })))
    }

    pub(crate) fn def_ptr(&self) -> *mut VMTableDef {
        self.0.def.get()
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
        // SAFETY: callers hold the store; no guest code runs concurrently.
        unsafe { (*self.0.def.get()).length }
    }

    /// The raw elements.
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn elems(&self) -> &mut [u64] {
        // SAFETY: exclusive by the store discipline; the Vec is only resized in `grow`.
        unsafe { &mut *self.0.elems.get() }
    }

    /// Grows by `delta` elements set to `init`; returns the old size, or `None`.
    pub(crate) fn grow(&self, delta: u64, init: u64) -> Option<u64> {
        let old = self.size();
        let new = old.checked_add(delta)?;
        if new > self.0.max.unwrap_or(u32::MAX as u64) || new > MAX_TABLE_ELEMS {
            return None;
        }
        // SAFETY: exclusive by the store discipline.
        let elems = unsafe { &mut *self.0.elems.get() };
        elems.resize(new as usize, init);
        // SAFETY: as above; generated code reloads `base` after every call that may grow.
        unsafe {
            *self.0.def.get() = VMTableDef {
                base: elems.as_mut_ptr(),
                length: new,
            };
        }
        Some(old)
    }

    /// Whether two handles are the same table.
    pub fn ptr_eq(&self, other: &Table) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
