//! Host functions: Rust closures guest code calls through its artifact's host adapters.
//!
//! A host function is a [`HostFunc<T>`]: the `VMHostFuncContext` its adapter calls through, its
//! type, and the closure, reduced to one shape: it reads its arguments from the value slots and
//! writes its results there. Typed closures ([`IntoFunc`], `Func::wrap`) convert between slots and
//! Rust values in place; dynamic ones (`Func::new`) through [`Val`]s kept on the stack. Neither
//! allocates per call.

use super::typed::{WasmRet, WasmTy, WasmTyList};
use crate::caller::Caller;
use crate::error::BoxError;
use crate::send_sync::SendSyncPtr;
use crate::signals;
use crate::store::{StoreContextMut, StoreInner};
use crate::types::FuncType;
use crate::values::Val;
use kiln_format::vmctx::{
    VMContext, VMFuncRef, VMHostFuncContext, DISPATCH_ERROR, DISPATCH_EXCEPTION, DISPATCH_OK,
};
use std::any::{Any, TypeId};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// A host function in its one internal shape: arguments in, results out, through the slots.
pub(crate) trait RawHostFn<T: 'static>:
    Fn(Caller<'_, T>, &mut [u128]) -> Result<(), BoxError> + Send + Sync + 'static
{
}
impl<T: 'static, F> RawHostFn<T> for F where
    F: Fn(Caller<'_, T>, &mut [u128]) -> Result<(), BoxError> + Send + Sync + 'static
{
}

/// A host function for stores of host data `T`: the callee VMContext of its adapter, which starts
/// with the `VMHostFuncContext` the adapter reads. Its `dispatch` is made for the closure type
/// `F`, so a call from guest code reaches the closure with no further indirection.
#[repr(C)]
struct HostFunc<T: 'static, F> {
    header: VMHostFuncContext,
    ty: FuncType,
    /// The canonical id of `ty`.
    type_id: u32,
    func: F,
    _data: PhantomData<fn(&mut T)>,
}

/// What a store needs of a host function whatever its host data type and closure.
pub(crate) trait ErasedHostFunc: Send + Sync {
    /// Its type.
    fn ty(&self) -> &FuncType;
    /// The canonical id of its type.
    fn canonical_type(&self) -> u32;
    /// The host data type of the stores it can be called in.
    fn data_type(&self) -> TypeId;
    /// The callee VMContext its adapter is called with, which starts with its
    /// `VMHostFuncContext`.
    fn vmctx(&self) -> *mut VMContext;
}

impl<T: 'static, F: RawHostFn<T>> ErasedHostFunc for HostFunc<T, F> {
    fn ty(&self) -> &FuncType {
        &self.ty
    }

    fn canonical_type(&self) -> u32 {
        self.type_id
    }

    fn data_type(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn vmctx(&self) -> *mut VMContext {
        // The header is the first field of the `repr(C)` struct.
        (self as *const HostFunc<T, F>)
            .cast::<VMContext>()
            .cast_mut()
    }
}

/// A store's host function, with the `VMFuncRef` made for it if it was ever passed to a guest as
/// a `funcref` (a leaked box, freed on drop).
pub(crate) struct HostFuncEntry {
    pub func: Arc<dyn ErasedHostFunc>,
    pub func_ref: Option<SendSyncPtr<VMFuncRef>>,
}

impl HostFuncEntry {
    pub(crate) fn new(func: Arc<dyn ErasedHostFunc>) -> HostFuncEntry {
        HostFuncEntry {
            func,
            func_ref: None,
        }
    }
}

impl Drop for HostFuncEntry {
    fn drop(&mut self) {
        if let Some(r) = self.func_ref {
            // SAFETY: leaked from a Box in `host_func_ref`; the store that owns `self` is being
            // dropped, so no guest can hold the reference any more.
            drop(unsafe { Box::from_raw(r.as_ptr()) });
        }
    }
}

// The adapter reads `dispatch` at the start of its callee VMContext.
const _: () = assert!(std::mem::offset_of!(HostFunc<(), fn()>, header) == 0);

/// A host function of type `ty` for stores of host data `T`, running `func` on the slots.
fn host_func<T: 'static, F: RawHostFn<T>>(ty: FuncType, func: F) -> Arc<dyn ErasedHostFunc> {
    let type_id = crate::type_registry::canonical_id_of(&ty);
    Arc::new(HostFunc {
        header: VMHostFuncContext {
            dispatch: dispatch::<T, F>,
        },
        ty,
        type_id,
        func,
        _data: PhantomData::<fn(&mut T)>,
    })
}

/// A host function of type `ty` that sees its arguments and results as [`Val`]s.
pub(crate) fn new_dynamic<T: 'static>(
    ty: FuncType,
    func: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), BoxError> + Send + Sync + 'static,
) -> Arc<dyn ErasedHostFunc> {
    let sig = ty.clone();
    let raw = move |mut caller: Caller<'_, T>, slots: &mut [u128]| {
        // On the stack for up to 16 values: no allocation per call.
        let (mut args, mut results) = (ValBuf::new(), ValBuf::new());
        let store = caller.store.opaque();
        let args = args.fill(sig.params().len(), |i| {
            Val::from_raw(store, slots[i], sig.params()[i])
        });
        let results = results.fill(sig.results().len(), |i| Val::default_for(sig.results()[i]));
        func(caller.reborrow(), args, results)?;
        for ((slot, v), t) in slots.iter_mut().zip(results.iter()).zip(sig.results()) {
            if !v.matches_in(caller.store.opaque(), *t) {
                return Err(format!(
                    "host function of type {sig} returned a {} where its type has {t}",
                    v.ty()
                )
                .into());
            }
            *slot = v.to_raw(caller.store.opaque_mut())?;
        }
        Ok(())
    };
    host_func::<T, _>(ty, raw)
}

/// A host function from a typed closure.
pub(crate) fn wrap<T: 'static, P, R>(func: impl IntoFunc<T, P, R>) -> Arc<dyn ErasedHostFunc> {
    let (ty, raw) = func.into_raw();
    host_func::<T, _>(ty, raw)
}

/// Up to 16 values on the stack, more on the heap.
struct ValBuf {
    inline: [Val; 16],
    heap: Vec<Val>,
}

impl ValBuf {
    fn new() -> ValBuf {
        ValBuf {
            inline: [Val::I32(0); 16],
            heap: Vec::new(),
        }
    }

    /// `n` values made by `f`.
    fn fill(&mut self, n: usize, mut f: impl FnMut(usize) -> Val) -> &mut [Val] {
        let buf = if n <= self.inline.len() {
            &mut self.inline[..n]
        } else {
            self.heap = vec![Val::I32(0); n];
            &mut self.heap[..]
        };
        for (i, v) in buf.iter_mut().enumerate() {
            *v = f(i);
        }
        buf
    }
}

/// The error a panic in a host function becomes.
fn panic_error(panic: Box<dyn Any + Send>) -> BoxError {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown payload".into());
    format!("host function panicked: {msg}").into()
}

/// Called by an artifact's host adapter (and by [`crate::call::invoke_host`] for calls from the
/// host): `values` holds the arguments and receives the results. Returns 0 on success;
/// otherwise the error is kept in the current activation and the adapter traps. Never unwinds: a
/// panic is caught here, before it could cross guest frames.
///
/// # Safety
/// Only called under an activation of this thread whose store holds the function: `ctx` is the
/// header of a live `HostFunc<T, F>`, `caller_vmctx` is the calling instance's VMContext (or
/// null), and `values` has `max(params, results)` slots of `ctx`'s type.
unsafe extern "C" fn dispatch<T: 'static, F: RawHostFn<T>>(
    ctx: *const VMHostFuncContext,
    caller_vmctx: *mut VMContext,
    values: *mut u128,
) -> u32 {
    let act = signals::current();
    if act.is_null() {
        // Host functions run only under an activation; reaching here otherwise is a Kiln bug.
        eprintln!("kiln: a host function was called outside any guest call");
        std::process::abort();
    }
    // SAFETY: a non-null current activation lives on the stack of the call in progress on this
    // thread, whose store it names.
    let act = unsafe { &*act };
    if act.data_type != TypeId::of::<T>() {
        act.fail(ctx, "host function of another host data type called".into());
        return 1;
    }
    // SAFETY: the activation's store is exclusively lent to the call in progress, which is now
    // calling this host function: nothing else uses it until we return. Its host data type is
    // `T` (checked just above), so the `dyn VMStore` is a `StoreInner<T>`.
    let store = unsafe { &mut *act.store().cast::<StoreInner<T>>() };
    // SAFETY: per the contract, `ctx` is the header (first field, `repr(C)`) of a
    // `HostFunc<T, F>` kept alive by the store, a linker or an `InstancePre` the instance holds.
    let host = unsafe { &*ctx.cast::<HostFunc<T, F>>() };
    let caller = if caller_vmctx.is_null() {
        None
    } else {
        // SAFETY: per the contract, the caller's own VMContext, of an instance of this store.
        Some(unsafe { crate::instance::Instance::from_vmctx(caller_vmctx) })
    };
    // SAFETY: per the contract, `values` has this many slots.
    let slots = unsafe { std::slice::from_raw_parts_mut(values, host.ty.slots()) };
    let caller = Caller::new(StoreContextMut(store), caller);
    let result = match catch_unwind(AssertUnwindSafe(|| (host.func)(caller, slots))) {
        Ok(result) => result,
        Err(panic) => Err(panic_error(panic)),
    };
    match result {
        Ok(()) => DISPATCH_OK,
        Err(e) => {
            let thrown = crate::exn::as_thrown(&*e).map(|t| t.exn_ref());
            match thrown {
                Some(exn) if exn.store == store.opaque.id => {
                    act.set_pending_exception(exn.index);
                    DISPATCH_EXCEPTION
                }
                _ => {
                    act.fail(ctx, e);
                    DISPATCH_ERROR
                }
            }
        }
    }
}

/// Closures that can be host functions for stores of host data `T`: `Fn(A1, ..., An) -> R` and
/// `Fn(Caller<'_, T>, A1, ..., An) -> R` for up to 16 parameters of [`WasmTy`] types, where `R`
/// is a [`WasmRet`]: `()`, a value, a tuple of values, or a `Result` of them.
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    /// The function's type and its slot-level form.
    #[doc(hidden)]
    #[allow(
        clippy::type_complexity,
        reason = "spelled out: a crate-private trait alias cannot bound a public trait's method"
    )]
    fn into_raw(
        self,
    ) -> (
        FuncType,
        impl Fn(Caller<'_, T>, &mut [u128]) -> Result<(), BoxError> + Send + Sync + 'static,
    );
}

/// The function type of a closure with parameters `P` and results `R`.
fn func_type<P: WasmTyList, R: WasmRet>() -> FuncType {
    FuncType::new(P::valtypes(), <R::Results as WasmTyList>::valtypes())
}

/// Writes a host function's results to its slots.
fn store_results<T: 'static, R: WasmRet>(
    caller: &mut Caller<'_, T>,
    ret: R,
    slots: &mut [u128],
) -> Result<(), BoxError> {
    let results = ret.into_result()?;
    let store = caller.store.opaque_mut();
    let mut failed = None;
    let mut i = 0;
    results.for_each_val(|v| {
        match v.to_raw(store) {
            Ok(raw) => slots[i] = raw,
            Err(e) => failed = Some(e),
        }
        i += 1;
    });
    match failed {
        Some(e) => Err(Box::new(e)),
        None => Ok(()),
    }
}

macro_rules! into_func {
    ($($a:ident $i:tt),*) => {
        impl<T: 'static, F, $($a: WasmTy,)* R: WasmRet> IntoFunc<T, ($($a,)*), R> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
        {
            #[allow(clippy::type_complexity, reason = "as in the trait")]
            fn into_raw(
                self,
            ) -> (
                FuncType,
                impl Fn(Caller<'_, T>, &mut [u128]) -> Result<(), BoxError> + Send + Sync + 'static,
            ) {
                let raw = move |mut caller: Caller<'_, T>, slots: &mut [u128]| {
                    let store = caller.store.opaque();
                    let _ = store;
                    $(let $a = $a::from_val(Val::from_raw(store, slots[$i], $a::valtype()));)*
                    let ret = self($($a),*);
                    store_results(&mut caller, ret, slots)
                };
                (func_type::<($($a,)*), R>(), raw)
            }
        }

        impl<T: 'static, F, $($a: WasmTy,)* R: WasmRet> IntoFunc<T, (Caller<'_, T>, $($a,)*), R>
            for F
        where
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
        {
            #[allow(clippy::type_complexity, reason = "as in the trait")]
            fn into_raw(
                self,
            ) -> (
                FuncType,
                impl Fn(Caller<'_, T>, &mut [u128]) -> Result<(), BoxError> + Send + Sync + 'static,
            ) {
                let raw = move |mut caller: Caller<'_, T>, slots: &mut [u128]| {
                    let store = caller.store.opaque();
                    let _ = store;
                    $(let $a = $a::from_val(Val::from_raw(store, slots[$i], $a::valtype()));)*
                    let ret = self(caller.reborrow(), $($a),*);
                    store_results(&mut caller, ret, slots)
                };
                (func_type::<($($a,)*), R>(), raw)
            }
        }
    };
}

#[allow(
    non_snake_case,
    reason = "the macro names each argument after its type parameter"
)]
mod arities {
    use super::*;
    into_func!();
    into_func!(A1 0);
    into_func!(A1 0, A2 1);
    into_func!(A1 0, A2 1, A3 2);
    into_func!(A1 0, A2 1, A3 2, A4 3);
    into_func!(A1 0, A2 1, A3 2, A4 3, A5 4);
    into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5);
    into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6);
    into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7);
    into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8);
    into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9);
    into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9, A11 10);
    into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9, A11 10, A12 11);
    into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9, A11 10, A12 11, A13 12);
    into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9, A11 10, A12 11, A13 12, A14 13);
    into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9, A11 10, A12 11, A13 12, A14 13, A15 14);
    into_func!(A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9, A11 10, A12 11, A13 12, A14 13, A15 14, A16 15);
}
