//! Access to a store: [`AsContext`] and [`AsContextMut`], implemented by [`Store`], [`Caller`] and
//! the context types, so that every operation on guest state takes "something that is or holds
//! the store" (as in Wasmtime).
//!
//! [`Caller`]: crate::Caller

use super::{Store, StoreInner, StoreOpaque};

/// A shared borrow of a store.
pub struct StoreContext<'a, T: 'static>(pub(crate) &'a StoreInner<T>);

/// An exclusive borrow of a store.
pub struct StoreContextMut<'a, T: 'static>(pub(crate) &'a mut StoreInner<T>);

/// Something that can lend its store for reading.
pub trait AsContext {
    /// The store's host data type.
    type Data: 'static;

    /// The store, borrowed.
    fn as_context(&self) -> StoreContext<'_, Self::Data>;
}

/// Something that can lend its store for writing: running guest code, changing its state.
pub trait AsContextMut: AsContext {
    /// The store, borrowed exclusively.
    fn as_context_mut(&mut self) -> StoreContextMut<'_, Self::Data>;
}

impl<T: 'static> StoreContext<'_, T> {
    /// The host data.
    pub fn data(&self) -> &T {
        &self.0.data
    }

    pub(crate) fn opaque(&self) -> &StoreOpaque {
        &self.0.opaque
    }
}

impl<'a, T: 'static> StoreContextMut<'a, T> {
    /// The host data.
    pub fn data(&self) -> &T {
        &self.0.data
    }

    /// The host data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.0.data
    }

    /// The remaining fuel (see [`Store::get_fuel`]).
    pub fn get_fuel(&self) -> crate::Result<u64> {
        self.0.opaque.get_fuel()
    }

    /// Sets the remaining fuel (see [`Store::set_fuel`]).
    pub fn set_fuel(&mut self, fuel: u64) -> crate::Result<()> {
        self.0.opaque.set_fuel(fuel)
    }

    /// Sets the epoch deadline (see [`Store::set_epoch_deadline`]).
    pub fn set_epoch_deadline(&mut self, ticks_beyond_current: u64) -> crate::Result<()> {
        self.0.opaque.set_epoch_deadline(ticks_beyond_current)
    }

    pub(crate) fn opaque(&self) -> &StoreOpaque {
        &self.0.opaque
    }

    pub(crate) fn opaque_mut(&mut self) -> &mut StoreOpaque {
        &mut self.0.opaque
    }

    /// The store, for the lifetime of this borrow.
    pub(crate) fn into_inner(self) -> &'a mut StoreInner<T> {
        self.0
    }
}

impl<T: 'static> AsContext for Store<T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(&self.inner)
    }
}

impl<T: 'static> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(&mut self.inner)
    }
}

impl<T: 'static> AsContext for StoreContext<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}

impl<T: 'static> AsContext for StoreContextMut<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}

impl<T: 'static> AsContextMut for StoreContextMut<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.0)
    }
}

impl<C: AsContext + ?Sized> AsContext for &C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}

impl<C: AsContext + ?Sized> AsContext for &mut C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}

impl<C: AsContextMut + ?Sized> AsContextMut for &mut C {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, C::Data> {
        (**self).as_context_mut()
    }
}

impl<'a, C: AsContext> From<&'a C> for StoreContext<'a, C::Data> {
    fn from(c: &'a C) -> Self {
        C::as_context(c)
    }
}

impl<'a, C: AsContextMut> From<&'a mut C> for StoreContext<'a, C::Data> {
    fn from(c: &'a mut C) -> Self {
        C::as_context(c)
    }
}

impl<'a, C: AsContextMut> From<&'a mut C> for StoreContextMut<'a, C::Data> {
    fn from(c: &'a mut C) -> Self {
        C::as_context_mut(c)
    }
}

impl<'a, T: 'static> From<StoreContextMut<'a, T>> for StoreContext<'a, T> {
    fn from(c: StoreContextMut<'a, T>) -> Self {
        StoreContext(c.0)
    }
}
