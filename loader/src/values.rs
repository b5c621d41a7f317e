//! WebAssembly values as the host sees them, and their representation in the 16-byte slots
//! that globals, tables and calls exchange with guest code.

use crate::error::Result;
use crate::exn::ExnRef;
use crate::externref::ExternRef;
use crate::func::{Func, FuncKind};
use crate::send_sync::SendSyncPtr;
use crate::store::AsContext;
use crate::store::StoreOpaque;
use crate::types::{HeapType, RefType, ValType};
use kiln_format::vmctx::VMFuncRef;
use std::fmt;

/// A value. References are handles of the store they come from: passing one to another store is
/// an error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32`, as its bits (NaN payloads are preserved).
    F32(u32),
    /// `f64`, as its bits.
    F64(u64),
    /// `v128`.
    V128(u128),
    /// `funcref`; `None` is null.
    FuncRef(Option<Func>),
    /// `externref`: a host value ([`ExternRef::new`]); `None` is null.
    ExternRef(Option<ExternRef>),
    /// A reference of the `any` hierarchy (`anyref`, `eqref`, `structref`, ...); `None` is null.
    /// Only null exists until Kiln compiles GC instructions.
    AnyRef(Option<AnyRef>),
    /// `exnref`: an exception object; `None` is null.
    ExnRef(Option<ExnRef>),
}

/// A non-null reference to a GC object. None exists yet: Kiln does not compile GC instructions,
/// so every value of the `any` hierarchy is null.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnyRef {}

impl Val {
    /// This value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FUNCREF,
            Val::ExternRef(_) => ValType::EXTERNREF,
            Val::AnyRef(_) => ValType::Ref(RefType::new(true, HeapType::Any)),
            Val::ExnRef(_) => ValType::EXNREF,
        }
    }

    /// Whether this value (of `store`) is a value of `ty`: numbers of their type, null of any
    /// nullable reference type of its hierarchy, a function of any supertype of its type.
    pub fn matches(&self, store: impl AsContext, ty: ValType) -> bool {
        self.matches_in(store.as_context().opaque(), ty)
    }

    pub(crate) fn matches_in(&self, store: &StoreOpaque, ty: ValType) -> bool {
        let ValType::Ref(r) = ty else {
            return self.ty() == ty;
        };
        let heap = r.heap_type();
        match self {
            Val::FuncRef(None) => r.is_nullable() && heap.top() == HeapType::Func,
            Val::FuncRef(Some(f)) => match heap {
                HeapType::Func => true,
                HeapType::Concrete(id) => f
                    .type_id_in(store)
                    .is_ok_and(|a| crate::type_registry::is_subtype(a, id.0)),
                _ => false,
            },
            Val::ExternRef(None) => r.is_nullable() && heap.top() == HeapType::Extern,
            Val::ExternRef(Some(_)) => heap == HeapType::Extern,
            Val::AnyRef(None) => r.is_nullable() && heap.top() == HeapType::Any,
            Val::AnyRef(Some(never)) => match *never {},
            Val::ExnRef(None) => r.is_nullable() && heap.top() == HeapType::Exn,
            Val::ExnRef(Some(_)) => heap == HeapType::Exn,
            _ => false,
        }
    }

    /// The zero or null value of a type.
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::Ref(r) => match r.heap_type().top() {
                HeapType::Func => Val::FuncRef(None),
                HeapType::Extern => Val::ExternRef(None),
                HeapType::Exn => Val::ExnRef(None),
                _ => Val::AnyRef(None),
            },
        }
    }

    /// The `i32`, if this is one.
    #[inline]
    pub fn i32(&self) -> Option<i32> {
        match self {
            Val::I32(v) => Some(*v),
            _ => None,
        }
    }

    /// The `i64`, if this is one.
    #[inline]
    pub fn i64(&self) -> Option<i64> {
        match self {
            Val::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The `f32`, if this is one.
    #[inline]
    pub fn f32(&self) -> Option<f32> {
        match self {
            Val::F32(v) => Some(f32::from_bits(*v)),
            _ => None,
        }
    }

    /// The `f64`, if this is one.
    #[inline]
    pub fn f64(&self) -> Option<f64> {
        match self {
            Val::F64(v) => Some(f64::from_bits(*v)),
            _ => None,
        }
    }

    /// The function reference, if this is a non-null one.
    #[inline]
    pub fn func_ref(&self) -> Option<Func> {
        match self {
            Val::FuncRef(f) => *f,
            _ => None,
        }
    }

    /// The external reference, if this is a non-null one.
    #[inline]
    pub fn extern_ref(&self) -> Option<ExternRef> {
        match self {
            Val::ExternRef(e) => *e,
            _ => None,
        }
    }

    /// The value's representation in a slot of `store` (native endianness, low bits); an error
    /// for a reference of another store.
    #[inline]
    pub(crate) fn to_raw(self, store: &mut StoreOpaque) -> Result<u128> {
        Ok(match self {
            Val::I32(v) => v as u32 as u128,
            Val::I64(v) => v as u64 as u128,
            Val::F32(v) => v as u128,
            Val::F64(v) => v as u128,
            Val::V128(v) => v,
            Val::FuncRef(None) | Val::ExternRef(None) | Val::AnyRef(None) | Val::ExnRef(None) => 0,
            Val::AnyRef(Some(never)) => match never {},
            Val::FuncRef(Some(f)) => f.vm_func_ref(store)? as usize as u128,
            Val::ExternRef(Some(e)) => u128::from(e.to_raw(store)?),
            Val::ExnRef(Some(e)) => u128::from(e.to_raw(store)?),
        })
    }

    /// Decodes a slot of `store`.
    #[inline]
    pub(crate) fn from_raw(store: &StoreOpaque, raw: u128, ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw as u32 as i32),
            ValType::I64 => Val::I64(raw as u64 as i64),
            ValType::F32 => Val::F32(raw as u32),
            ValType::F64 => Val::F64(raw as u64),
            ValType::V128 => Val::V128(raw),
            ValType::Ref(r) => match r.heap_type().top() {
                HeapType::Func => Val::FuncRef(
                    SendSyncPtr::from_raw(raw as u64 as usize as *mut VMFuncRef).map(|ptr| Func {
                        store: store.id,
                        kind: FuncKind::Ref(ptr),
                    }),
                ),
                HeapType::Extern => Val::ExternRef(ExternRef::from_raw(store, raw as u64)),
                HeapType::Exn => Val::ExnRef(ExnRef::from_raw(store, raw as u64)),
                // Why null whatever the bits: no code makes a non-null one (no GC instructions).
                _ => Val::AnyRef(None),
            },
        }
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}

impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}

impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::I32(v) => write!(f, "{v}:i32"),
            Val::I64(v) => write!(f, "{v}:i64"),
            Val::F32(v) => write!(f, "{}:f32", f32::from_bits(*v)),
            Val::F64(v) => write!(f, "{}:f64", f64::from_bits(*v)),
            Val::V128(v) => write!(f, "0x{v:032x}:v128"),
            Val::FuncRef(None) => write!(f, "null:funcref"),
            Val::FuncRef(Some(_)) => write!(f, "funcref"),
            Val::ExternRef(None) => write!(f, "null:externref"),
            Val::ExternRef(Some(_)) => write!(f, "externref"),
            Val::AnyRef(None) => write!(f, "null:anyref"),
            Val::AnyRef(Some(never)) => match *never {},
            Val::ExnRef(None) => write!(f, "null:exnref"),
            Val::ExnRef(Some(_)) => write!(f, "exnref"),
        }
    }
}
