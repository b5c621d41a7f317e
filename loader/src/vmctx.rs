//! An instance's VMContext as the loader reaches it: one allocation, laid out by the artifact's
//! [`VmctxLayout`], with typed access to each field (`kiln_format::vmctx::Field`).

use crate::send_sync::SendSyncPtr;
use kiln_format::vmctx::{Field, VMContext};
use std::alloc::Layout;
use std::ptr::NonNull;

/// The address of a live instance's VMContext.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct VmctxPtr(SendSyncPtr<VMContext>);

impl VmctxPtr {
    /// The pointer generated code receives.
    pub(crate) fn as_ptr(self) -> *mut VMContext {
        self.0.as_ptr()
    }

    /// Wraps a pointer received from generated code (`None` for null).
    pub(crate) fn from_raw(vmctx: *mut VMContext) -> Option<VmctxPtr> {
        SendSyncPtr::from_raw(vmctx).map(VmctxPtr)
    }

    /// The address of a field. Computing it touches nothing, so it is safe; the field lies inside
    /// the allocation when `field` comes from this VMContext's layout.
    pub(crate) fn field<T>(self, field: Field<T>) -> *mut T {
        self.as_ptr()
            .cast::<u8>()
            .wrapping_add(field.offset() as usize)
            .cast()
    }

    /// Writes a field.
    ///
    /// # Safety
    /// `field` must come from this VMContext's layout, and no reference to the field may be live.
    pub(crate) unsafe fn write<T>(self, field: Field<T>, value: T) {
        // SAFETY: per the contract the field lies inside the allocation, aligned for `T` (the
        // layout aligns every field for its type and the allocation is 16-aligned).
        unsafe { self.field(field).write(value) }
    }

    /// Reads a field.
    ///
    /// # Safety
    /// `field` must come from this VMContext's layout and have been written.
    pub(crate) unsafe fn read<T: Copy>(self, field: Field<T>) -> T {
        // SAFETY: as for `write`; the field was initialized.
        unsafe { self.field(field).read() }
    }
}

/// The VMContext allocation of one instance: 16-byte aligned, freed on drop, with a trailer
/// after the VMContext for the loader's own record of the instance. Generated code and the loader
/// access it only through raw pointers ([`VmctxPtr`]).
pub(crate) struct VmctxAlloc {
    ptr: VmctxPtr,
    layout: Layout,
    /// Where the trailer starts (the VMContext's size, 16-aligned).
    trailer: usize,
}

impl VmctxAlloc {
    /// Allocates a VMContext of `size` bytes followed by a `trailer`-byte record, and zeroes the
    /// first `zeroed` bytes of the VMContext. The rest (the function references, which
    /// instantiation overwrites in full) is left as is: for modules with thousands of
    /// functions, zeroing it would be most of the allocation's cost.
    pub(crate) fn new(size: u32, zeroed: u32, trailer: u32) -> VmctxAlloc {
        let start = (size as usize).next_multiple_of(16);
        let total = (start + trailer as usize).max(16);
        let Ok(layout) = Layout::from_size_align(total, 16) else {
            // Sizes are bounded by WebAssembly's limits far below `isize::MAX`.
            unreachable!("VMContext layout of {size} bytes")
        };
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<VMContext>()) else {
            std::alloc::handle_alloc_error(layout);
        };
        // SAFETY: `zeroed <= size`, inside the allocation just made.
        unsafe { std::ptr::write_bytes(raw, 0, zeroed.min(size) as usize) };
        VmctxAlloc {
            ptr: VmctxPtr(SendSyncPtr::new(ptr)),
            layout,
            trailer: start,
        }
    }

    /// The VMContext.
    pub(crate) fn ptr(&self) -> VmctxPtr {
        self.ptr
    }

    /// The trailer: 16-aligned, as long as asked for in `new`.
    pub(crate) fn trailer(&self) -> *mut u8 {
        self.ptr.as_ptr().cast::<u8>().wrapping_add(self.trailer)
    }
}

impl Drop for VmctxAlloc {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; nothing uses it after its instance.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast(), self.layout) };
    }
}
