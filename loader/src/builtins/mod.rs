//! Builtin functions that generated code calls through the VMContext's builtin table.
//!
//! The table is generated from `kiln_format::for_each_builtin!`, the one list of builtins: for
//! each entry, an `extern "C"` shim, the only unsafe code here, turns the caller's VMContext into
//! its instance and calls the safe body of the same name in [`memory`] or [`table`]. Bodies report
//! failure with `false` (the shim returns a non-zero status and the caller traps with the
//! builtin's kind); none of them unwinds or traps itself.

mod memory;
mod table;

use crate::instance::InstanceInner;
use crate::send_sync::SendSyncPtr;
use kiln_format::vmctx::VMContext;
use kiln_format::Builtin;

/// Every body, by the name the list gives it.
mod bodies {
    pub(super) use super::memory::*;
    pub(super) use super::table::*;
}

/// The shim's return type for a result kind of the list.
macro_rules! abi_result {
    (void) => {
        ()
    };
    (status) => {
        u32
    };
    ($t:ident) => {
        $t
    };
}

/// Converts a body's result to the shim's.
macro_rules! to_abi {
    (status, $e:expr) => {
        u32::from(!$e)
    };
    ($other:ident, $e:expr) => {
        $e
    };
}

macro_rules! shims {
    ($( $(#[$doc:meta])* $name:ident ( $($p:ident : $t:ident),* ) -> $ret:ident $(($kind:ident))? ; )*) => {
        /// The entry points generated code calls, one per builtin.
        mod shims {
            use super::*;
            $(
                $(#[$doc])*
                pub(super) unsafe extern "C" fn $name(
                    vmctx: *mut VMContext,
                    $($p: $t),*
                ) -> abi_result!($ret) {
                    // SAFETY: generated code calls a builtin only with its own VMContext, that of
                    // a live instance whose store is borrowed by the host call in progress
                    // (`InstanceInner::from_vmctx`'s contract).
                    let instance = unsafe { InstanceInner::from_vmctx(vmctx) };
                    to_abi!($ret, bodies::$name(instance, $($p),*))
                }
            )*
        }

        /// Code addresses in `Builtin` order.
        static TABLE: [SendSyncPtr<u8>; Builtin::COUNT] = [
            $(SendSyncPtr::from_fn(shims::$name as *const ())),*
        ];
    };
}

kiln_format::for_each_builtin!(shims);

/// The address of the builtin table, stored in every VMContext.
pub(crate) fn table() -> *const usize {
    TABLE.as_ptr().cast()
}

/// Checks `[start, start + len)` against `size`, and gives it as a `usize` range.
fn range(start: u64, len: u64, size: u64) -> Option<std::ops::Range<usize>> {
    let end = start.checked_add(len).filter(|&end| end <= size)?;
    Some(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
}
