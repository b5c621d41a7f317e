//! Calling guest functions from the host: dynamically with [`Val`]s, or through a [`TypedFunc`].

use crate::func::{Caller, Func, FuncKind};
use crate::instance::{Instance, InstanceInner};
use crate::send_sync::SendSyncPtr;
use crate::signals::{self, Activation};
use crate::store::Store;
use crate::trap::Trap;
use crate::values::{Val, ValType};
use kiln_format::tables::TableId;
use kiln_format::vmctx::VMContext;
use kiln_format::{FormatError, Location, TrapKind};
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;

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

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The guest trapped (or a host function it called failed).
    #[error("{0}")]
    Trap(Trap),
    /// The arguments do not match the function's type, or the function is not in this store.
    #[error("{0}")]
    Type(String),
    /// No such exported function.
    #[error("no exported function named `{0}`")]
    NotFound(String),
    /// The artifact is inconsistent.
    #[error(transparent)]
    Format(#[from] kiln_format::FormatError),
}

impl Instance {
    /// Calls exported function `name` with `args`.
    pub fn call(&self, store: &mut Store, name: &str, args: &[Val]) -> Result<Vec<Val>, CallError> {
        let f = self
            .get_func(name)
            .ok_or_else(|| CallError::NotFound(name.to_string()))?;
        f.call(store, args)
    }

    /// Exported function `name` as a typed function, checked against `P` and `R` once.
    pub fn get_typed_func<P: WasmParams, R: WasmResults>(
        &self,
        name: &str,
    ) -> Result<TypedFunc<P, R>, CallError> {
        let f = self
            .get_func(name)
            .ok_or_else(|| CallError::NotFound(name.to_string()))?;
        let ty = f.ty();
        if ty.params != P::types() || ty.results != R::types() {
            return Err(CallError::Type(format!(
                "`{name}` has type {ty}, not the requested one"
            )));
        }
        let entry = match &f.0 {
            FuncKind::Wasm { instance, index } => Some(WasmEntry::new(instance, *index)?),
            FuncKind::Host(_) => None,
        };
        Ok(TypedFunc {
            slots: ty.params.len().max(ty.results.len()).max(1),
            func: f,
            entry,
            _marker: PhantomData,
        })
    }
}

impl Func {
    /// Calls the function with `args`, returning its results.
    pub fn call(&self, store: &mut Store, args: &[Val]) -> Result<Vec<Val>, CallError> {
        if self.store_id().is_some_and(|id| id != store.id()) {
            return Err(CallError::Type("function belongs to another store".into()));
        }
        let ty = self.ty();
        if args.len() != ty.params.len() || args.iter().zip(&ty.params).any(|(a, t)| a.ty() != *t) {
            let got: Vec<String> = args.iter().map(|a| a.ty().to_string()).collect();
            return Err(CallError::Type(format!(
                "expected arguments of {ty}, got ({})",
                got.join(" ")
            )));
        }
        match &self.0 {
            FuncKind::Host(host) => {
                let mut caller = Caller::host();
                let results = (host.func())(&mut caller, args)
                    .map_err(|e| CallError::Trap(Trap::from_host(e)))?;
                Ok(results)
            }
            FuncKind::Wasm { instance, index } => {
                let entry = WasmEntry::new(instance, *index)?;
                let mut values = vec![0u128; ty.params.len().max(ty.results.len()).max(1)];
                for (slot, a) in values.iter_mut().zip(args) {
                    *slot = a.to_raw();
                }
                entry.invoke(store, &mut values).map_err(CallError::Trap)?;
                Ok(ty
                    .results
                    .iter()
                    .zip(values)
                    .map(|(t, raw)| Val::from_raw(raw, *t))
                    .collect())
            }
        }
    }
}

/// Everything needed to enter one guest function from the host, resolved once: addresses in
/// the function's artifact and store, which its `Func` keeps alive.
#[derive(Clone, Copy)]
struct WasmEntry {
    trampoline: SendSyncPtr<u8>,
    code: SendSyncPtr<u8>,
    callee_vmctx: SendSyncPtr<VMContext>,
    caller_vmctx: SendSyncPtr<VMContext>,
}

impl WasmEntry {
    fn new(instance: &InstanceInner, index: u32) -> Result<WasmEntry, CallError> {
        let view = instance.artifact.checked_view();
        let type_index = view.func_type_index(index)?;
        let tramp_off = view.func_type(type_index)?.entry_trampoline.get();
        let text = instance.artifact.code();
        let corrupt = |problem: &str| {
            FormatError::corrupt(
                Location::entry(TableId::Types, type_index, "entry_trampoline"),
                problem,
            )
        };
        if tramp_off as usize >= text.len() {
            return Err(corrupt("offset outside the text").into());
        }
        let (code, callee_vmctx) = instance.code_and_vmctx(index)?;
        let trampoline = (text.start + tramp_off as usize) as *mut u8;
        let null = || corrupt("null code or VMContext");
        Ok(WasmEntry {
            trampoline: SendSyncPtr::from_raw(trampoline).ok_or_else(null)?,
            code: SendSyncPtr::from_raw(code.cast_mut()).ok_or_else(null)?,
            callee_vmctx: SendSyncPtr::from_raw(callee_vmctx).ok_or_else(null)?,
            caller_vmctx: SendSyncPtr::from_raw(instance.vmctx().as_ptr()).ok_or_else(null)?,
        })
    }

    /// Calls with `values` holding the arguments; they are replaced by the results.
    fn invoke(&self, store: &mut Store, values: &mut [u128]) -> Result<(), Trap> {
        // SAFETY: the trampoline was generated for this function's type, the caller sized
        // `values` for its parameters and results, and `code`/`callee_vmctx` come from the
        // function's VMFuncRef; the store keeps the instance alive.
        unsafe {
            invoke(
                store,
                self.trampoline.as_ptr(),
                self.callee_vmctx.as_ptr(),
                self.caller_vmctx.as_ptr(),
                self.code.as_ptr(),
                values,
            )
        }
    }
}

/// Runs an entry trampoline under a new activation.
///
/// # Safety
/// `trampoline` must be an entry trampoline of a live artifact of `store` whose type matches
/// `code` and the layout of `values`.
pub(crate) unsafe fn invoke(
    store: &mut Store,
    trampoline: *const u8,
    callee_vmctx: *mut VMContext,
    caller_vmctx: *mut VMContext,
    code: *const u8,
    values: &mut [u128],
) -> Result<(), Trap> {
    signals::ensure_alt_stack();
    let inner = &mut *store.inner;
    let outermost = inner.depth == 0;
    if outermost {
        // The guest may use `max_stack` bytes below this frame.
        let here = &inner as *const _ as usize;
        inner.ctx.stack_limit = here.saturating_sub(inner.max_stack);
    }
    inner.depth += 1;
    let act = Activation {
        jmp_buf: Cell::new(std::ptr::null_mut()),
        artifacts: &inner.artifacts,
        trap: Cell::new(None),
        host_error: RefCell::new(None),
        prev: signals::current(),
    };
    signals::push(&act);
    // SAFETY: per this function's contract; `act` outlives the call and is popped after it.
    let ok = unsafe {
        kiln_guest_call(
            act.jmp_buf.as_ptr(),
            trampoline,
            callee_vmctx,
            caller_vmctx,
            code,
            values.as_mut_ptr(),
        )
    };
    signals::pop(&act);
    inner.depth -= 1;
    if ok != 0 {
        return Ok(());
    }
    let site = act
        .trap
        .get()
        .expect("a trap jumped back without recording its site");
    let mut trap = match act.host_error.take() {
        Some(e) if site.kind == TrapKind::HostError => Trap::from_host(e),
        _ => Trap::new(site.kind),
    };
    trap.backtrace = crate::trap::backtrace::frames(&inner.artifacts, &site);
    if let Some(first) = trap.backtrace.first().filter(|f| f.func_index.is_some()) {
        trap.func = Some(first.func_name.clone());
        trap.wasm_offset = first.wasm_offset;
    }
    Err(trap)
}

/// Rust types that map to WebAssembly value types.
pub trait WasmTy: Copy {
    /// The value type.
    const TYPE: ValType;
    /// To a value slot.
    fn to_raw(self) -> u128;
    /// From a value slot.
    fn from_raw(raw: u128) -> Self;
}

macro_rules! wasm_ty {
    ($t:ty, $vt:ident, |$x:ident| $to:expr, |$r:ident| $from:expr) => {
        impl WasmTy for $t {
            const TYPE: ValType = ValType::$vt;
            fn to_raw(self) -> u128 {
                let $x = self;
                $to
            }
            fn from_raw($r: u128) -> Self {
                $from
            }
        }
    };
}

wasm_ty!(i32, I32, |x| x as u32 as u128, |r| r as u32 as i32);
wasm_ty!(u32, I32, |x| x as u128, |r| r as u32);
wasm_ty!(i64, I64, |x| x as u64 as u128, |r| r as u64 as i64);
wasm_ty!(u64, I64, |x| x as u128, |r| r as u64);
wasm_ty!(f32, F32, |x| x.to_bits() as u128, |r| f32::from_bits(
    r as u32
));
wasm_ty!(f64, F64, |x| x.to_bits() as u128, |r| f64::from_bits(
    r as u64
));

/// Parameter lists of typed functions: tuples of [`WasmTy`].
pub trait WasmParams {
    /// The parameter types.
    fn types() -> Vec<ValType>;
    /// Stores the parameters into value slots.
    fn store(self, slots: &mut [u128]);
}

/// Result lists of typed functions: `()`, one [`WasmTy`], or tuples of them.
pub trait WasmResults: Sized {
    /// The result types.
    fn types() -> Vec<ValType>;
    /// Loads the results from value slots.
    fn load(slots: &[u128]) -> Self;
}

impl<T: WasmTy> WasmParams for T {
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn store(self, slots: &mut [u128]) {
        slots[0] = self.to_raw();
    }
}

impl<T: WasmTy> WasmResults for T {
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn load(slots: &[u128]) -> Self {
        T::from_raw(slots[0])
    }
}

macro_rules! tuples {
    ($($n:ident $i:tt),*) => {
        impl<$($n: WasmTy),*> WasmParams for ($($n,)*) {
            fn types() -> Vec<ValType> {
                vec![$($n::TYPE),*]
            }
            #[allow(unused_variables, reason = "the empty tuple stores nothing")]
            fn store(self, slots: &mut [u128]) {
                $(slots[$i] = self.$i.to_raw();)*
            }
        }
        impl<$($n: WasmTy),*> WasmResults for ($($n,)*) {
            fn types() -> Vec<ValType> {
                vec![$($n::TYPE),*]
            }
            #[allow(
                unused_variables,
                clippy::unused_unit,
                reason = "the empty tuple loads nothing"
            )]
            fn load(slots: &[u128]) -> Self {
                ($($n::from_raw(slots[$i]),)*)
            }
        }
    };
}

tuples!();
tuples!(A 0);
tuples!(A 0, B 1);
tuples!(A 0, B 1, C 2);
tuples!(A 0, B 1, C 2, D 3);
tuples!(A 0, B 1, C 2, D 3, E 4);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5);

/// A function whose type was checked, and whose entry was resolved, once: calls need no type
/// checks and no allocation.
pub struct TypedFunc<P, R> {
    func: Func,
    entry: Option<WasmEntry>,
    slots: usize,
    _marker: PhantomData<fn(P) -> R>,
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Calls the function.
    pub fn call(&self, store: &mut Store, params: P) -> Result<R, CallError> {
        if self.func.store_id().is_some_and(|id| id != store.id()) {
            return Err(CallError::Type("function belongs to another store".into()));
        }
        if let Some(entry) = &self.entry {
            const INLINE: usize = 8;
            if self.slots <= INLINE {
                let mut slots = [0u128; INLINE];
                params.store(&mut slots);
                entry.invoke(store, &mut slots).map_err(CallError::Trap)?;
                return Ok(R::load(&slots));
            }
            let mut slots = vec![0u128; self.slots];
            params.store(&mut slots);
            entry.invoke(store, &mut slots).map_err(CallError::Trap)?;
            return Ok(R::load(&slots));
        }
        let mut slots = vec![0u128; self.slots];
        params.store(&mut slots);
        let args: Vec<Val> = P::types()
            .iter()
            .zip(&slots)
            .map(|(t, r)| Val::from_raw(*r, *t))
            .collect();
        let results = self.func.call(store, &args)?;
        let raw: Vec<u128> = results.iter().map(|v| v.to_raw()).collect();
        Ok(R::load(&raw))
    }
}
