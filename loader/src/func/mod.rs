//! Functions: host functions written in Rust ([`host`]), and references to guest functions.
//! Typed access, for both directions, is in [`typed`].
//!
//! A [`Func`] is a handle of the store it belongs to: either one of the store's host functions,
//! or the address of a `VMFuncRef` inside the store (an instance's export or import, or a
//! `funcref` a guest handed out). Both stay valid as long as the store.

pub(crate) mod host;
pub(crate) mod typed;

pub use host::IntoFunc;
pub use typed::{TypedFunc, WasmParams, WasmResults, WasmRet, WasmTy, WasmTyList};

pub(crate) use host::{ErasedHostFunc, HostFuncEntry};

use crate::call::WasmEntry;
use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::send_sync::SendSyncPtr;
use crate::store::{AsContext, AsContextMut, StoreContextMut, StoreId, StoreOpaque};
use crate::types::FuncType;
use crate::values::Val;
use kiln_format::tables::NO_CODE;
use kiln_format::vmctx::VMFuncRef;
use std::ptr::NonNull;

/// A function of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Func {
    pub(crate) store: StoreId,
    pub(crate) kind: FuncKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FuncKind {
    /// `StoreOpaque::host_funcs[index]`.
    Host(u32),
    /// A `VMFuncRef` inside the store.
    Ref(SendSyncPtr<VMFuncRef>),
}

impl Func {
    /// A host function of type `ty` in `store`: it receives arguments of the parameter types and
    /// writes values of the result types; an error, or a panic, makes the calling guest code trap
    /// and comes back to whoever called into the guest.
    pub fn new<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        ty: FuncType,
        func: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), crate::BoxError>
            + Send
            + Sync
            + 'static,
    ) -> Func {
        let host = host::new_dynamic::<T>(ty, func);
        store.as_context_mut().opaque_mut().add_host_func(host)
    }

    /// A host function from a Rust closure whose parameters and results are [`WasmTy`] types, with
    /// or without a leading [`Caller`], returning `R`, `(R1, R2, ...)`, `()` or a `Result` of them.
    /// Calls convert nothing on the heap.
    ///
    /// A host function that calls back into its guest, through the [`Caller`]:
    ///
    /// ```
    /// # fn artifact(wat: &str, fuel: bool, epochs: bool) -> kiln_loader::Artifact {
    /// #     let options = kiln_compiler::CompileOptions { fuel, epoch_interruption: epochs, ..Default::default() };
    /// #     let bytes = kiln_compiler::compile(&wat::parse_str(wat).unwrap(), &options).unwrap();
    /// #     let path = std::env::temp_dir().join(format!("kiln-doc-{}-{}.kiln", std::process::id(), line!()));
    /// #     std::fs::write(&path, bytes).unwrap();
    /// #     kiln_loader::Artifact::open(&path).unwrap()
    /// # }
    /// use kiln_loader::{Caller, Func, Instance, Store};
    ///
    /// let artifact = artifact(r#"(module
    ///     (import "host" "twice_of" (func $twice_of (param i32) (result i32)))
    ///     (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
    ///     (func (export "run") (param i32) (result i32) (call $twice_of (local.get 0))))"#, false, false);
    /// let mut store = Store::new(0u32);
    /// // (inc(x)) * 2, where `inc` is the guest's own export.
    /// let twice_of = Func::wrap(&mut store, |mut caller: Caller<'_, u32>, x: i32| -> kiln_loader::Result<i32> {
    ///     *caller.data_mut() += 1;
    ///     let inc = caller.get_export("inc").and_then(|e| e.into_func()).unwrap();
    ///     let inc = inc.typed::<i32, i32>(&caller)?;
    ///     Ok(inc.call(&mut caller, x)? * 2)
    /// });
    /// let instance = Instance::new(&mut store, &artifact, &[twice_of.into()])?;
    /// let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    /// assert_eq!(run.call(&mut store, 20)?, 42);
    /// assert_eq!(*store.data(), 1);
    /// # Ok::<(), kiln_loader::Error>(())
    /// ```
    pub fn wrap<T: 'static, Params, Results>(
        mut store: impl AsContextMut<Data = T>,
        func: impl IntoFunc<T, Params, Results>,
    ) -> Func {
        let host = host::wrap::<T, _, _>(func);
        store.as_context_mut().opaque_mut().add_host_func(host)
    }

    /// The function's type.
    ///
    /// # Panics
    /// If `store` does not own this function (as every accessor that cannot fail).
    pub fn ty(&self, store: impl AsContext) -> FuncType {
        let cx = store.as_context();
        cx.opaque().assert_owns(self.store, "function");
        match self.ty_in(cx.opaque()) {
            Ok(ty) => ty,
            Err(e) => panic!("function of a corrupt artifact: {e}"),
        }
    }

    /// The function's type, if `store` owns it.
    pub(crate) fn ty_in(&self, store: &StoreOpaque) -> Result<FuncType> {
        match self.kind {
            FuncKind::Host(i) => {
                store.check_owns(self.store, "function")?;
                Ok(store.host_funcs[i as usize].func.ty().clone())
            }
            FuncKind::Ref(_) => {
                let type_id = self.type_id_in(store)?;
                crate::type_registry::func_type(type_id)
                    .ok_or_else(|| Error::Type(format!("no function type has id {type_id}")))
            }
        }
    }

    /// The canonical id of the function's type, if `store` owns it.
    pub(crate) fn type_id_in(&self, store: &StoreOpaque) -> Result<u32> {
        store.check_owns(self.store, "function")?;
        Ok(match self.kind {
            FuncKind::Host(i) => store.host_funcs[i as usize].func.canonical_type(),
            // SAFETY: a `VMFuncRef` of this store (checked above), which lives as long as it.
            FuncKind::Ref(ptr) => unsafe { (*ptr.as_ptr()).type_id },
        })
    }

    /// Calls the function with `params`, writing its results to `results` (which must have the
    /// length of the type's results).
    pub fn call(
        &self,
        mut store: impl AsContextMut,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let mut cx = store.as_context_mut();
        let ty = self.ty_in(cx.opaque())?;
        check_args(cx.opaque(), &ty, params, results.len())?;
        const INLINE: usize = 16;
        let mut inline = [0u128; INLINE];
        let mut heap = Vec::new();
        let slots: &mut [u128] = if ty.slots() <= INLINE {
            &mut inline[..ty.slots()]
        } else {
            heap.resize(ty.slots(), 0);
            &mut heap
        };
        for (slot, p) in slots.iter_mut().zip(params) {
            *slot = p.to_raw(cx.opaque_mut())?;
        }
        self.call_raw(&mut cx, slots)?;
        for ((r, t), raw) in results.iter_mut().zip(ty.results()).zip(slots.iter()) {
            *r = Val::from_raw(cx.opaque(), *raw, *t);
        }
        Ok(())
    }

    /// Calls with the arguments in `slots` (sized for the type), which receive the results.
    pub(crate) fn call_raw<T: 'static>(
        &self,
        cx: &mut StoreContextMut<'_, T>,
        slots: &mut [u128],
    ) -> Result<()> {
        match self.kind {
            FuncKind::Host(i) => {
                let host = cx.opaque().host_funcs[i as usize].func.clone();
                // SAFETY: a host function of this store, and `slots` is sized for its type.
                unsafe { crate::call::invoke_host(cx.0, &*host, slots) }
            }
            FuncKind::Ref(ptr) => {
                let entry = WasmEntry::for_func_ref(cx.opaque_mut(), ptr)?;
                // SAFETY: `entry` was made for this function's type, for which `slots` is sized.
                unsafe { crate::call::invoke(cx.0, &entry, slots) }
            }
        }
    }

    /// A typed view of the function, its type checked against `P` and `R` once.
    pub fn typed<P: WasmParams, R: WasmResults>(
        &self,
        store: impl AsContext,
    ) -> Result<TypedFunc<P, R>> {
        TypedFunc::new(*self, store.as_context().opaque())
    }

    /// The `VMFuncRef` guest code sees for this function in `store`; an error if it belongs to
    /// another store, or is a host function of a type no module of the store has an adapter for.
    pub(crate) fn vm_func_ref(&self, store: &mut StoreOpaque) -> Result<*mut VMFuncRef> {
        store.check_owns(self.store, "function")?;
        match self.kind {
            FuncKind::Ref(ptr) => Ok(ptr.as_ptr()),
            FuncKind::Host(i) => store.host_func_ref(i),
        }
    }
}

/// Checks arguments against a type, and that `results` slots are provided.
pub(crate) fn check_args(
    store: &StoreOpaque,
    ty: &FuncType,
    params: &[Val],
    results: usize,
) -> Result<()> {
    let ok = params.len() == ty.params().len()
        && params
            .iter()
            .zip(ty.params())
            .all(|(a, t)| a.matches_in(store, *t));
    if !ok {
        let got: Vec<String> = params.iter().map(|a| a.ty().to_string()).collect();
        return Err(Error::Type(format!(
            "expected arguments of {ty}, got ({})",
            got.join(" ")
        )));
    }
    if results != ty.results().len() {
        return Err(Error::Type(format!(
            "{ty} has {} results, but {results} were asked for",
            ty.results().len()
        )));
    }
    Ok(())
}

impl StoreOpaque {
    /// Adds a host function to the store.
    pub(crate) fn add_host_func(&mut self, host: std::sync::Arc<dyn ErasedHostFunc>) -> Func {
        self.host_funcs.push(HostFuncEntry::new(host));
        Func {
            store: self.id,
            kind: FuncKind::Host((self.host_funcs.len() - 1) as u32),
        }
    }

    /// The `VMFuncRef` of host function `index`, made at its first use: its code is the host
    /// adapter of its type in any artifact of the store.
    fn host_func_ref(&mut self, index: u32) -> Result<*mut VMFuncRef> {
        let entry = &self.host_funcs[index as usize];
        if let Some(r) = entry.func_ref {
            return Ok(r.as_ptr());
        }
        let host = entry.func.clone();
        let type_id = host.canonical_type();
        let adapter = self.artifacts().iter().find_map(|a| {
            let view = a.validated_view()?;
            let ids = a.type_ids().ok()?;
            let ti = ids.iter().position(|&id| id == type_id)?;
            let off = view.types().get(ti)?.host_adapter.get();
            let text = a.code();
            (off != NO_CODE && (off as usize) < text.len())
                .then(|| a.code_ptr().wrapping_add(off as usize))
        });
        let Some(code) = adapter else {
            return Err(Error::Type(format!(
                "a host function of type {} cannot become a funcref here: no module of this store \
                 imports a function of that type",
                host.ty()
            )));
        };
        let func_ref = Box::leak(Box::new(VMFuncRef {
            code,
            type_id,
            pad: 0,
            vmctx: host.vmctx(),
        }));
        let ptr = SendSyncPtr::new(NonNull::from(func_ref));
        self.host_funcs[index as usize].func_ref = Some(ptr);
        Ok(ptr.as_ptr())
    }
}
