//! WebAssembly values and types as the host sees them.

use crate::send_sync::SendSyncPtr;
use kiln_format::vmctx::{val_type, VMFuncRef};
use std::fmt;

/// A value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 128-bit vector.
    V128,
    /// Function reference.
    FuncRef,
    /// External reference.
    ExternRef,
}

impl ValType {
    /// Decodes an artifact value-type code.
    pub fn from_code(code: u8) -> Option<ValType> {
        Some(match code {
            val_type::I32 => ValType::I32,
            val_type::I64 => ValType::I64,
            val_type::F32 => ValType::F32,
            val_type::F64 => ValType::F64,
            val_type::V128 => ValType::V128,
            val_type::FUNCREF => ValType::FuncRef,
            val_type::EXTERNREF => ValType::ExternRef,
            _ => return None,
        })
    }

    /// The artifact code of this type.
    pub fn code(self) -> u8 {
        match self {
            ValType::I32 => val_type::I32,
            ValType::I64 => val_type::I64,
            ValType::F32 => val_type::F32,
            ValType::F64 => val_type::F64,
            ValType::V128 => val_type::V128,
            ValType::FuncRef => val_type::FUNCREF,
            ValType::ExternRef => val_type::EXTERNREF,
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        })
    }
}

/// A function type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FuncType {
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
}

impl FuncType {
    /// A function type from parameter and result lists.
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> FuncType {
        FuncType {
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
        }
    }

    /// Decodes artifact value-type codes.
    pub(crate) fn from_codes(params: &[u8], results: &[u8]) -> Option<FuncType> {
        let decode = |codes: &[u8]| -> Option<Vec<ValType>> {
            codes.iter().map(|c| ValType::from_code(*c)).collect()
        };
        Some(FuncType {
            params: decode(params)?,
            results: decode(results)?,
        })
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[ValType]| {
            v.iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        write!(
            f,
            "(func (param {}) (result {}))",
            list(&self.params),
            list(&self.results)
        )
    }
}

/// An opaque, non-null function reference. Valid as long as the store it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FuncRef(pub(crate) SendSyncPtr<VMFuncRef>);

/// A value.
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
    FuncRef(Option<FuncRef>),
    /// `externref`: an opaque host value; `None` is null.
    ExternRef(Option<u64>),
}

impl Val {
    /// This value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The null or zero value of a type.
    pub fn default_for(ty: ValType) -> Val {
        Val::from_raw(0, ty)
    }

    /// The value's representation in a value slot or global (native endianness, low bits).
    pub(crate) fn to_raw(self) -> u128 {
        match self {
            Val::I32(v) => v as u32 as u128,
            Val::I64(v) => v as u64 as u128,
            Val::F32(v) => v as u128,
            Val::F64(v) => v as u128,
            Val::V128(v) => v,
            Val::FuncRef(r) => r.map_or(0, |p| p.0.as_ptr() as usize as u128),
            // Host value n is stored as n + 1 so that 0 stays null.
            Val::ExternRef(r) => r.map_or(0, |n| n.wrapping_add(1) as u128),
        }
    }

    /// Decodes a slot.
    pub(crate) fn from_raw(raw: u128, ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw as u32 as i32),
            ValType::I64 => Val::I64(raw as u64 as i64),
            ValType::F32 => Val::F32(raw as u32),
            ValType::F64 => Val::F64(raw as u64),
            ValType::V128 => Val::V128(raw),
            ValType::FuncRef => Val::FuncRef(
                SendSyncPtr::from_raw(raw as u64 as usize as *mut VMFuncRef).map(FuncRef),
            ),
            ValType::ExternRef => Val::ExternRef(match raw as u64 {
                0 => None,
                n => Some(n - 1),
            }),
        }
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
            Val::FuncRef(Some(p)) => write!(f, "{:?}:funcref", p.0),
            Val::ExternRef(None) => write!(f, "null:externref"),
            Val::ExternRef(Some(n)) => write!(f, "{n}:externref"),
        }
    }
}
