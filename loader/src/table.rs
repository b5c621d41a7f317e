//! Tables of references, owned by a store and named by a [`Table`] handle. Elements are 8 bytes:
//! a `VMFuncRef` address or an `externref` handle, 0 for null. The element array may move when
//! the table grows; `VMTableDef` always points to it.

use crate::error::{BoxError, Error, Result};
use crate::send_sync::SendSyncPtr;
use crate::store::{AsContextMut, StoreContext, StoreId, StoreOpaque, VMStore};
use crate::types::{TableType, ValType};
use crate::values::Val;
use kiln_format::vmctx::VMTableDef;
use std::ptr::NonNull;

/// The largest table Kiln creates, in elements.
pub const MAX_TABLE_ELEMS: u64 = 10_000_000;

/// A table of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Table {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// What generated code reads of a table (`def`, first) and the elements it points to.
#[repr(C)]
struct TableState {
    def: VMTableDef,
    elems: Vec<u64>,
}

/// A table's storage.
pub(crate) struct TableData {
    /// A boxed `TableState` at a stable address (freed on drop), raw because guest code reads
    /// and writes it while the host holds the store.
    state: SendSyncPtr<TableState>,
    ty: TableType,
}

impl TableData {
    /// A table of `ty` with its minimum size, every element `init` (raw).
    pub(crate) fn new(ty: TableType, init: u64) -> Result<TableData, String> {
        let min = ty.minimum();
        if min > MAX_TABLE_ELEMS {
            return Err(format!(
                "a table of {min} elements exceeds Kiln's limit of {MAX_TABLE_ELEMS}"
            ));
        }
        let mut elems = vec![init; min as usize];
        let def = VMTableDef {
            base: elems.as_mut_ptr(),
            length: min,
        };
        let state = Box::leak(Box::new(TableState { def, elems }));
        Ok(TableData {
            state: SendSyncPtr::new(NonNull::from(state)),
            ty,
        })
    }

    pub(crate) fn def_ptr(&self) -> *mut VMTableDef {
        // `def` is the first field of the `repr(C)` state.
        self.state.as_ptr().cast()
    }

    fn state(&self) -> &TableState {
        // SAFETY: the box lives as long as `self`; guest code, the other user, runs only while the
        // store that owns `self` is exclusively borrowed by its call, so not while `&self` is used.
        unsafe { &*self.state.as_ptr() }
    }

    fn state_mut(&mut self) -> &mut TableState {
        // SAFETY: as for `state`, with `&mut self`.
        unsafe { &mut *self.state.as_ptr() }
    }

    /// The raw elements.
    pub(crate) fn elems(&self) -> &[u64] {
        &self.state().elems
    }

    /// The raw elements, mutably.
    pub(crate) fn elems_mut(&mut self) -> &mut [u64] {
        &mut self.state_mut().elems
    }

    /// The element type.
    pub(crate) fn elem_type(&self) -> ValType {
        self.ty.element()
    }

    /// Current size.
    pub(crate) fn size(&self) -> u64 {
        self.state().def.length
    }

    /// The type, with the current size as minimum.
    pub(crate) fn ty(&self) -> TableType {
        TableType::from_limits(
            self.ty.element(),
            self.size(),
            self.ty.maximum(),
            self.ty.is_64(),
        )
    }

    fn max(&self) -> u64 {
        self.ty
            .maximum()
            .unwrap_or(u64::from(u32::MAX))
            .min(MAX_TABLE_ELEMS)
    }

    /// Resizes to `new` elements, the new ones set to `init`.
    fn resize(&mut self, new: u64, init: u64) -> Result<(), String> {
        if new > self.max() {
            return Err(format!(
                "{new} elements exceed the table's maximum of {}",
                self.max()
            ));
        }
        let state = self.state_mut();
        state.elems.resize(new as usize, init);
        // Generated code reloads `base` after every call that may grow a table.
        state.def = VMTableDef {
            base: state.elems.as_mut_ptr(),
            length: new,
        };
        Ok(())
    }
}

impl Drop for TableData {
    fn drop(&mut self) {
        // SAFETY: leaked from a Box in `new`; the store that owns `self` is being dropped, so
        // nothing refers to it.
        drop(unsafe { Box::from_raw(self.state.as_ptr()) });
    }
}

/// Grows table `index` of `store` by `delta` elements set to `init`: `Ok(Some(old size))`,
/// `Ok(None)` if it cannot grow (wasm's -1), `Err` if the limiter failed (a trap).
pub(crate) fn grow(
    store: &mut dyn VMStore,
    index: u32,
    delta: u64,
    init: u64,
) -> Result<Option<u64>, BoxError> {
    let Some(t) = store.opaque().tables.get(index as usize) else {
        return Ok(None);
    };
    let current = t.size();
    if delta == 0 {
        return Ok(Some(current));
    }
    let Some(desired) = current
        .checked_add(delta)
        .and_then(|d| usize::try_from(d).ok())
    else {
        return Ok(None);
    };
    let maximum = t.ty.maximum().map(|m| m as usize);
    if !store.table_growing(current as usize, desired, maximum)? {
        return Ok(None);
    }
    let t = &mut store.opaque_mut().tables[index as usize];
    match t.resize(desired as u64, init) {
        Ok(()) => Ok(Some(current)),
        Err(e) => {
            store.table_grow_failed(e.into())?;
            Ok(None)
        }
    }
}

impl Table {
    /// A host table of type `ty` (element type `FuncRef` or `ExternRef`) in `store`, every
    /// element `init`, for instances to import. Its initial size is subject to the store's
    /// limiter.
    pub fn new(mut store: impl AsContextMut, ty: TableType, init: Val) -> Result<Table> {
        let mut cx = store.as_context_mut();
        if !ty.element().is_ref() || !init.matches_in(cx.opaque(), ty.element()) {
            return Err(Error::Type(format!(
                "a table of {} cannot be initialized with a {}",
                ty.element(),
                init.ty()
            )));
        }
        let raw = init.to_raw(cx.opaque_mut())? as u64;
        let store = cx.opaque_mut();
        store.check_table_count(1)?;
        let data = TableData::new(
            TableType::from_limits(ty.element(), 0, ty.maximum(), ty.is_64()),
            raw,
        )
        .map_err(Error::Resource)?;
        let index = store.push_table(data);
        let table = Table {
            store: store.id,
            index,
        };
        if ty.minimum() > 0 {
            let store: &mut dyn VMStore = cx.into_inner();
            match grow(store, index, ty.minimum(), raw) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(Error::Resource(format!(
                        "table minimum size of {} elements exceeds the table limits",
                        ty.minimum()
                    )))
                }
                Err(e) => return Err(Error::Resource(e.to_string())),
            }
        }
        Ok(table)
    }

    fn checked<'a>(&self, store: &'a StoreOpaque) -> Result<&'a TableData> {
        store.check_owns(self.store, "table")?;
        Ok(&store.tables[self.index as usize])
    }

    /// The type, with the current size as its minimum.
    ///
    /// # Panics
    /// If `store` does not own this table (as every accessor that cannot fail).
    pub fn ty<'a, T: 'static>(&self, store: impl Into<StoreContext<'a, T>>) -> TableType {
        let cx = store.into();
        cx.opaque().assert_owns(self.store, "table");
        cx.opaque().tables[self.index as usize].ty()
    }

    /// Current size in elements.
    ///
    /// # Panics
    /// If `store` does not own this table.
    pub fn size<'a, T: 'static>(&self, store: impl Into<StoreContext<'a, T>>) -> u64 {
        let cx = store.into();
        cx.opaque().assert_owns(self.store, "table");
        cx.opaque().tables[self.index as usize].size()
    }

    /// Element `index`, or `None` if out of bounds.
    pub fn get(&self, mut store: impl AsContextMut, index: u64) -> Option<Val> {
        let mut cx = store.as_context_mut();
        let t = self.checked(cx.opaque()).ok()?;
        let ty = t.elem_type();
        let raw = *t.elems().get(usize::try_from(index).ok()?)?;
        Some(Val::from_raw(cx.opaque_mut(), u128::from(raw), ty))
    }

    /// Sets element `index` to `value`.
    pub fn set(&self, mut store: impl AsContextMut, index: u64, value: Val) -> Result<()> {
        let mut cx = store.as_context_mut();
        let ty = self.checked(cx.opaque())?.elem_type();
        if !value.matches_in(cx.opaque(), ty) {
            return Err(Error::Type(format!(
                "cannot store a {} in a table of {ty}",
                value.ty()
            )));
        }
        let raw = value.to_raw(cx.opaque_mut())? as u64;
        let elems = cx.opaque_mut().tables[self.index as usize].elems_mut();
        let len = elems.len();
        let slot = usize::try_from(index)
            .ok()
            .and_then(|i| elems.get_mut(i))
            .ok_or_else(|| {
                Error::Resource(format!("table index {index} is out of bounds of {len}"))
            })?;
        *slot = raw;
        Ok(())
    }

    /// Grows by `delta` elements set to `init`, asking the store's limiter; returns the old size.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64, init: Val) -> Result<u64> {
        let mut cx = store.as_context_mut();
        let ty = self.checked(cx.opaque())?.elem_type();
        if !init.matches_in(cx.opaque(), ty) {
            return Err(Error::Type(format!(
                "cannot grow a table of {ty} with a {}",
                init.ty()
            )));
        }
        let raw = init.to_raw(cx.opaque_mut())? as u64;
        let store: &mut dyn VMStore = cx.into_inner();
        match grow(store, self.index, delta, raw) {
            Ok(Some(old)) => Ok(old),
            Ok(None) => Err(Error::Resource(format!(
                "cannot grow the table by {delta} elements"
            ))),
            Err(e) => Err(Error::Resource(format!("cannot grow the table: {e}"))),
        }
    }

    /// Sets `len` elements from `dst` to `value`.
    pub fn fill(&self, mut store: impl AsContextMut, dst: u64, value: Val, len: u64) -> Result<()> {
        let mut cx = store.as_context_mut();
        let ty = self.checked(cx.opaque())?.elem_type();
        if !value.matches_in(cx.opaque(), ty) {
            return Err(Error::Type(format!(
                "cannot fill a table of {ty} with a {}",
                value.ty()
            )));
        }
        let raw = value.to_raw(cx.opaque_mut())? as u64;
        let elems = cx.opaque_mut().tables[self.index as usize].elems_mut();
        let size = elems.len();
        let range = crate::builtins::range(dst, len, size as u64).ok_or_else(|| {
            Error::Resource(format!(
                "fill of {len} elements at {dst} is out of bounds of {size}"
            ))
        })?;
        elems[range].fill(raw);
        Ok(())
    }
}

impl StoreOpaque {
    /// Fails if the store may not define `n` more tables.
    pub(crate) fn check_table_count(&self, n: usize) -> Result<()> {
        if self.own_tables + n > self.limits.tables {
            return Err(Error::Resource(format!(
                "table count limit of {} would be exceeded",
                self.limits.tables
            )));
        }
        Ok(())
    }

    /// Adds a table the store's instances (or the host) defined.
    pub(crate) fn push_table(&mut self, table: TableData) -> u32 {
        self.own_tables += 1;
        self.tables.push(table);
        (self.tables.len() - 1) as u32
    }
}
