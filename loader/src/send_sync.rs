//! The one pointer type of the loader that crosses threads.
//!
//! Every raw pointer the loader keeps points into memory owned by a store (a VMContext, a memory
//! or table definition, a global's storage, a host function) or by an artifact (its immutable
//! mapping). Such memory is accessed only while its owner is borrowed: through `&mut Store` for
//! anything that runs guest code or writes guest state, through `&Store` for reads, and the
//! artifact's mapping is never written at all. The borrow rules on the owner therefore serialize
//! every access, whatever thread the pointer travels to. That argument is made once, here, for
//! [`SendSyncPtr`]; types that hold one are `Send` and `Sync` by composition.

use std::ptr::NonNull;

/// A non-null raw pointer that is `Send` and `Sync` (see the module documentation for why).
#[repr(transparent)]
pub(crate) struct SendSyncPtr<T: ?Sized>(NonNull<T>);

// SAFETY: see the module documentation: the pointee is owned by a store or an artifact and only
// accessed under a borrow of its owner, which serializes all access across threads.
unsafe impl<T: ?Sized> Send for SendSyncPtr<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: ?Sized> Sync for SendSyncPtr<T> {}

impl<T: ?Sized> SendSyncPtr<T> {
    /// Wraps `ptr`.
    pub(crate) fn new(ptr: NonNull<T>) -> Self {
        SendSyncPtr(ptr)
    }

    /// The raw pointer.
    pub(crate) fn as_ptr(self) -> *mut T {
        self.0.as_ptr()
    }
}

impl SendSyncPtr<u8> {
    /// The address of a function, for tables of code addresses built at compile time.
    pub(crate) const fn from_fn(f: *const ()) -> Self {
        // SAFETY: the address of a function is never null.
        SendSyncPtr(unsafe { NonNull::new_unchecked(f as *mut u8) })
    }
}

impl<T> SendSyncPtr<T> {
    /// Wraps `ptr`, which must not be null (`None` if it is).
    pub(crate) fn from_raw(ptr: *mut T) -> Option<Self> {
        NonNull::new(ptr).map(SendSyncPtr)
    }
}

impl<T: ?Sized> Clone for SendSyncPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ?Sized> Copy for SendSyncPtr<T> {}

impl<T: ?Sized> PartialEq for SendSyncPtr<T> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(self.0.as_ptr(), other.0.as_ptr())
    }
}
impl<T: ?Sized> Eq for SendSyncPtr<T> {}

impl<T: ?Sized> std::hash::Hash for SendSyncPtr<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_ptr().cast::<()>().hash(state)
    }
}

impl<T: ?Sized> std::fmt::Debug for SendSyncPtr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:p}", self.0.as_ptr().cast::<()>())
    }
}
