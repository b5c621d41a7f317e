//! Functions: host functions written in Rust, and handles to guest functions.

use crate::instance::InstanceInner;
use crate::memory::Memory;
use crate::signals;
use crate::store::Store;
use crate::values::{FuncType, Val};
use kiln_format::vmctx::{VMContext, VMHostFuncContext};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// An error a host function returns; the guest stops and the caller gets it back as a trap of
/// kind [`crate::TrapKind::HostError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    /// What went wrong.
    pub message: String,
    /// Set when the host function ends the program (WASI `proc_exit`): the exit status.
    pub exit_code: Option<i32>,
}

impl HostError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> HostError {
        HostError {
            message: message.into(),
            exit_code: None,
        }
    }

    /// A request to end the program with `code`; not a failure of the host function.
    pub fn exit(code: i32) -> HostError {
        HostError {
            message: format!("program exited with status {code}"),
            exit_code: Some(code),
        }
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}

/// What a host function sees of its caller.
pub struct Caller<'a> {
    instance: Option<&'a InstanceInner>,
}

impl Caller<'_> {
    /// The caller of a function invoked directly by the host: no instance.
    pub(crate) fn host() -> Caller<'static> {
        Caller { instance: None }
    }

    /// The calling instance's memory `index` (memory 0 for WASI), if it has one.
    pub fn memory(&self, index: u32) -> Option<Memory> {
        self.instance?.memories.get(index as usize).cloned()
    }

    /// An export of the calling instance.
    pub fn get_export(&self, name: &str) -> Option<crate::Extern> {
        self.instance?.export(name)
    }
}

type HostFn = dyn Fn(&mut Caller<'_>, &[Val]) -> Result<Vec<Val>, HostError> + Send + Sync;

/// A host function's context: the callee VMContext of its adapter, which starts with the
/// `VMHostFuncContext` the adapter reads.
#[repr(C)]
pub(crate) struct HostFunc {
    header: VMHostFuncContext,
    pub ty: FuncType,
    func: Box<HostFn>,
    /// The store it was created for, or `None` for a function usable in every store.
    pub store_id: Option<u64>,
}

// The adapter reads `dispatch` at the start of its callee VMContext.
const _: () = assert!(std::mem::offset_of!(HostFunc, header) == 0);

impl HostFunc {
    fn new(ty: FuncType, func: Box<HostFn>, store_id: Option<u64>) -> HostFunc {
        HostFunc {
            header: VMHostFuncContext {
                dispatch: host_dispatch,
            },
            ty,
            func,
            store_id,
        }
    }

    pub(crate) fn func(&self) -> &HostFn {
        &*self.func
    }
}

/// A function: a host function or a guest function of an instance.
#[derive(Clone)]
pub struct Func(pub(crate) FuncKind);

#[derive(Clone)]
pub(crate) enum FuncKind {
    Host(Arc<HostFunc>),
    Wasm {
        instance: Arc<InstanceInner>,
        index: u32,
    },
}

impl Func {
    /// A host function of type `ty`. It receives arguments of the parameter types and must return
    /// values of the result types; an error, or a panic, makes the calling guest code trap and
    /// comes back to whoever called into the guest.
    pub fn new(
        store: &mut Store,
        ty: FuncType,
        func: impl Fn(&mut Caller<'_>, &[Val]) -> Result<Vec<Val>, HostError> + Send + Sync + 'static,
    ) -> Func {
        let host = Arc::new(HostFunc::new(ty, Box::new(func), Some(store.id())));
        store.inner.keep_alive.push(host.clone());
        Func(FuncKind::Host(host))
    }

    /// A host function that belongs to no store: define it once, put it in an [`Imports`] once,
    /// and instantiate with those imports in any number of stores (what hosts that create a store
    /// per request want: no per-store setup). It lives as long as a handle or an instance uses it.
    ///
    /// [`Imports`]: crate::Imports
    pub fn host(
        ty: FuncType,
        func: impl Fn(&mut Caller<'_>, &[Val]) -> Result<Vec<Val>, HostError> + Send + Sync + 'static,
    ) -> Func {
        Func(FuncKind::Host(Arc::new(HostFunc::new(
            ty,
            Box::new(func),
            None,
        ))))
    }

    /// The function's type.
    pub fn ty(&self) -> FuncType {
        match &self.0 {
            FuncKind::Host(h) => h.ty.clone(),
            FuncKind::Wasm { instance, index } => instance
                .func_type(*index)
                .expect("type of an existing function"),
        }
    }

    /// Whether the function's type has exactly these parameter and result value-type codes.
    pub(crate) fn signature_is(&self, params: &[u8], results: &[u8]) -> bool {
        let same = |types: &[crate::ValType], codes: &[u8]| {
            types.len() == codes.len() && types.iter().zip(codes).all(|(t, c)| t.code() == *c)
        };
        match &self.0 {
            FuncKind::Host(h) => same(&h.ty.params, params) && same(&h.ty.results, results),
            FuncKind::Wasm { instance, index } => {
                let view = instance.artifact.checked_view();
                let sig = view.func_type_index(*index).and_then(|t| view.signature(t));
                sig.is_ok_and(|(p, r)| p == params && r == results)
            }
        }
    }

    /// The store the function belongs to; `None` if it can be used in any store.
    pub(crate) fn store_id(&self) -> Option<u64> {
        match &self.0 {
            FuncKind::Host(h) => h.store_id,
            FuncKind::Wasm { instance, .. } => Some(instance.store_id),
        }
    }
}

/// Called by an artifact's host adapter: `values` holds the arguments and receives the results.
/// Returns 0 on success; otherwise the error is stored in the current activation and the adapter
/// traps. Never unwinds: a panic is caught here, before it could cross guest frames.
unsafe extern "C" fn host_dispatch(
    ctx: *const VMHostFuncContext,
    caller_vmctx: *mut VMContext,
    values: *mut u128,
) -> u32 {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `ctx` is the header of the HostFunc the import was linked to (its first field,
        // `repr(C)`), which the store keeps alive.
        let host = unsafe { &*ctx.cast::<HostFunc>() };
        let ty = &host.ty;
        let slots = ty.params.len().max(ty.results.len());
        // SAFETY: the adapter passes an array of max(params, results) slots.
        let values = unsafe { std::slice::from_raw_parts_mut(values, slots) };
        let args: Vec<Val> = ty
            .params
            .iter()
            .zip(values.iter())
            .map(|(t, raw)| Val::from_raw(*raw, *t))
            .collect();
        let instance = if caller_vmctx.is_null() {
            None
        } else {
            // SAFETY: a guest caller passes its own VMContext, that of a live instance.
            Some(unsafe { InstanceInner::from_vmctx(caller_vmctx) })
        };
        let mut caller = Caller { instance };
        let results = (host.func)(&mut caller, &args)?;
        if results.len() != ty.results.len()
            || results.iter().zip(&ty.results).any(|(v, t)| v.ty() != *t)
        {
            return Err(HostError::new(format!(
                "host function returned {} values, but its type {} expects other results",
                results.len(),
                ty
            )));
        }
        for (slot, v) in values.iter_mut().zip(results) {
            *slot = v.to_raw();
        }
        Ok(())
    }));
    let error = match outcome {
        Ok(Ok(())) => return 0,
        Ok(Err(e)) => e,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown payload".into());
            HostError::new(format!("host function panicked: {msg}"))
        }
    };
    let act = signals::current();
    if !act.is_null() {
        // SAFETY: the current activation lives on the stack of the call in progress.
        unsafe { *(*act).host_error.borrow_mut() = Some(error) };
    }
    1
}
