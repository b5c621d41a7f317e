//! Globals: 16-byte cells that guest code reads and writes in place.

use crate::store::Store;
use crate::values::{Val, ValType};
use std::cell::UnsafeCell;
use std::sync::Arc;

/// Storage of a global created by the host.
#[repr(C, align(16))]
struct HostGlobal(UnsafeCell<u128>);

// SAFETY: accessed only while the owning store is borrowed.
unsafe impl Send for HostGlobal {}
// SAFETY: as above.
unsafe impl Sync for HostGlobal {}

/// A global variable.
#[derive(Clone)]
pub struct Global {
    pub(crate) ptr: *mut u128,
    pub(crate) ty: ValType,
    pub(crate) mutable: bool,
    pub(crate) store_id: u64,
    /// Keeps the storage alive: the owning instance or the host cell.
    pub(crate) _owner: Arc<dyn std::any::Any + Send + Sync>,
}

// SAFETY: `ptr` points into `_owner`, which is Send + Sync; access follows the store discipline.
unsafe impl Send for Global {}
// SAFETY: as above.
unsafe impl Sync for Global {}

impl Global {
    /// A host global holding `value`.
    pub fn new(store: &mut Store, value: Val, mutable: bool) -> Global {
        let cell = Arc::new(HostGlobal(UnsafeCell::new(value.to_raw())));
        store.inner.keep_alive.push(cell.clone());
        Global {
            ptr: cell.0.get(),
            ty: value.ty(),
            mutable,
            store_id: store.id(),
            _owner: cell,
        }
    }

    /// Value type.
    pub fn ty(&self) -> ValType {
        self.ty
    }

    /// Whether guest code may change it.
    pub fn is_mutable(&self) -> bool {
        self.mutable
    }

    /// The current value.
    pub fn get(&self) -> Val {
        // SAFETY: `ptr` is valid for the owner's lifetime and 16-byte aligned.
        Val::from_raw(unsafe { *self.ptr }, self.ty)
    }
}
