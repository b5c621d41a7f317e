//! The mapping between Kiln's [`TrapKind`]s and Cranelift trap codes.
//!
//! Cranelift itself emits its reserved codes (stack overflow, division, conversion); every other
//! kind is a user code equal to the kind's number.

use cranelift_codegen::ir::TrapCode;
use kiln_format::TrapKind;

/// The Cranelift trap code generated code uses for `kind`.
pub fn trap_code(kind: TrapKind) -> TrapCode {
    match kind {
        TrapKind::StackOverflow => TrapCode::STACK_OVERFLOW,
        TrapKind::MemoryOutOfBounds => TrapCode::HEAP_OUT_OF_BOUNDS,
        TrapKind::IntegerOverflow => TrapCode::INTEGER_OVERFLOW,
        TrapKind::IntegerDivisionByZero => TrapCode::INTEGER_DIVISION_BY_ZERO,
        TrapKind::BadConversionToInteger => TrapCode::BAD_CONVERSION_TO_INTEGER,
        other => TrapCode::unwrap_user(other as u8),
    }
}

/// The kind a Cranelift trap code stands for.
pub fn trap_kind(code: TrapCode) -> Option<TrapKind> {
    TrapKind::ALL.into_iter().find(|k| trap_code(*k) == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        for kind in TrapKind::ALL {
            assert_eq!(trap_kind(trap_code(kind)), Some(kind));
        }
    }
}
