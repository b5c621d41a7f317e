//! What a host function sees of the guest code that called it: the store (host data, and every
//! operation on guest state) and the calling instance.

use crate::extern_::Extern;
use crate::instance::Instance;
use crate::memory::Memory;
use crate::store::{AsContext, AsContextMut, StoreContext, StoreContextMut};

/// The caller of a host function: it lends the store (so the host function can call back into
/// the guest, read and write its memory, and reach its host data) and names the calling instance.
pub struct Caller<'a, T: 'static> {
    pub(crate) store: StoreContextMut<'a, T>,
    caller: Option<Instance>,
}

impl<'a, T: 'static> Caller<'a, T> {
    #[inline]
    pub(crate) fn new(store: StoreContextMut<'a, T>, caller: Option<Instance>) -> Caller<'a, T> {
        Caller { store, caller }
    }

    /// The same caller, borrowed for a shorter time.
    #[inline]
    pub(crate) fn reborrow(&mut self) -> Caller<'_, T> {
        Caller {
            store: StoreContextMut(&mut *self.store.0),
            caller: self.caller,
        }
    }

    /// The host data.
    #[inline]
    pub fn data(&self) -> &T {
        self.store.data()
    }

    /// The host data, mutably.
    #[inline]
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }

    /// The calling instance; `None` when the host called the function directly.
    pub fn instance(&self) -> Option<Instance> {
        self.caller
    }

    /// An export of the calling instance (`None` when called by the host, or if there is no
    /// such export).
    pub fn get_export(&mut self, name: &str) -> Option<Extern> {
        self.caller?.get_export(&mut *self, name)
    }

    /// Memory `index` of the calling instance, imported or defined (memory 0 for WASI), if it
    /// has one.
    pub fn memory(&self, index: u32) -> Option<Memory> {
        self.caller?.memory_at(self.store.opaque(), index)
    }

    /// The fuel left (see [`crate::Store::get_fuel`]).
    pub fn get_fuel(&self) -> crate::Result<u64> {
        self.store.get_fuel()
    }

    /// Sets the fuel left (see [`crate::Store::set_fuel`]).
    pub fn set_fuel(&mut self, fuel: u64) -> crate::Result<()> {
        self.store.set_fuel(fuel)
    }
}

impl<T: 'static> AsContext for Caller<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.store.0)
    }
}

impl<T: 'static> AsContextMut for Caller<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(&mut *self.store.0)
    }
}

impl<'a, T: 'static> From<Caller<'a, T>> for StoreContextMut<'a, T> {
    fn from(c: Caller<'a, T>) -> Self {
        c.store
    }
}
