//! Calling guest code from the host: an entry trampoline of the function's type, run under a new
//! activation that the trap handler can jump back to.

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::exn::ThrownException;
use crate::func::ErasedHostFunc;
use crate::send_sync::SendSyncPtr;
use crate::signals::{self, Activation};
use crate::store::{StoreOpaque, VMStore};
use crate::trap::Trap;
use kiln_format::tables::extern_kind;
use kiln_format::vmctx::{VMContext, VMFuncRef, VMHostFuncContext};
use kiln_format::TrapKind;

unsafe extern "C" {
    fn kiln_guest_call(
        jmp_slot: *mut *mut libc::c_void,
        trampoline: *const u8,
        callee_vmctx: *mut VMContext,
        caller_vmctx: *mut VMContext,
        code: *const u8,
        values: *mut u128,
    ) -> libc::c_int;
}

/// Everything needed to enter one guest function from the host: addresses in the store, which
/// outlive any handle that can reach them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WasmEntry {
    trampoline: SendSyncPtr<u8>,
    code: SendSyncPtr<u8>,
    callee_vmctx: SendSyncPtr<VMContext>,
}

impl WasmEntry {
    /// The entry of the function at `code` called with `vmctx`, whose type's entry trampoline is
    /// `trampoline`.
    pub(crate) fn new(
        trampoline: *const u8,
        code: *const u8,
        vmctx: *mut VMContext,
    ) -> Result<WasmEntry> {
        let null = || Error::Type("null function".into());
        Ok(WasmEntry {
            trampoline: SendSyncPtr::from_raw(trampoline.cast_mut()).ok_or_else(null)?,
            code: SendSyncPtr::from_raw(code.cast_mut()).ok_or_else(null)?,
            callee_vmctx: SendSyncPtr::from_raw(vmctx).ok_or_else(null)?,
        })
    }

    /// The entry of the function `func_ref` points to, whose type's entry trampoline is
    /// `trampoline`.
    fn from_parts(func_ref: &VMFuncRef, trampoline: *const u8) -> Result<WasmEntry> {
        WasmEntry::new(trampoline, func_ref.code, func_ref.vmctx)
    }

    /// The entry of the `VMFuncRef` at `ptr`, a function of `store`.
    pub(crate) fn for_func_ref_shared(
        store: &StoreOpaque,
        ptr: SendSyncPtr<VMFuncRef>,
    ) -> Result<WasmEntry> {
        // SAFETY: a `VMFuncRef` of `store` (the caller checked the handle's store), alive as long
        // as the store.
        let func_ref = unsafe { &*ptr.as_ptr() };
        let trampoline = match store.entry_trampolines.get(&func_ref.type_id) {
            Some(t) => t.as_ptr().cast_const(),
            None => find_trampoline(store.artifacts(), func_ref.type_id)?,
        };
        WasmEntry::from_parts(func_ref, trampoline)
    }

    /// As [`WasmEntry::for_func_ref_shared`], remembering the trampoline found for the type.
    pub(crate) fn for_func_ref(
        store: &mut StoreOpaque,
        ptr: SendSyncPtr<VMFuncRef>,
    ) -> Result<WasmEntry> {
        let entry = WasmEntry::for_func_ref_shared(store, ptr)?;
        // SAFETY: as in `for_func_ref_shared`.
        let type_id = unsafe { (*ptr.as_ptr()).type_id };
        store.entry_trampolines.insert(type_id, entry.trampoline);
        Ok(entry)
    }
}

/// The entry trampoline of the function type `type_id` in one of `artifacts`.
fn find_trampoline(artifacts: &[Artifact], type_id: u32) -> Result<*const u8> {
    artifacts
        .iter()
        .find_map(|a| {
            let view = a.validated_view()?;
            let ti = a.type_ids().ok()?.iter().position(|&id| id == type_id)?;
            let off = view.types().get(ti)?.entry_trampoline.get() as usize;
            (off < a.code().len()).then(|| a.code_ptr().wrapping_add(off))
        })
        .ok_or_else(|| Error::Type(format!("no entry trampoline for function type {type_id}")))
}

/// Runs `entry` with `values` holding the arguments; they are replaced by the results.
///
/// # Safety
/// `entry` must be a function of `store` (resolved from one of its `VMFuncRef`s), and `values`
/// must have `max(params, results)` slots of the function's type.
pub(crate) unsafe fn invoke(
    store: &mut (dyn VMStore + 'static),
    entry: &WasmEntry,
    values: &mut [u128],
) -> Result<()> {
    signals::ensure_alt_stack();
    let opaque = store.opaque_mut();
    if opaque.depth == 0 {
        // The guest may use `max_stack` bytes below this frame, and never the last part of the
        // thread's real stack. Nested calls (host → guest → host → guest) keep the outermost
        // limit: the budget is for the whole stack.
        let here = &values as *const _ as usize;
        let limit = crate::stack::guest_stack_limit(here, opaque.max_stack);
        opaque.set_stack_limit(limit);
    }
    opaque.depth += 1;
    let (artifacts, data_type) = (opaque.code_ptr(), opaque.data_type);
    // Builtins and host functions reach the store through this pointer while the call runs; it
    // is derived from `store`, which is not used again until the call is over.
    let act = Activation::new(&mut *store, data_type, artifacts);
    signals::push(&act);
    // SAFETY: per this function's contract; `act` outlives the call and is popped after it.
    let ok = unsafe {
        kiln_guest_call(
            act.jmp_buf.as_ptr(),
            entry.trampoline.as_ptr(),
            entry.callee_vmctx.as_ptr(),
            std::ptr::null_mut(),
            entry.code.as_ptr(),
            values.as_mut_ptr(),
        )
    };
    signals::pop(&act);
    let opaque = store.opaque_mut();
    opaque.depth -= 1;
    if ok != 0 {
        return Ok(());
    }
    signals::unblock_fault_signals();
    if let Some(exn) = act.take_exception() {
        return Err(Error::Exception(ThrownException::of(opaque, exn)));
    }
    let Some(site) = act.trap.get() else {
        return Err(Trap::new(TrapKind::HostError).into());
    };
    let mut trap = match act.take_failure() {
        Some((error, host)) if site.kind == TrapKind::HostError => {
            let mut trap = Trap::host(None, error);
            trap.name_host_function(|| host_function_name(opaque, host));
            trap
        }
        _ => Trap::new(site.kind),
    };
    trap.backtrace = crate::trap::backtrace::frames(opaque.artifacts(), &site);
    if let Some(first) = trap.backtrace.iter().find(|f| f.func_index.is_some()) {
        trap.func = Some(first.func_name.clone());
        trap.wasm_offset = first.wasm_offset;
    }
    Err(trap.into())
}

/// Calls the host function `host` of `store` from the host, with `values` holding the arguments;
/// they are replaced by the results. It runs as guest code calls it, through its `dispatch` and
/// under an activation of `store`, so it can call back into the guest the same way.
///
/// # Safety
/// `host` must be a host function of `store`, and `values` must have `max(params, results)`
/// slots of its type.
pub(crate) unsafe fn invoke_host(
    store: &mut (dyn VMStore + 'static),
    host: &dyn ErasedHostFunc,
    values: &mut [u128],
) -> Result<()> {
    let opaque = store.opaque();
    if host.data_type() != opaque.data_type {
        return Err(Error::Type(
            "host function of another host data type".into(),
        ));
    }
    let (artifacts, data_type) = (opaque.code_ptr(), opaque.data_type);
    let ctx = host.vmctx().cast::<VMHostFuncContext>().cast_const();
    let act = Activation::new(&mut *store, data_type, artifacts);
    signals::push(&act);
    // SAFETY: `ctx` starts with the function's `VMHostFuncContext` (`vmctx`'s contract), whose
    // `dispatch` is called as its adapter would, under `act`, with slots sized for its type
    // (this function's contract) and no calling instance.
    let status = unsafe { ((*ctx).dispatch)(ctx, std::ptr::null_mut(), values.as_mut_ptr()) };
    signals::pop(&act);
    if let Some(exn) = act.take_exception() {
        let opaque = store.opaque_mut();
        return Err(Error::Exception(ThrownException::of(opaque, exn)));
    }
    match act.take_failure() {
        Some((error, _)) if status != 0 => Err(Error::Trap(Trap::host(None, error))),
        _ if status != 0 => Err(Error::Trap(Trap::new(TrapKind::HostError))),
        _ => Ok(()),
    }
}

/// The name (`module.name`) under which an instance of `store` imports the host function whose
/// context is `host`.
fn host_function_name(store: &StoreOpaque, host: *const VMHostFuncContext) -> Option<String> {
    if host.is_null() {
        return None;
    }
    store.instances.iter().find_map(|inst| {
        let view = inst.artifact.validated_view()?;
        let imported = view.module().imported_funcs.get();
        let slot = (0..imported).find(|&i| {
            let f = inst.vmctx().field(inst.layout.func_ref(i));
            // SAFETY: an imported function's slot of this instance's VMContext, written at
            // instantiation.
            std::ptr::addr_eq(unsafe { (*f).vmctx }, host)
        })?;
        let import = view
            .imports()
            .iter()
            .filter(|i| i.kind == extern_kind::FUNC)
            .nth(slot as usize)?;
        Some(format!(
            "{}.{}",
            view.str_lossy(import.module),
            view.str_lossy(import.name)
        ))
    })
}
