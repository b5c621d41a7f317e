//! Globals: 16-byte cells that guest code reads and writes in place.

use crate::send_sync::SendSyncPtr;
use crate::store::Store;
use crate::values::{Val, ValType};
use kiln_format::vmctx::VMGlobal;
use std::ptr::NonNull;
use std::sync::Arc;

/// Storage of a global created by the host: a boxed cell at a stable address, freed on drop.
struct HostGlobal(SendSyncPtr<VMGlobal>);

impl Drop for HostGlobal {
    fn drop(&mut self) {
        // SAFETY: leaked from a Box in `Global::new`; no handle or instance refers to it any more
        // (they hold this owner alive).
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// A global variable.
#[derive(Clone)]
pub struct Global {
    pub(crate) ptr: SendSyncPtr<VMGlobal>,
    pub(crate) ty: ValType,
    pub(crate) mutable: bool,
    pub(crate) store_id: u64,
    /// Keeps the storage alive: the owning instance or the host cell.
    pub(crate) _owner: Arc<dyn std::any::Any + Send + Sync>,
}

impl Global {
    /// A host global holding `value`.
    pub fn new(store: &mut Store, value: Val, mutable: bool) -> Global {
        let cell = Box::leak(Box::new(VMGlobal {
            raw: value.to_raw(),
        }));
        let ptr = SendSyncPtr::new(NonNull::from(cell));
        let owner = Arc::new(HostGlobal(ptr));
        store.inner.keep_alive.push(owner.clone());
        Global {
            ptr,
            ty: value.ty(),
            mutable,
            store_id: store.id(),
            _owner: owner,
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
        // SAFETY: `ptr` is valid for the owner's lifetime, aligned, and initialized.
        Val::from_raw(unsafe { (*self.ptr.as_ptr()).raw }, self.ty)
    }
}
