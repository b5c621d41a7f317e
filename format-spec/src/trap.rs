//! Trap kinds: the codes stored in the artifact's trap table and reported to embedders.

use std::fmt;

/// Why guest code stopped. The numeric value is the code stored in the trap table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TrapKind {
    /// The guest exceeded its stack budget.
    StackOverflow = 1,
    /// A linear-memory access was out of bounds.
    MemoryOutOfBounds = 2,
    /// Signed integer division overflowed (`INT_MIN / -1`).
    IntegerOverflow = 3,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero = 4,
    /// A float could not be converted to an integer (NaN or out of range).
    BadConversionToInteger = 5,
    /// `unreachable` was executed.
    Unreachable = 6,
    /// A table access was out of bounds.
    TableOutOfBounds = 7,
    /// `call_indirect` found a null entry.
    IndirectCallToNull = 8,
    /// `call_indirect` found a function of another type.
    BadSignature = 9,
    /// A host function returned an error or panicked.
    HostError = 10,
    /// A null reference was dereferenced.
    NullReference = 11,
    /// The store's fuel ran out (artifacts compiled with fuel metering).
    OutOfFuel = 12,
    /// The store's epoch deadline passed (artifacts compiled with epoch interruption).
    Interrupt = 13,
    /// `call_ref` or `return_call_ref` of a null function reference.
    NullFunctionReference = 14,
}

impl TrapKind {
    /// Every kind, in code order.
    pub const ALL: [TrapKind; 14] = [
        TrapKind::StackOverflow,
        TrapKind::MemoryOutOfBounds,
        TrapKind::IntegerOverflow,
        TrapKind::IntegerDivisionByZero,
        TrapKind::BadConversionToInteger,
        TrapKind::Unreachable,
        TrapKind::TableOutOfBounds,
        TrapKind::IndirectCallToNull,
        TrapKind::BadSignature,
        TrapKind::HostError,
        TrapKind::NullReference,
        TrapKind::OutOfFuel,
        TrapKind::Interrupt,
        TrapKind::NullFunctionReference,
    ];

    /// Decodes a trap-table code.
    pub fn from_code(code: u8) -> Option<TrapKind> {
        TrapKind::ALL.into_iter().find(|k| *k as u8 == code)
    }

    /// The message the WebAssembly specification's tests expect for this trap.
    pub fn message(self) -> &'static str {
        match self {
            TrapKind::StackOverflow => "call stack exhausted",
            TrapKind::MemoryOutOfBounds => "out of bounds memory access",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::IntegerDivisionByZero => "integer divide by zero",
            TrapKind::BadConversionToInteger => "invalid conversion to integer",
            TrapKind::Unreachable => "unreachable",
            TrapKind::TableOutOfBounds => "out of bounds table access",
            TrapKind::IndirectCallToNull => "uninitialized element",
            TrapKind::BadSignature => "indirect call type mismatch",
            TrapKind::HostError => "host function error",
            TrapKind::NullReference => "null reference",
            TrapKind::OutOfFuel => "all fuel consumed by WebAssembly",
            TrapKind::Interrupt => "interrupt",
            TrapKind::NullFunctionReference => "null function reference",
        }
    }
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}
