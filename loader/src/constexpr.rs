//! Evaluation of constant expressions (global initializers, segment offsets, element items).

use kiln_format::constexpr::{ConstExprReader, ConstOp};
use kiln_format::FormatError;

/// What an expression may refer to.
pub(crate) trait ConstEnv {
    /// The raw value of global `index`.
    fn global(&self, index: u32) -> Option<u128>;
    /// The address of function `index`'s `VMFuncRef`.
    fn func_ref(&self, index: u32) -> Option<u64>;
}

/// Evaluates `bytes` to a raw value.
pub(crate) fn eval(bytes: &[u8], env: &dyn ConstEnv) -> Result<u128, FormatError> {
    let mut stack: Vec<u128> = Vec::with_capacity(2);
    let bad = FormatError::BadConstExpr;
    for op in ConstExprReader::new(bytes) {
        let v = match op? {
            ConstOp::I32Const(v) => v as u32 as u128,
            ConstOp::I64Const(v) => v as u64 as u128,
            ConstOp::F32Const(v) => v as u128,
            ConstOp::F64Const(v) => v as u128,
            ConstOp::V128Const(v) => v,
            ConstOp::RefNull(_) => 0,
            ConstOp::RefFunc(i) => env.func_ref(i).ok_or(bad("function index"))? as u128,
            ConstOp::GlobalGet(i) => env.global(i).ok_or(bad("global index"))?,
            op => {
                let b = stack.pop().ok_or(bad("stack underflow"))?;
                let a = stack.pop().ok_or(bad("stack underflow"))?;
                let (a32, b32, a64, b64) = (a as u32, b as u32, a as u64, b as u64);
                match op {
                    ConstOp::I32Add => a32.wrapping_add(b32) as u128,
                    ConstOp::I32Sub => a32.wrapping_sub(b32) as u128,
                    ConstOp::I32Mul => a32.wrapping_mul(b32) as u128,
                    ConstOp::I64Add => a64.wrapping_add(b64) as u128,
                    ConstOp::I64Sub => a64.wrapping_sub(b64) as u128,
                    _ => a64.wrapping_mul(b64) as u128,
                }
            }
        };
        stack.push(v);
    }
    match stack[..] {
        [v] => Ok(v),
        _ => Err(bad("expression must leave exactly one value")),
    }
}
