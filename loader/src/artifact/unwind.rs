//! Registration of an artifact's `.eh_frame` with the system unwinder (libgcc): one call for the
//! whole section at load, one at unload, never one per function (SPEC.md §7).

unsafe extern "C" {
    // libgcc's registration of a whole `.eh_frame` section (terminated by a zero word).
    fn __register_frame(begin: *const u8);
    fn __deregister_frame(begin: *const u8);
}

use crate::send_sync::SendSyncPtr;

/// A registered `.eh_frame` (an address in the artifact's immutable mapping), deregistered on
/// drop.
pub(super) struct UnwindRegistration {
    eh_frame: SendSyncPtr<u8>,
}

impl UnwindRegistration {
    /// Registers the `.eh_frame` at `eh_frame`.
    ///
    /// # Safety
    /// `eh_frame` must be a complete `.eh_frame` section ending with a zero word, inside a mapping
    /// that outlives the returned registration.
    pub(super) unsafe fn register(eh_frame: SendSyncPtr<u8>) -> UnwindRegistration {
        // SAFETY: per the contract.
        unsafe { __register_frame(eh_frame.as_ptr()) };
        UnwindRegistration { eh_frame }
    }
}

impl Drop for UnwindRegistration {
    fn drop(&mut self) {
        // SAFETY: registered in `register` with this address, inside a mapping still alive (the
        // artifact drops its registration before its mapping).
        unsafe { __deregister_frame(self.eh_frame.as_ptr()) };
    }
}
