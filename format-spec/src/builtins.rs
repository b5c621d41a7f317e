//! The builtin functions that generated code calls through the VMContext's builtin table.
//!
//! The list is written once, in [`for_each_builtin!`]: name, parameters and result of each, in
//! table order. This crate derives [`Builtin`] from it (index, name, signature, trap kind); the
//! compiler builds its Cranelift signatures from [`Builtin::signature`]; the loader expands the
//! macro itself into its table of entry shims, so that the two can never disagree.
//!
//! Every builtin takes the calling instance's VMContext first (not listed) and uses the target's
//! C calling convention. No builtin traps itself, and only the three exception builtins unwind
//! (to a landing pad found through the artifact's handler tables, or out of the guest call, as a
//! trap does); every builtin tells the calling code when to trap:
//!
//! - a result written `status(Kind)` is a `u32`: [`STATUS_OK`], [`STATUS_TRAP`] (the caller traps
//!   with `Kind`) or [`STATUS_HOST_ERROR`] (the caller traps with `HostError`: the store's limiter
//!   or a callback failed, and the loader has kept the error);
//! - a result written `grow` is a `u64`: the old size, `u64::MAX` if it cannot grow (wasm's -1),
//!   or [`GROW_HOST_ERROR`] (the caller traps with `HostError`).

use crate::TrapKind;

/// Calls `$mac!` with the list of builtins, in table order. Each entry reads
/// `name(param: type, ...) -> result;` where a type is `u32` or `u64` and a result is `void`,
/// `u32`, `u64`, `grow` or `status(TrapKindVariant)`.
#[macro_export]
macro_rules! for_each_builtin {
    ($mac:ident) => {
        $mac! {
            /// `memory.grow`: the old size in pages.
            memory_grow(memory: u32, delta: u64) -> grow;
            /// `memory.fill`.
            memory_fill(memory: u32, dst: u64, byte: u32, len: u64) -> status(MemoryOutOfBounds);
            /// `memory.copy`, between two memories or within one.
            memory_copy(dst_memory: u32, src_memory: u32, dst: u64, src: u64, len: u64)
                -> status(MemoryOutOfBounds);
            /// `memory.init` from a data segment.
            memory_init(memory: u32, data: u32, dst: u64, src: u32, len: u32)
                -> status(MemoryOutOfBounds);
            /// `data.drop`.
            data_drop(data: u32) -> void;
            /// `table.grow`: the old size.
            table_grow(table: u32, init: u64, delta: u64) -> grow;
            /// `table.fill`.
            table_fill(table: u32, dst: u64, value: u64, len: u64) -> status(TableOutOfBounds);
            /// `table.copy`, between two tables or within one.
            table_copy(dst_table: u32, src_table: u32, dst: u64, src: u64, len: u64)
                -> status(TableOutOfBounds);
            /// `table.init` from an element segment.
            table_init(table: u32, elem: u32, dst: u64, src: u32, len: u32)
                -> status(TableOutOfBounds);
            /// `elem.drop`.
            elem_drop(elem: u32) -> void;
            /// The epoch deadline has passed: the store's deadline behaviour either traps or sets
            /// a new deadline (in `VMStoreContext::epoch_deadline`) and lets the code go on.
            epoch_interrupt() -> status(Interrupt);
            /// Whether the function type of canonical id `actual` is a subtype of `expected`
            /// (1) or not (0): `call_indirect`'s check when the expected type is not final and
            /// the ids differ.
            is_subtype(actual: u32, expected: u32) -> u32;
            /// `throw`: makes an exception of the calling module's tag `tag` whose payload is in
            /// the value slots at `values`, and unwinds to its handler. Returns only if it
            /// cannot (the store's exception limit: a host error).
            throw(tag: u32, values: u64) -> status(NullReference);
            /// `throw_ref`: unwinds with the exception `exn` to its handler. Returns only for a
            /// null `exn` (a null-reference trap).
            throw_ref(exn: u64) -> status(NullReference);
            /// Called by a host adapter whose host function threw (dispatch returned
            /// `DISPATCH_EXCEPTION`): unwinds with that exception from the adapter's frame.
            throw_pending() -> status(NullReference);
        }
    };
}

/// The ABI type of a builtin parameter or result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiType {
    /// A 32-bit integer (zero-extended by the caller where the ABI asks for it).
    U32,
    /// A 64-bit integer.
    U64,
}

/// What a builtin returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinResult {
    /// Nothing.
    Void,
    /// A value.
    Value(AbiType),
    /// A `u32` status ([`STATUS_OK`], [`STATUS_TRAP`] with this kind, [`STATUS_HOST_ERROR`]).
    Status(TrapKind),
    /// A `u64` old size, `u64::MAX` for failure, or [`GROW_HOST_ERROR`].
    Grow,
}

/// Status result: go on.
pub const STATUS_OK: u32 = 0;
/// Status result: trap with the builtin's kind.
pub const STATUS_TRAP: u32 = 1;
/// Status result: trap with `HostError` (the loader keeps the error for the trap it becomes).
pub const STATUS_HOST_ERROR: u32 = 2;
/// `grow` result: trap with `HostError`. Never an old size: memories and tables are far smaller.
pub const GROW_HOST_ERROR: u64 = u64::MAX - 1;

/// A builtin's parameters (after the VMContext) and result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltinSignature {
    /// Parameter types, in order.
    pub params: &'static [AbiType],
    /// The result.
    pub result: BuiltinResult,
}

/// A builtin function: its index in the builtin table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Builtin(u32);

macro_rules! abi_type {
    (u32) => {
        AbiType::U32
    };
    (u64) => {
        AbiType::U64
    };
}

macro_rules! builtin_result {
    (void) => {
        BuiltinResult::Void
    };
    (grow) => {
        BuiltinResult::Grow
    };
    (status($kind:ident)) => {
        BuiltinResult::Status(TrapKind::$kind)
    };
    ($t:ident) => {
        BuiltinResult::Value(abi_type!($t))
    };
}

macro_rules! declare_builtins {
    ($( $(#[$doc:meta])* $name:ident ( $($p:ident : $t:ident),* ) -> $ret:ident $(($kind:ident))? ; )*) => {
        /// Table positions, in list order.
        #[allow(non_camel_case_types, reason = "positions are named after the builtins")]
        #[repr(u32)]
        enum Position { $($name,)* }

        impl Builtin {
            $(
                $(#[$doc])*
                pub const fn $name() -> Builtin {
                    Builtin(Position::$name as u32)
                }
            )*

            /// Number of builtins: the length of the builtin table.
            pub const COUNT: usize = [$(Position::$name),*].len();

            /// Every builtin, in table order.
            pub const ALL: [Builtin; Builtin::COUNT] = [$(Builtin::$name()),*];

            const NAMES: [&'static str; Builtin::COUNT] = [$(stringify!($name)),*];

            const SIGNATURES: [BuiltinSignature; Builtin::COUNT] = [$(
                BuiltinSignature {
                    params: &[$(abi_type!($t)),*],
                    result: builtin_result!($ret $(($kind))?),
                }
            ),*];
        }
    };
}

for_each_builtin!(declare_builtins);

impl Builtin {
    /// The position in the builtin table.
    pub fn index(self) -> u32 {
        self.0
    }

    /// The name, as in [`for_each_builtin!`].
    pub fn name(self) -> &'static str {
        Builtin::NAMES[self.0 as usize]
    }

    /// Parameters (after the VMContext) and result.
    pub fn signature(self) -> BuiltinSignature {
        Builtin::SIGNATURES[self.0 as usize]
    }

    /// The trap a non-zero result turns into, for builtins that can fail.
    pub fn trap_kind(self) -> Option<TrapKind> {
        match self.signature().result {
            BuiltinResult::Status(kind) => Some(kind),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_dense_and_named() {
        assert_eq!(Builtin::COUNT, Builtin::ALL.len());
        for (i, b) in Builtin::ALL.iter().enumerate() {
            assert_eq!(b.index() as usize, i);
        }
        assert_eq!(Builtin::memory_grow().name(), "memory_grow");
        assert_eq!(Builtin::memory_grow().index(), 0);
    }

    #[test]
    fn signatures_follow_the_list() {
        let grow = Builtin::memory_grow().signature();
        assert_eq!(grow.params, [AbiType::U32, AbiType::U64]);
        assert_eq!(grow.result, BuiltinResult::Grow);
        assert_eq!(
            Builtin::table_init().trap_kind(),
            Some(TrapKind::TableOutOfBounds)
        );
        assert_eq!(Builtin::data_drop().signature().result, BuiltinResult::Void);
        assert_eq!(Builtin::data_drop().trap_kind(), None);
    }
}
