//! Builtin functions that generated code calls through the VMContext's builtin table.
//!
//! The table is generated from `kiln_format::for_each_builtin!`, the one list of builtins: for
//! each entry, an `extern "C"` shim, the only unsafe code here, finds the store of the guest call
//! in progress and the calling instance, and calls the safe body of the same name in [`memory`],
//! [`table`], [`epoch`] or [`types`]. Bodies report a trap with [`Failure`]; none of them unwinds or traps
//! itself: the calling code traps on the status the shim returns.

mod epoch;
mod memory;
mod table;
mod types;

use crate::error::BoxError;
use crate::instance::Instance;
use crate::send_sync::SendSyncPtr;
use crate::signals::{self, Activation};
use crate::store::VMStore;
use kiln_format::builtins::{GROW_HOST_ERROR, STATUS_HOST_ERROR, STATUS_OK, STATUS_TRAP};
use kiln_format::vmctx::VMContext;
use kiln_format::Builtin;

/// Every body, by the name the list gives it.
mod bodies {
    pub(super) use super::epoch::*;
    pub(super) use super::memory::*;
    pub(super) use super::table::*;
    pub(super) use super::types::*;
}

/// What a builtin body works on: the store of the guest call in progress, and the instance whose
/// code called it.
pub(crate) struct BuiltinCx<'a> {
    pub store: &'a mut (dyn VMStore + 'static),
    pub instance: u32,
    act: &'a Activation,
}

/// Why a builtin makes its caller trap.
pub(crate) enum Failure {
    /// The builtin's own trap kind (out of bounds, interrupt).
    Trap,
    /// A host error (from the store's limiter or callback), kept for the trap.
    Host(BoxError),
}

impl<'a> BuiltinCx<'a> {
    /// The calling code's store and instance.
    ///
    /// # Safety
    /// `vmctx` must be the VMContext of a live instance whose guest code is calling a builtin on
    /// this thread, under the innermost activation.
    pub(crate) unsafe fn enter<'b>(vmctx: *mut VMContext) -> BuiltinCx<'b> {
        let act = signals::current();
        if act.is_null() {
            // Guest code runs only under an activation; reaching here otherwise is a Kiln bug.
            eprintln!("kiln: a builtin was called outside any guest call");
            std::process::abort();
        }
        // SAFETY: a non-null current activation lives on the stack of the host→guest call in
        // progress, whose store it lends exclusively to that call's guest code, which is now
        // calling this builtin: nothing else uses the store until we return.
        let (act, store) = unsafe { (&*act, &mut *(*act).store()) };
        // SAFETY: per the contract.
        let instance = unsafe { Instance::from_vmctx(vmctx) };
        if instance.store != store.opaque().id {
            eprintln!("kiln: a builtin was called by an instance of another store");
            std::process::abort();
        }
        BuiltinCx {
            store,
            instance: instance.index,
            act,
        }
    }

    /// The activation of the guest call in progress.
    pub(crate) fn act(&self) -> &'a Activation {
        self.act
    }

    /// The status result for `outcome`.
    fn status(&self, outcome: Result<(), Failure>) -> u32 {
        match outcome {
            Ok(()) => STATUS_OK,
            Err(Failure::Trap) => STATUS_TRAP,
            Err(Failure::Host(e)) => {
                self.act.fail(std::ptr::null(), e);
                STATUS_HOST_ERROR
            }
        }
    }

    /// The `grow` result for `outcome`: the old size, `u64::MAX` for failure.
    fn grow(&self, outcome: Result<Option<u64>, BoxError>) -> u64 {
        match outcome {
            Ok(Some(old)) => old,
            Ok(None) => u64::MAX,
            Err(e) => {
                self.act.fail(std::ptr::null(), e);
                GROW_HOST_ERROR
            }
        }
    }

    /// The store index of the calling instance's memory `memory`.
    fn memory(&self, memory: u32) -> Option<u32> {
        let inst = &self.store.opaque().instances[self.instance as usize];
        inst.memories.get(memory as usize).copied()
    }

    /// The store index of the calling instance's table `table`.
    fn table(&self, table: u32) -> Option<u32> {
        let inst = &self.store.opaque().instances[self.instance as usize];
        inst.tables.get(table as usize).copied()
    }
}

/// The shim's return type for a result kind of the list.
macro_rules! abi_result {
    (void) => {
        ()
    };
    (status) => {
        u32
    };
    (grow) => {
        u64
    };
    ($t:ident) => {
        $t
    };
}

/// Converts a body's result to the shim's.
macro_rules! to_abi {
    ($cx:ident, status, $e:expr) => {
        $cx.status($e)
    };
    ($cx:ident, grow, $e:expr) => {
        $cx.grow($e)
    };
    ($cx:ident, $other:ident, $e:expr) => {
        $e
    };
}

/// The shim of one builtin; none for the exception builtins, whose entry points are C
/// (`csrc/throw.c`, see `crate::exn::unwind`).
macro_rules! shim {
    ($(#[$doc:meta])* throw $($rest:tt)*) => {};
    ($(#[$doc:meta])* throw_ref $($rest:tt)*) => {};
    ($(#[$doc:meta])* throw_pending $($rest:tt)*) => {};
    ($(#[$doc:meta])* $name:ident ( $($p:ident : $t:ident),* ) -> $ret:ident $(($kind:ident))?) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Called only by generated code, with its own VMContext first.
        pub(super) unsafe extern "C" fn $name(
            vmctx: *mut VMContext,
            $($p: $t),*
        ) -> abi_result!($ret) {
            // SAFETY: generated code calls a builtin only with its own VMContext, that of
            // a live instance whose guest code runs under this thread's innermost
            // activation (`BuiltinCx::enter`'s contract).
            let mut cx = unsafe { BuiltinCx::enter(vmctx) };
            let outcome = bodies::$name(&mut cx, $($p),*);
            to_abi!(cx, $ret, outcome)
        }
    };
}

/// The address of one builtin's entry point.
macro_rules! entry {
    (throw) => {
        kiln_throw_entry
    };
    (throw_ref) => {
        kiln_throw_ref_entry
    };
    (throw_pending) => {
        kiln_throw_pending_entry
    };
    ($name:ident) => {
        shims::$name
    };
}

unsafe extern "C" {
    fn kiln_throw_entry(vmctx: *mut VMContext, tag: u32, values: u64) -> u32;
    fn kiln_throw_ref_entry(vmctx: *mut VMContext, exn: u64) -> u32;
    fn kiln_throw_pending_entry(vmctx: *mut VMContext) -> u32;
}

macro_rules! shims {
    ($( $(#[$doc:meta])* $name:ident ( $($p:ident : $t:ident),* ) -> $ret:ident $(($kind:ident))? ; )*) => {
        /// The entry points generated code calls, one per builtin.
        mod shims {
            use super::*;
            $(
                shim! { $(#[$doc])* $name ( $($p : $t),* ) -> $ret $(($kind))? }
            )*
        }

        /// Code addresses in `Builtin` order.
        static TABLE: [SendSyncPtr<u8>; Builtin::COUNT] = [
            $(SendSyncPtr::from_fn(entry!($name) as *const ())),*
        ];
    };
}

kiln_format::for_each_builtin!(shims);

/// The address of the builtin table, stored in every VMContext.
pub(crate) fn table() -> *const usize {
    TABLE.as_ptr().cast()
}

/// Checks `[start, start + len)` against `size`, and gives it as a `usize` range.
pub(crate) fn range(start: u64, len: u64, size: u64) -> Option<std::ops::Range<usize>> {
    let end = start.checked_add(len).filter(|&end| end <= size)?;
    Some(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
}
