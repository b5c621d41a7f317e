//! Numeric operators: constants, integer and float arithmetic, comparisons, conversions.
//!
//! Most map to one Cranelift instruction whose semantics already match WebAssembly's: shift and
//! rotate amounts are taken modulo the bit width; `sdiv`/`udiv`/`srem`/`urem` trap on a zero
//! divisor (`sdiv` also on `MIN / -1`, while `srem(MIN, -1)` is 0); `fcvt_to_sint`/`fcvt_to_uint`
//! trap on NaN (bad conversion) and out-of-range values (integer overflow); `fmin`/`fmax`
//! propagate NaN and order -0 below +0.

use super::translator::FuncTranslator;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::types::{F32, F64, I16, I32, I64, I8, I8X16};
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
use wasmparser::Operator;

impl<'f> FuncTranslator<'_, 'f> {
    /// Translates a numeric operator; false if `op` is not one.
    pub fn translate_numeric(&mut self, op: &Operator) -> bool {
        use Operator::*;
        match op {
            I32Const { value } => self.push_with(|b| b.ins().iconst(I32, i64::from(*value))),
            I64Const { value } => self.push_with(|b| b.ins().iconst(I64, *value)),
            F32Const { value } => {
                self.push_with(|b| b.ins().f32const(Ieee32::with_bits(value.bits())))
            }
            F64Const { value } => {
                self.push_with(|b| b.ins().f64const(Ieee64::with_bits(value.bits())))
            }
            V128Const { value } => self.push_with(|b| {
                let c = b.func.dfg.constants.insert(value.bytes().to_vec().into());
                b.ins().vconst(I8X16, c)
            }),

            I32Eqz | I64Eqz => self.unop(|b, x| {
                let c = b.ins().icmp_imm_u(IntCC::Equal, x, 0);
                b.ins().uextend(I32, c)
            }),
            I32Eq | I64Eq => self.icmp(IntCC::Equal),
            I32Ne | I64Ne => self.icmp(IntCC::NotEqual),
            I32LtS | I64LtS => self.icmp(IntCC::SignedLessThan),
            I32LtU | I64LtU => self.icmp(IntCC::UnsignedLessThan),
            I32GtS | I64GtS => self.icmp(IntCC::SignedGreaterThan),
            I32GtU | I64GtU => self.icmp(IntCC::UnsignedGreaterThan),
            I32LeS | I64LeS => self.icmp(IntCC::SignedLessThanOrEqual),
            I32LeU | I64LeU => self.icmp(IntCC::UnsignedLessThanOrEqual),
            I32GeS | I64GeS => self.icmp(IntCC::SignedGreaterThanOrEqual),
            I32GeU | I64GeU => self.icmp(IntCC::UnsignedGreaterThanOrEqual),

            // Why these codes: wasm's `ne` is true for unordered operands, the others false.
            F32Eq | F64Eq => self.fcmp(FloatCC::Equal),
            F32Ne | F64Ne => self.fcmp(FloatCC::NotEqual),
            F32Lt | F64Lt => self.fcmp(FloatCC::LessThan),
            F32Gt | F64Gt => self.fcmp(FloatCC::GreaterThan),
            F32Le | F64Le => self.fcmp(FloatCC::LessThanOrEqual),
            F32Ge | F64Ge => self.fcmp(FloatCC::GreaterThanOrEqual),

            I32Clz | I64Clz => self.unop(|b, x| b.ins().clz(x)),
            I32Ctz | I64Ctz => self.unop(|b, x| b.ins().ctz(x)),
            I32Popcnt | I64Popcnt => self.unop(|b, x| b.ins().popcnt(x)),
            I32Add | I64Add => self.binop(|b, x, y| b.ins().iadd(x, y)),
            I32Sub | I64Sub => self.binop(|b, x, y| b.ins().isub(x, y)),
            I32Mul | I64Mul => self.binop(|b, x, y| b.ins().imul(x, y)),
            I32DivS | I64DivS => self.binop(|b, x, y| b.ins().sdiv(x, y)),
            I32DivU | I64DivU => self.binop(|b, x, y| b.ins().udiv(x, y)),
            I32RemS | I64RemS => self.binop(|b, x, y| b.ins().srem(x, y)),
            I32RemU | I64RemU => self.binop(|b, x, y| b.ins().urem(x, y)),
            I32And | I64And => self.binop(|b, x, y| b.ins().band(x, y)),
            I32Or | I64Or => self.binop(|b, x, y| b.ins().bor(x, y)),
            I32Xor | I64Xor => self.binop(|b, x, y| b.ins().bxor(x, y)),
            I32Shl | I64Shl => self.binop(|b, x, y| b.ins().ishl(x, y)),
            I32ShrS | I64ShrS => self.binop(|b, x, y| b.ins().sshr(x, y)),
            I32ShrU | I64ShrU => self.binop(|b, x, y| b.ins().ushr(x, y)),
            I32Rotl | I64Rotl => self.binop(|b, x, y| b.ins().rotl(x, y)),
            I32Rotr | I64Rotr => self.binop(|b, x, y| b.ins().rotr(x, y)),

            F32Abs | F64Abs => self.unop(|b, x| b.ins().fabs(x)),
            F32Neg | F64Neg => self.unop(|b, x| b.ins().fneg(x)),
            F32Ceil | F64Ceil => self.unop(|b, x| b.ins().ceil(x)),
            F32Floor | F64Floor => self.unop(|b, x| b.ins().floor(x)),
            F32Trunc | F64Trunc => self.unop(|b, x| b.ins().trunc(x)),
            F32Nearest | F64Nearest => self.unop(|b, x| b.ins().nearest(x)),
            F32Sqrt | F64Sqrt => self.unop(|b, x| b.ins().sqrt(x)),
            F32Add | F64Add => self.binop(|b, x, y| b.ins().fadd(x, y)),
            F32Sub | F64Sub => self.binop(|b, x, y| b.ins().fsub(x, y)),
            F32Mul | F64Mul => self.binop(|b, x, y| b.ins().fmul(x, y)),
            F32Div | F64Div => self.binop(|b, x, y| b.ins().fdiv(x, y)),
            F32Min | F64Min => self.binop(|b, x, y| b.ins().fmin(x, y)),
            F32Max | F64Max => self.binop(|b, x, y| b.ins().fmax(x, y)),
            F32Copysign | F64Copysign => self.binop(|b, x, y| b.ins().fcopysign(x, y)),

            I32WrapI64 => self.unop(|b, x| b.ins().ireduce(I32, x)),
            I64ExtendI32S => self.unop(|b, x| b.ins().sextend(I64, x)),
            I64ExtendI32U => self.unop(|b, x| b.ins().uextend(I64, x)),
            I32TruncF32S | I32TruncF64S => self.unop(|b, x| b.ins().fcvt_to_sint(I32, x)),
            I32TruncF32U | I32TruncF64U => self.unop(|b, x| b.ins().fcvt_to_uint(I32, x)),
            I64TruncF32S | I64TruncF64S => self.unop(|b, x| b.ins().fcvt_to_sint(I64, x)),
            I64TruncF32U | I64TruncF64U => self.unop(|b, x| b.ins().fcvt_to_uint(I64, x)),
            I32TruncSatF32S | I32TruncSatF64S => self.unop(|b, x| b.ins().fcvt_to_sint_sat(I32, x)),
            I32TruncSatF32U | I32TruncSatF64U => self.unop(|b, x| b.ins().fcvt_to_uint_sat(I32, x)),
            I64TruncSatF32S | I64TruncSatF64S => self.unop(|b, x| b.ins().fcvt_to_sint_sat(I64, x)),
            I64TruncSatF32U | I64TruncSatF64U => self.unop(|b, x| b.ins().fcvt_to_uint_sat(I64, x)),
            F32ConvertI32S | F32ConvertI64S => self.unop(|b, x| b.ins().fcvt_from_sint(F32, x)),
            F32ConvertI32U | F32ConvertI64U => self.unop(|b, x| b.ins().fcvt_from_uint(F32, x)),
            F64ConvertI32S | F64ConvertI64S => self.unop(|b, x| b.ins().fcvt_from_sint(F64, x)),
            F64ConvertI32U | F64ConvertI64U => self.unop(|b, x| b.ins().fcvt_from_uint(F64, x)),
            F32DemoteF64 => self.unop(|b, x| b.ins().fdemote(F32, x)),
            F64PromoteF32 => self.unop(|b, x| b.ins().fpromote(F64, x)),
            I32ReinterpretF32 => self.reinterpret(I32),
            I64ReinterpretF64 => self.reinterpret(I64),
            F32ReinterpretI32 => self.reinterpret(F32),
            F64ReinterpretI64 => self.reinterpret(F64),

            I32Extend8S => self.sign_extend(I8, I32),
            I32Extend16S => self.sign_extend(I16, I32),
            I64Extend8S => self.sign_extend(I8, I64),
            I64Extend16S => self.sign_extend(I16, I64),
            I64Extend32S => self.sign_extend(I32, I64),
            _ => return false,
        }
        true
    }

    /// Pushes the value `f` builds.
    fn push_with(&mut self, f: impl FnOnce(&mut FunctionBuilder<'f>) -> Value) {
        let v = f(&mut self.b);
        self.state.push(v);
    }

    /// Replaces the top value with `f` of it.
    fn unop(&mut self, f: impl FnOnce(&mut FunctionBuilder<'f>, Value) -> Value) {
        let x = self.state.pop();
        let v = f(&mut self.b, x);
        self.state.push(v);
    }

    /// Replaces the top two values with `f` of them.
    fn binop(&mut self, f: impl FnOnce(&mut FunctionBuilder<'f>, Value, Value) -> Value) {
        let (x, y) = self.state.pop2();
        let v = f(&mut self.b, x, y);
        self.state.push(v);
    }

    /// Integer comparison producing an i32 0 or 1.
    fn icmp(&mut self, cc: IntCC) {
        self.binop(|b, x, y| {
            let c = b.ins().icmp(cc, x, y);
            b.ins().uextend(I32, c)
        });
    }

    /// Float comparison producing an i32 0 or 1.
    fn fcmp(&mut self, cc: FloatCC) {
        self.binop(|b, x, y| {
            let c = b.ins().fcmp(cc, x, y);
            b.ins().uextend(I32, c)
        });
    }

    /// Reinterprets the top value's bits as `to`.
    fn reinterpret(&mut self, to: Type) {
        self.unop(|b, x| b.ins().bitcast(to, MemFlagsData::new(), x));
    }

    /// Sign-extends the low `from` bits of the top value to `to`.
    fn sign_extend(&mut self, from: Type, to: Type) {
        self.unop(|b, x| {
            let narrow = b.ins().ireduce(from, x);
            b.ins().sextend(to, narrow)
        });
    }
}
