//! What both engines' results are compared as: values with NaNs equal to each other, trap kinds,
//! and snapshots of everything an instance exports.

use arbitrary::{Result, Unstructured};
use kiln_loader::{TrapKind, ValType};
use std::fmt;

/// The most bytes a memory may grow to in either engine (their resource limiters refuse more, so
/// that `memory.grow` fails alike and snapshots stay small).
pub const MAX_MEMORY: usize = 64 << 20;
/// The most entries a table may grow to in either engine.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// A value. References are compared by whether they are null: their identities differ between
/// engines by construction.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32`, as bits.
    F32(u32),
    /// `f64`, as bits.
    F64(u64),
    /// `v128`.
    V128(u128),
    /// `funcref`: whether it is null.
    FuncRef { null: bool },
    /// `externref`: whether it is null.
    ExternRef { null: bool },
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (*self, *other) {
            (I32(a), I32(b)) => a == b,
            (I64(a), I64(b)) => a == b,
            // Any NaN equals any NaN: the spec leaves payloads to the engine.
            (F32(a), F32(b)) => {
                a == b || (f32::from_bits(a).is_nan() && f32::from_bits(b).is_nan())
            }
            (F64(a), F64(b)) => {
                a == b || (f64::from_bits(a).is_nan() && f64::from_bits(b).is_nan())
            }
            (V128(a), V128(b)) => a == b,
            (FuncRef { null: a }, FuncRef { null: b }) => a == b,
            (ExternRef { null: a }, ExternRef { null: b }) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I32(v) => write!(f, "{v}:i32"),
            Value::I64(v) => write!(f, "{v}:i64"),
            Value::F32(v) => write!(f, "{}:f32 (0x{v:08x})", f32::from_bits(*v)),
            Value::F64(v) => write!(f, "{}:f64 (0x{v:016x})", f64::from_bits(*v)),
            Value::V128(v) => write!(f, "0x{v:032x}:v128"),
            Value::FuncRef { null } => write!(f, "{}funcref", if *null { "null " } else { "" }),
            Value::ExternRef { null } => write!(f, "{}externref", if *null { "null " } else { "" }),
        }
    }
}

impl Value {
    /// An argument of type `ty`, often one of the values where operations change behaviour.
    pub fn arbitrary_of(ty: ValType, u: &mut Unstructured<'_>) -> Result<Value> {
        let edge = u.ratio(1, 3)?;
        Ok(match ty {
            ValType::I32 if edge => {
                Value::I32(*u.choose(&[0, 1, -1, i32::MIN, i32::MAX, 65536, 31, 32])?)
            }
            ValType::I32 => Value::I32(u.arbitrary()?),
            ValType::I64 if edge => {
                Value::I64(*u.choose(&[0, 1, -1, i64::MIN, i64::MAX, 1 << 32, 63])?)
            }
            ValType::I64 => Value::I64(u.arbitrary()?),
            ValType::F32 if edge => Value::F32(
                u.choose(&[
                    0.0f32,
                    -0.0,
                    1.0,
                    f32::INFINITY,
                    f32::NAN,
                    2147483648.0,
                    -1.5,
                ])?
                .to_bits(),
            ),
            ValType::F32 => Value::F32(u.arbitrary()?),
            ValType::F64 if edge => Value::F64(
                u.choose(&[
                    0.0f64,
                    -0.0,
                    1.0,
                    f64::NEG_INFINITY,
                    f64::NAN,
                    9.223_372_036_854_776e18,
                ])?
                .to_bits(),
            ),
            ValType::F64 => Value::F64(u.arbitrary()?),
            ValType::V128 => Value::V128(u.arbitrary()?),
            ValType::Ref(r) => match r.heap_type().top() {
                kiln_loader::HeapType::Extern => Value::ExternRef { null: true },
                // The generators make no exception-handling modules.
                kiln_loader::HeapType::Exn => return Err(arbitrary::Error::IncorrectFormat),
                _ => Value::FuncRef { null: true },
            },
        })
    }
}

/// An exported function: its name and parameter types.
#[derive(Clone, Debug)]
pub struct ExportedFunc {
    /// The export name.
    pub name: String,
    /// Parameter types.
    pub params: Vec<ValType>,
}

/// How one call (or an instantiation) ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// It returned these values.
    Returned(Vec<Value>),
    /// It trapped.
    Trapped(TrapKind),
    /// It failed otherwise (instantiation only: a link or resource error), with this message.
    Failed(String),
    /// The run cannot be compared from here on: the oracle ran out of fuel, or either engine ran
    /// out of stack (their stack budgets differ by design).
    Stop(&'static str),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Returned(vals) => {
                let vals: Vec<String> = vals.iter().map(ToString::to_string).collect();
                write!(f, "returned [{}]", vals.join(", "))
            }
            Outcome::Trapped(kind) => write!(f, "trapped: {kind:?}"),
            Outcome::Failed(e) => write!(f, "failed: {e}"),
            Outcome::Stop(why) => write!(f, "stopped: {why}"),
        }
    }
}

/// What an instance exports, in export order, after a call.
#[derive(Clone, Debug, PartialEq)]
pub enum Exported {
    /// A global's value.
    Global(Value),
    /// A memory: its size, and a hash of its contents.
    Memory {
        /// Bytes.
        len: usize,
        /// xxh3-64 of the contents.
        hash: u64,
    },
    /// A table's entries, by whether each is null.
    Table(Vec<bool>),
    /// A function (nothing to compare beyond its presence).
    Func,
}

impl Exported {
    /// A memory's snapshot.
    pub fn memory(data: &[u8]) -> Exported {
        Exported::Memory {
            len: data.len(),
            hash: xxhash_rust::xxh3::xxh3_64(data),
        }
    }
}

/// The exported state of an instance: `(name, what)` in export order.
pub type Snapshot = Vec<(String, Exported)>;

/// The first difference between two snapshots, described.
pub fn snapshot_difference(oracle: &Snapshot, kiln: &Snapshot) -> Option<String> {
    if oracle.len() != kiln.len() {
        return Some(format!(
            "{} exports in the oracle, {} in Kiln",
            oracle.len(),
            kiln.len()
        ));
    }
    for ((name, a), (kname, b)) in oracle.iter().zip(kiln) {
        if name != kname {
            return Some(format!(
                "export {name:?} in the oracle is {kname:?} in Kiln"
            ));
        }
        if a == b {
            continue;
        }
        return Some(format!(
            "export {name:?}: {a:?} in the oracle, {b:?} in Kiln"
        ));
    }
    None
}
