//! Typed functions: Rust types for WebAssembly values ([`WasmTy`]), lists of them for parameters
//! and results ([`WasmTyList`]), what host functions return ([`WasmRet`]), and [`TypedFunc`], a
//! guest function whose type was checked once, called with no conversion on the heap.

use super::{Func, FuncKind};
use crate::call::WasmEntry;
use crate::error::{BoxError, Error, Result};
use crate::externref::ExternRef;
use crate::store::{AsContextMut, StoreOpaque};
use crate::types::ValType;
use crate::values::Val;
use std::marker::PhantomData;

/// Rust types that stand for a WebAssembly value type: `i32`, `u32`, `i64`, `u64`, `f32`, `f64`,
/// `Option<Func>` (`funcref`) and `Option<ExternRef>` (`externref`).
pub trait WasmTy: Copy + Send + 'static {
    /// The value type.
    fn valtype() -> ValType;
    /// As a value.
    fn into_val(self) -> Val;
    /// From a value of [`WasmTy::valtype`] (anything else gives the type's zero).
    fn from_val(v: Val) -> Self;
}

macro_rules! wasm_ty {
    ($t:ty, $vt:ident, |$x:ident| $to:expr, |$v:ident| $from:expr) => {
        impl WasmTy for $t {
            #[inline]
            fn valtype() -> ValType {
                ValType::$vt
            }
            #[inline]
            fn into_val(self) -> Val {
                let $x = self;
                $to
            }
            #[inline]
            fn from_val($v: Val) -> Self {
                $from
            }
        }
    };
}

wasm_ty!(i32, I32, |x| Val::I32(x), |v| v.i32().unwrap_or(0));
wasm_ty!(u32, I32, |x| Val::I32(x as i32), |v| v.i32().unwrap_or(0)
    as u32);
wasm_ty!(i64, I64, |x| Val::I64(x), |v| v.i64().unwrap_or(0));
wasm_ty!(u64, I64, |x| Val::I64(x as i64), |v| v.i64().unwrap_or(0)
    as u64);
wasm_ty!(f32, F32, |x| Val::F32(x.to_bits()), |v| v
    .f32()
    .unwrap_or(0.0));
wasm_ty!(f64, F64, |x| Val::F64(x.to_bits()), |v| v
    .f64()
    .unwrap_or(0.0));
wasm_ty!(Option<Func>, FUNCREF, |x| Val::FuncRef(x), |v| v.func_ref());
wasm_ty!(Option<ExternRef>, EXTERNREF, |x| Val::ExternRef(x), |v| v
    .extern_ref());

/// Lists of [`WasmTy`]: `()`, one type, or tuples of up to 16.
pub trait WasmTyList: Sized + Send + 'static {
    /// The value types, in order.
    fn valtypes() -> impl ExactSizeIterator<Item = ValType>;
    /// Gives each value, in order.
    fn for_each_val(self, f: impl FnMut(Val));
    /// Makes the list from its values, given in order.
    fn from_vals(f: impl FnMut(ValType) -> Val) -> Self;
}

/// Parameter lists of typed functions.
pub trait WasmParams: WasmTyList {}
impl<L: WasmTyList> WasmParams for L {}

/// Result lists of typed functions.
pub trait WasmResults: WasmTyList {}
impl<L: WasmTyList> WasmResults for L {}

impl<T: WasmTy> WasmTyList for T {
    fn valtypes() -> impl ExactSizeIterator<Item = ValType> {
        std::iter::once(T::valtype())
    }
    fn for_each_val(self, mut f: impl FnMut(Val)) {
        f(self.into_val())
    }
    fn from_vals(mut f: impl FnMut(ValType) -> Val) -> Self {
        T::from_val(f(T::valtype()))
    }
}

macro_rules! tuples {
    ($($t:ident $i:tt),*) => {
        impl<$($t: WasmTy),*> WasmTyList for ($($t,)*) {
            fn valtypes() -> impl ExactSizeIterator<Item = ValType> {
                [$($t::valtype()),*].into_iter()
            }
            #[allow(unused_variables, unused_mut, reason = "the empty tuple has no values")]
            fn for_each_val(self, mut f: impl FnMut(Val)) {
                $(f(self.$i.into_val());)*
            }
            #[allow(
                unused_variables,
                unused_mut,
                clippy::unused_unit,
                reason = "the empty tuple has no values"
            )]
            fn from_vals(mut f: impl FnMut(ValType) -> Val) -> Self {
                ($($t::from_val(f($t::valtype())),)*)
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
tuples!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14);
tuples!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14, P 15);

/// What a host function closure may return: results ([`WasmTyList`]) or a `Result` of them,
/// whose error makes the calling guest trap with it.
pub trait WasmRet {
    /// The results.
    type Results: WasmTyList;
    /// The results, or the error.
    fn into_result(self) -> Result<Self::Results, BoxError>;
}

impl<L: WasmTyList> WasmRet for L {
    type Results = L;
    fn into_result(self) -> Result<L, BoxError> {
        Ok(self)
    }
}

impl<L: WasmTyList, E: Into<BoxError>> WasmRet for Result<L, E> {
    type Results = L;
    fn into_result(self) -> Result<L, BoxError> {
        self.map_err(Into::into)
    }
}

/// The most value slots a typed call keeps on the stack (16 parameters or results).
const INLINE_SLOTS: usize = 16;

/// A function whose type was checked against `P` and `R` once, and whose entry was resolved
/// once: calls need no type checks and no allocation.
pub struct TypedFunc<P, R> {
    func: Func,
    /// For guest functions: the resolved entry.
    entry: Option<WasmEntry>,
    slots: usize,
    _marker: PhantomData<fn(P) -> R>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        TypedFunc {
            func: self.func,
            entry: self.entry,
            slots: self.slots,
            _marker: PhantomData,
        }
    }
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    pub(crate) fn new(func: Func, store: &StoreOpaque) -> Result<TypedFunc<P, R>> {
        let ty = func.ty_in(store)?;
        let (params, results): (Vec<ValType>, Vec<ValType>) =
            (P::valtypes().collect(), R::valtypes().collect());
        if ty.params() != params || ty.results() != results {
            let want = crate::FuncType::new(params, results);
            return Err(Error::Type(format!(
                "the function has type {ty}, not the requested {want}"
            )));
        }
        let entry = match func.kind {
            FuncKind::Ref(ptr) => Some(WasmEntry::for_func_ref_shared(store, ptr)?),
            FuncKind::Host(_) => None,
        };
        Ok(TypedFunc {
            func,
            entry,
            slots: ty.slots(),
            _marker: PhantomData,
        })
    }

    /// The function.
    pub fn func(&self) -> &Func {
        &self.func
    }

    /// Calls the function.
    pub fn call(&self, mut store: impl AsContextMut, params: P) -> Result<R> {
        let mut cx = store.as_context_mut();
        cx.opaque().check_owns(self.func.store, "function")?;
        let mut inline = [0u128; INLINE_SLOTS];
        let slots = &mut inline[..self.slots.min(INLINE_SLOTS)];
        let mut failed = None;
        let mut i = 0;
        let opaque = cx.opaque_mut();
        params.for_each_val(|v| {
            match v.to_raw(opaque) {
                Ok(raw) => slots[i] = raw,
                Err(e) => failed = Some(e),
            }
            i += 1;
        });
        if let Some(e) = failed {
            return Err(e);
        }
        match &self.entry {
            Some(entry) => {
                // SAFETY: the entry was resolved for this function's type, for which `slots` is
                // sized (at most 16 parameters and results: `slots` holds them all), and the
                // function is of this store (checked above).
                unsafe { crate::call::invoke(cx.0, entry, slots) }?
            }
            None => self.func.call_raw(&mut cx, slots)?,
        }
        let opaque = cx.opaque();
        let mut i = 0;
        Ok(R::from_vals(|t| {
            let v = Val::from_raw(opaque, slots[i], t);
            i += 1;
            v
        }))
    }
}
