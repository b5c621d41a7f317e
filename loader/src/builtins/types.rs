//! The type builtin: `is_subtype`, `call_indirect`'s check against a non-final type.

use super::BuiltinCx;

pub(crate) fn is_subtype(_cx: &mut BuiltinCx<'_>, actual: u32, expected: u32) -> u32 {
    u32::from(crate::type_registry::is_subtype(actual, expected))
}
