//! 128-bit SIMD operators (WebAssembly 2.0 `v128`), except the memory accesses, which are in
//! `ops_simd_memory`.
//!
//! WebAssembly has one `v128` type; Cranelift types vectors by lane shape. A `v128` is carried on
//! the operand stack, in locals and across blocks as `I8X16`: each operator bitcasts its operands
//! to the lane type it works on and its result back to `I8X16`. Bitcasts use little-endian lane
//! order, the order of WebAssembly's lanes, so they are free on every target (s390x included,
//! whose `tail` calling convention keeps vectors in little-endian lane order).
//!
//! Most operators map to one Cranelift instruction with WebAssembly's semantics: vector `fmin`/
//! `fmax` propagate NaN and order -0 below +0; `fcvt_to_*_sat` saturate and map NaN to 0;
//! `snarrow`/`unarrow`/`uunarrow` saturate; `swizzle` gives 0 for out-of-range indices.
//! Some compositions (`convert_low`, `trunc_sat_f64x2_*_zero`, `extadd_pairwise`, `dot`) are
//! written in the shapes the backends pattern-match into dedicated lowerings (on x86_64 some of
//! those shapes have no other lowering), as Wasmtime writes them.

use super::translator::FuncTranslator;
use crate::error::CompileError;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32X4, F64X2, I16, I16X8, I32, I32X4, I64X2, I8, I8X16};
use cranelift_codegen::ir::{self, ConstantData, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
use wasmparser::{FunctionBody, Operator, ValType};

/// Flags of a bitcast between vector shapes: lanes in little-endian (WebAssembly) order.
fn lane_order_flags() -> MemFlagsData {
    MemFlagsData::new().with_endianness(ir::Endianness::Little)
}

/// Reinterprets vector `v` as `ty` (no instruction if it already has that type).
pub(super) fn bitcast_vector(b: &mut FunctionBuilder, ty: Type, v: Value) -> Value {
    if b.func.dfg.value_type(v) == ty {
        v
    } else {
        b.ins().bitcast(ty, lane_order_flags(), v)
    }
}

/// An all-zero vector of type `ty`.
fn zero_vector(b: &mut FunctionBuilder, ty: Type) -> Value {
    let c = b.func.dfg.constants.insert(vec![0u8; 16].into());
    b.ins().vconst(ty, c)
}

impl<'f> FuncTranslator<'_, 'f> {
    /// Translates a SIMD operator; false if `op` is not one that this module handles
    /// (`v128.const`, `v128.load` and `v128.store` are left to the numeric and memory modules).
    /// Every SIMD operator, those included, is [`CompileError::Unsupported`] on a target without
    /// 128-bit vector registers (riscv64 without the V extension).
    pub fn translate_simd(&mut self, op: &Operator) -> Result<bool, CompileError> {
        if !self.env.simd_supported {
            return match simd_operator_name(op) {
                Some(name) => Err(CompileError::Unsupported(format!(
                    "simd operator {name}: riscv64 code generation for v128 needs the V extension"
                ))),
                None => Ok(false),
            };
        }
        Ok(self.translate_simd_memory(op)
            || self.translate_simd_lanes(op)
            || self.translate_simd_integer(op)
            || self.translate_simd_float(op)
            || self.translate_simd_relaxed(op))
    }

    /// Fails with [`CompileError::Unsupported`] if the target has no vector registers for `v128`
    /// and function `func_index` has a `v128` parameter, result or local.
    pub(super) fn check_v128_values(
        &self,
        func_index: u32,
        body: &FunctionBody,
    ) -> Result<(), CompileError> {
        if self.env.simd_supported {
            return Ok(());
        }
        let ty = self.env.module.func_type(func_index);
        let mut uses_v128 = ty
            .params()
            .iter()
            .chain(ty.results())
            .any(|t| *t == ValType::V128);
        for local in body.get_locals_reader()? {
            uses_v128 |= local?.1 == ValType::V128;
        }
        if uses_v128 {
            return Err(CompileError::Unsupported(
                "v128 values: riscv64 code generation for v128 needs the V extension".into(),
            ));
        }
        Ok(())
    }

    /// Pops a `v128` as a vector of type `ty`.
    pub(super) fn pop_vector(&mut self, ty: Type) -> Value {
        let v = self.state.pop();
        bitcast_vector(&mut self.b, ty, v)
    }

    /// Pushes vector `v` as a `v128` (`I8X16`).
    pub(super) fn push_vector(&mut self, v: Value) {
        let v = bitcast_vector(&mut self.b, I8X16, v);
        self.state.push(v);
    }

    /// Replaces the top `v128`, viewed as `ty`, with `f` of it.
    pub(super) fn vunop(
        &mut self,
        ty: Type,
        f: impl FnOnce(&mut FunctionBuilder<'f>, Value) -> Value,
    ) {
        let x = self.pop_vector(ty);
        let v = f(&mut self.b, x);
        self.push_vector(v);
    }

    /// Replaces the top two `v128`s, viewed as `ty`, with `f` of them.
    pub(super) fn vbinop(
        &mut self,
        ty: Type,
        f: impl FnOnce(&mut FunctionBuilder<'f>, Value, Value) -> Value,
    ) {
        let y = self.pop_vector(ty);
        let x = self.pop_vector(ty);
        let v = f(&mut self.b, x, y);
        self.push_vector(v);
    }

    /// Replaces the top `v128` with an i32 computed from it viewed as `ty`.
    fn vtest(&mut self, ty: Type, f: impl FnOnce(&mut FunctionBuilder<'f>, Value) -> Value) {
        let x = self.pop_vector(ty);
        let v = f(&mut self.b, x);
        self.state.push(v);
    }

    /// Lane-wise integer comparison: all ones where `cc` holds, zeros elsewhere.
    fn vicmp(&mut self, ty: Type, cc: IntCC) {
        self.vbinop(ty, |b, x, y| b.ins().icmp(cc, x, y));
    }

    /// Lane-wise float comparison: all ones where `cc` holds, zeros elsewhere.
    fn vfcmp(&mut self, ty: Type, cc: FloatCC) {
        self.vbinop(ty, |b, x, y| b.ins().fcmp(cc, x, y));
    }

    /// A shift of every lane of a `ty` vector by an i32 amount taken modulo the lane width.
    fn vshift(
        &mut self,
        ty: Type,
        f: impl FnOnce(&mut FunctionBuilder<'f>, Value, Value) -> Value,
    ) {
        let amount = self.state.pop();
        let x = self.pop_vector(ty);
        let mask = i64::from(ty.lane_bits()) - 1;
        let amount = self.b.ins().band_imm_u(amount, mask);
        let v = f(&mut self.b, x, amount);
        self.push_vector(v);
    }

    /// Splats, lane extraction and replacement, shuffles, and the bitwise `v128` operators.
    pub(super) fn translate_simd_lanes(&mut self, op: &Operator) -> bool {
        use Operator::*;
        match op {
            I8x16Splat => self.splat(I8X16),
            I16x8Splat => self.splat(I16X8),
            I32x4Splat => self.splat(I32X4),
            I64x2Splat => self.splat(I64X2),
            F32x4Splat => self.splat(F32X4),
            F64x2Splat => self.splat(F64X2),

            I8x16ExtractLaneS { lane } => self.extract_lane(I8X16, *lane, Some(true)),
            I8x16ExtractLaneU { lane } => self.extract_lane(I8X16, *lane, Some(false)),
            I16x8ExtractLaneS { lane } => self.extract_lane(I16X8, *lane, Some(true)),
            I16x8ExtractLaneU { lane } => self.extract_lane(I16X8, *lane, Some(false)),
            I32x4ExtractLane { lane } => self.extract_lane(I32X4, *lane, None),
            I64x2ExtractLane { lane } => self.extract_lane(I64X2, *lane, None),
            F32x4ExtractLane { lane } => self.extract_lane(F32X4, *lane, None),
            F64x2ExtractLane { lane } => self.extract_lane(F64X2, *lane, None),

            I8x16ReplaceLane { lane } => self.replace_lane(I8X16, *lane),
            I16x8ReplaceLane { lane } => self.replace_lane(I16X8, *lane),
            I32x4ReplaceLane { lane } => self.replace_lane(I32X4, *lane),
            I64x2ReplaceLane { lane } => self.replace_lane(I64X2, *lane),
            F32x4ReplaceLane { lane } => self.replace_lane(F32X4, *lane),
            F64x2ReplaceLane { lane } => self.replace_lane(F64X2, *lane),

            I8x16Shuffle { lanes } => {
                let mask = ConstantData::from(lanes.as_slice());
                let mask = self.b.func.dfg.immediates.push(mask);
                self.vbinop(I8X16, |b, x, y| b.ins().shuffle(x, y, mask));
            }
            I8x16Swizzle => self.vbinop(I8X16, |b, x, y| b.ins().swizzle(x, y)),

            V128Not => self.vunop(I8X16, |b, x| b.ins().bnot(x)),
            V128And => self.vbinop(I8X16, |b, x, y| b.ins().band(x, y)),
            V128AndNot => self.vbinop(I8X16, |b, x, y| b.ins().band_not(x, y)),
            V128Or => self.vbinop(I8X16, |b, x, y| b.ins().bor(x, y)),
            V128Xor => self.vbinop(I8X16, |b, x, y| b.ins().bxor(x, y)),
            V128Bitselect => {
                let mask = self.pop_vector(I8X16);
                let y = self.pop_vector(I8X16);
                let x = self.pop_vector(I8X16);
                let v = self.b.ins().bitselect(mask, x, y);
                self.push_vector(v);
            }
            V128AnyTrue => self.vtest(I8X16, |b, x| {
                let t = b.ins().vany_true(x);
                b.ins().uextend(I32, t)
            }),
            _ => return false,
        }
        true
    }

    /// `splat` of the top scalar into a `ty` vector (i8 and i16 lanes take the low bits of an
    /// i32).
    fn splat(&mut self, ty: Type) {
        let mut x = self.state.pop();
        let lane = ty.lane_type();
        if lane == I8 || lane == I16 {
            x = self.b.ins().ireduce(lane, x);
        }
        let v = self.b.ins().splat(ty, x);
        self.push_vector(v);
    }

    /// `extract_lane`: `signed` says how i8 and i16 lanes extend to i32 (`None` for wider
    /// lanes).
    fn extract_lane(&mut self, ty: Type, lane: u8, signed: Option<bool>) {
        let x = self.pop_vector(ty);
        let mut v = self.b.ins().extractlane(x, lane);
        match signed {
            Some(true) => v = self.b.ins().sextend(I32, v),
            Some(false) => v = self.b.ins().uextend(I32, v),
            None => {}
        }
        self.state.push(v);
    }

    /// `replace_lane` (i8 and i16 lanes take the low bits of an i32).
    fn replace_lane(&mut self, ty: Type, lane: u8) {
        let mut scalar = self.state.pop();
        let x = self.pop_vector(ty);
        let lane_ty = ty.lane_type();
        if lane_ty == I8 || lane_ty == I16 {
            scalar = self.b.ins().ireduce(lane_ty, scalar);
        }
        let v = self.b.ins().insertlane(x, scalar, lane);
        self.push_vector(v);
    }

    /// Integer lane arithmetic, comparisons, tests, shifts, narrowing and widening.
    pub(super) fn translate_simd_integer(&mut self, op: &Operator) -> bool {
        use Operator::*;
        match op {
            I8x16Eq => self.vicmp(I8X16, IntCC::Equal),
            I8x16Ne => self.vicmp(I8X16, IntCC::NotEqual),
            I8x16LtS => self.vicmp(I8X16, IntCC::SignedLessThan),
            I8x16LtU => self.vicmp(I8X16, IntCC::UnsignedLessThan),
            I8x16GtS => self.vicmp(I8X16, IntCC::SignedGreaterThan),
            I8x16GtU => self.vicmp(I8X16, IntCC::UnsignedGreaterThan),
            I8x16LeS => self.vicmp(I8X16, IntCC::SignedLessThanOrEqual),
            I8x16LeU => self.vicmp(I8X16, IntCC::UnsignedLessThanOrEqual),
            I8x16GeS => self.vicmp(I8X16, IntCC::SignedGreaterThanOrEqual),
            I8x16GeU => self.vicmp(I8X16, IntCC::UnsignedGreaterThanOrEqual),
            I16x8Eq => self.vicmp(I16X8, IntCC::Equal),
            I16x8Ne => self.vicmp(I16X8, IntCC::NotEqual),
            I16x8LtS => self.vicmp(I16X8, IntCC::SignedLessThan),
            I16x8LtU => self.vicmp(I16X8, IntCC::UnsignedLessThan),
            I16x8GtS => self.vicmp(I16X8, IntCC::SignedGreaterThan),
            I16x8GtU => self.vicmp(I16X8, IntCC::UnsignedGreaterThan),
            I16x8LeS => self.vicmp(I16X8, IntCC::SignedLessThanOrEqual),
            I16x8LeU => self.vicmp(I16X8, IntCC::UnsignedLessThanOrEqual),
            I16x8GeS => self.vicmp(I16X8, IntCC::SignedGreaterThanOrEqual),
            I16x8GeU => self.vicmp(I16X8, IntCC::UnsignedGreaterThanOrEqual),
            I32x4Eq => self.vicmp(I32X4, IntCC::Equal),
            I32x4Ne => self.vicmp(I32X4, IntCC::NotEqual),
            I32x4LtS => self.vicmp(I32X4, IntCC::SignedLessThan),
            I32x4LtU => self.vicmp(I32X4, IntCC::UnsignedLessThan),
            I32x4GtS => self.vicmp(I32X4, IntCC::SignedGreaterThan),
            I32x4GtU => self.vicmp(I32X4, IntCC::UnsignedGreaterThan),
            I32x4LeS => self.vicmp(I32X4, IntCC::SignedLessThanOrEqual),
            I32x4LeU => self.vicmp(I32X4, IntCC::UnsignedLessThanOrEqual),
            I32x4GeS => self.vicmp(I32X4, IntCC::SignedGreaterThanOrEqual),
            I32x4GeU => self.vicmp(I32X4, IntCC::UnsignedGreaterThanOrEqual),
            I64x2Eq => self.vicmp(I64X2, IntCC::Equal),
            I64x2Ne => self.vicmp(I64X2, IntCC::NotEqual),
            I64x2LtS => self.vicmp(I64X2, IntCC::SignedLessThan),
            I64x2GtS => self.vicmp(I64X2, IntCC::SignedGreaterThan),
            I64x2LeS => self.vicmp(I64X2, IntCC::SignedLessThanOrEqual),
            I64x2GeS => self.vicmp(I64X2, IntCC::SignedGreaterThanOrEqual),

            I8x16AllTrue => self.all_true(I8X16),
            I16x8AllTrue => self.all_true(I16X8),
            I32x4AllTrue => self.all_true(I32X4),
            I64x2AllTrue => self.all_true(I64X2),
            I8x16Bitmask => self.bitmask(I8X16),
            I16x8Bitmask => self.bitmask(I16X8),
            I32x4Bitmask => self.bitmask(I32X4),
            I64x2Bitmask => self.bitmask(I64X2),

            I8x16Abs => self.vunop(I8X16, |b, x| b.ins().iabs(x)),
            I16x8Abs => self.vunop(I16X8, |b, x| b.ins().iabs(x)),
            I32x4Abs => self.vunop(I32X4, |b, x| b.ins().iabs(x)),
            I64x2Abs => self.vunop(I64X2, |b, x| b.ins().iabs(x)),
            I8x16Neg => self.vunop(I8X16, |b, x| b.ins().ineg(x)),
            I16x8Neg => self.vunop(I16X8, |b, x| b.ins().ineg(x)),
            I32x4Neg => self.vunop(I32X4, |b, x| b.ins().ineg(x)),
            I64x2Neg => self.vunop(I64X2, |b, x| b.ins().ineg(x)),
            I8x16Popcnt => self.vunop(I8X16, |b, x| b.ins().popcnt(x)),

            I8x16Add => self.vbinop(I8X16, |b, x, y| b.ins().iadd(x, y)),
            I16x8Add => self.vbinop(I16X8, |b, x, y| b.ins().iadd(x, y)),
            I32x4Add => self.vbinop(I32X4, |b, x, y| b.ins().iadd(x, y)),
            I64x2Add => self.vbinop(I64X2, |b, x, y| b.ins().iadd(x, y)),
            I8x16Sub => self.vbinop(I8X16, |b, x, y| b.ins().isub(x, y)),
            I16x8Sub => self.vbinop(I16X8, |b, x, y| b.ins().isub(x, y)),
            I32x4Sub => self.vbinop(I32X4, |b, x, y| b.ins().isub(x, y)),
            I64x2Sub => self.vbinop(I64X2, |b, x, y| b.ins().isub(x, y)),
            I16x8Mul => self.vbinop(I16X8, |b, x, y| b.ins().imul(x, y)),
            I32x4Mul => self.vbinop(I32X4, |b, x, y| b.ins().imul(x, y)),
            I64x2Mul => self.vbinop(I64X2, |b, x, y| b.ins().imul(x, y)),
            I8x16AddSatS => self.vbinop(I8X16, |b, x, y| b.ins().sadd_sat(x, y)),
            I8x16AddSatU => self.vbinop(I8X16, |b, x, y| b.ins().uadd_sat(x, y)),
            I16x8AddSatS => self.vbinop(I16X8, |b, x, y| b.ins().sadd_sat(x, y)),
            I16x8AddSatU => self.vbinop(I16X8, |b, x, y| b.ins().uadd_sat(x, y)),
            I8x16SubSatS => self.vbinop(I8X16, |b, x, y| b.ins().ssub_sat(x, y)),
            I8x16SubSatU => self.vbinop(I8X16, |b, x, y| b.ins().usub_sat(x, y)),
            I16x8SubSatS => self.vbinop(I16X8, |b, x, y| b.ins().ssub_sat(x, y)),
            I16x8SubSatU => self.vbinop(I16X8, |b, x, y| b.ins().usub_sat(x, y)),
            I8x16MinS => self.vbinop(I8X16, |b, x, y| b.ins().smin(x, y)),
            I8x16MinU => self.vbinop(I8X16, |b, x, y| b.ins().umin(x, y)),
            I8x16MaxS => self.vbinop(I8X16, |b, x, y| b.ins().smax(x, y)),
            I8x16MaxU => self.vbinop(I8X16, |b, x, y| b.ins().umax(x, y)),
            I16x8MinS => self.vbinop(I16X8, |b, x, y| b.ins().smin(x, y)),
            I16x8MinU => self.vbinop(I16X8, |b, x, y| b.ins().umin(x, y)),
            I16x8MaxS => self.vbinop(I16X8, |b, x, y| b.ins().smax(x, y)),
            I16x8MaxU => self.vbinop(I16X8, |b, x, y| b.ins().umax(x, y)),
            I32x4MinS => self.vbinop(I32X4, |b, x, y| b.ins().smin(x, y)),
            I32x4MinU => self.vbinop(I32X4, |b, x, y| b.ins().umin(x, y)),
            I32x4MaxS => self.vbinop(I32X4, |b, x, y| b.ins().smax(x, y)),
            I32x4MaxU => self.vbinop(I32X4, |b, x, y| b.ins().umax(x, y)),
            I8x16AvgrU => self.vbinop(I8X16, |b, x, y| b.ins().avg_round(x, y)),
            I16x8AvgrU => self.vbinop(I16X8, |b, x, y| b.ins().avg_round(x, y)),
            I16x8Q15MulrSatS => self.vbinop(I16X8, |b, x, y| b.ins().sqmul_round_sat(x, y)),

            I8x16Shl => self.vshift(I8X16, |b, x, n| b.ins().ishl(x, n)),
            I16x8Shl => self.vshift(I16X8, |b, x, n| b.ins().ishl(x, n)),
            I32x4Shl => self.vshift(I32X4, |b, x, n| b.ins().ishl(x, n)),
            I64x2Shl => self.vshift(I64X2, |b, x, n| b.ins().ishl(x, n)),
            I8x16ShrS => self.vshift(I8X16, |b, x, n| b.ins().sshr(x, n)),
            I16x8ShrS => self.vshift(I16X8, |b, x, n| b.ins().sshr(x, n)),
            I32x4ShrS => self.vshift(I32X4, |b, x, n| b.ins().sshr(x, n)),
            I64x2ShrS => self.vshift(I64X2, |b, x, n| b.ins().sshr(x, n)),
            I8x16ShrU => self.vshift(I8X16, |b, x, n| b.ins().ushr(x, n)),
            I16x8ShrU => self.vshift(I16X8, |b, x, n| b.ins().ushr(x, n)),
            I32x4ShrU => self.vshift(I32X4, |b, x, n| b.ins().ushr(x, n)),
            I64x2ShrU => self.vshift(I64X2, |b, x, n| b.ins().ushr(x, n)),

            // Why `unarrow` for the `_u` narrowings: WebAssembly reads the inputs as signed and
            // saturates to the unsigned range, which is `unarrow` (`uunarrow` reads unsigned).
            I8x16NarrowI16x8S => self.vbinop(I16X8, |b, x, y| b.ins().snarrow(x, y)),
            I8x16NarrowI16x8U => self.vbinop(I16X8, |b, x, y| b.ins().unarrow(x, y)),
            I16x8NarrowI32x4S => self.vbinop(I32X4, |b, x, y| b.ins().snarrow(x, y)),
            I16x8NarrowI32x4U => self.vbinop(I32X4, |b, x, y| b.ins().unarrow(x, y)),

            I16x8ExtendLowI8x16S => self.vunop(I8X16, |b, x| b.ins().swiden_low(x)),
            I16x8ExtendHighI8x16S => self.vunop(I8X16, |b, x| b.ins().swiden_high(x)),
            I16x8ExtendLowI8x16U => self.vunop(I8X16, |b, x| b.ins().uwiden_low(x)),
            I16x8ExtendHighI8x16U => self.vunop(I8X16, |b, x| b.ins().uwiden_high(x)),
            I32x4ExtendLowI16x8S => self.vunop(I16X8, |b, x| b.ins().swiden_low(x)),
            I32x4ExtendHighI16x8S => self.vunop(I16X8, |b, x| b.ins().swiden_high(x)),
            I32x4ExtendLowI16x8U => self.vunop(I16X8, |b, x| b.ins().uwiden_low(x)),
            I32x4ExtendHighI16x8U => self.vunop(I16X8, |b, x| b.ins().uwiden_high(x)),
            I64x2ExtendLowI32x4S => self.vunop(I32X4, |b, x| b.ins().swiden_low(x)),
            I64x2ExtendHighI32x4S => self.vunop(I32X4, |b, x| b.ins().swiden_high(x)),
            I64x2ExtendLowI32x4U => self.vunop(I32X4, |b, x| b.ins().uwiden_low(x)),
            I64x2ExtendHighI32x4U => self.vunop(I32X4, |b, x| b.ins().uwiden_high(x)),

            I16x8ExtMulLowI8x16S => self.extmul(I8X16, true, false),
            I16x8ExtMulHighI8x16S => self.extmul(I8X16, true, true),
            I16x8ExtMulLowI8x16U => self.extmul(I8X16, false, false),
            I16x8ExtMulHighI8x16U => self.extmul(I8X16, false, true),
            I32x4ExtMulLowI16x8S => self.extmul(I16X8, true, false),
            I32x4ExtMulHighI16x8S => self.extmul(I16X8, true, true),
            I32x4ExtMulLowI16x8U => self.extmul(I16X8, false, false),
            I32x4ExtMulHighI16x8U => self.extmul(I16X8, false, true),
            I64x2ExtMulLowI32x4S => self.extmul(I32X4, true, false),
            I64x2ExtMulHighI32x4S => self.extmul(I32X4, true, true),
            I64x2ExtMulLowI32x4U => self.extmul(I32X4, false, false),
            I64x2ExtMulHighI32x4U => self.extmul(I32X4, false, true),

            I16x8ExtAddPairwiseI8x16S => self.extadd_pairwise(I8X16, true),
            I16x8ExtAddPairwiseI8x16U => self.extadd_pairwise(I8X16, false),
            I32x4ExtAddPairwiseI16x8S => self.extadd_pairwise(I16X8, true),
            I32x4ExtAddPairwiseI16x8U => self.extadd_pairwise(I16X8, false),

            I32x4DotI16x8S => self.vbinop(I16X8, |b, x, y| {
                let x_low = b.ins().swiden_low(x);
                let y_low = b.ins().swiden_low(y);
                let low = b.ins().imul(x_low, y_low);
                let x_high = b.ins().swiden_high(x);
                let y_high = b.ins().swiden_high(y);
                let high = b.ins().imul(x_high, y_high);
                b.ins().iadd_pairwise(low, high)
            }),
            _ => return false,
        }
        true
    }

    /// `all_true`: 1 if no lane of the `ty` vector is zero.
    fn all_true(&mut self, ty: Type) {
        self.vtest(ty, |b, x| {
            let t = b.ins().vall_true(x);
            b.ins().uextend(I32, t)
        });
    }

    /// `bitmask`: the lanes' sign bits, lane 0 in bit 0.
    fn bitmask(&mut self, ty: Type) {
        self.vtest(ty, |b, x| b.ins().vhigh_bits(I32, x));
    }

    /// `extmul_{low,high}`: the low or high halves of two `ty` vectors, widened (sign- or
    /// zero-extended) to twice the lane width and multiplied.
    fn extmul(&mut self, ty: Type, signed: bool, high: bool) {
        self.vbinop(ty, |b, x, y| {
            let (x, y) = match (signed, high) {
                (true, false) => (b.ins().swiden_low(x), b.ins().swiden_low(y)),
                (true, true) => (b.ins().swiden_high(x), b.ins().swiden_high(y)),
                (false, false) => (b.ins().uwiden_low(x), b.ins().uwiden_low(y)),
                (false, true) => (b.ins().uwiden_high(x), b.ins().uwiden_high(y)),
            };
            b.ins().imul(x, y)
        });
    }

    /// `extadd_pairwise`: sums of adjacent lanes of a `ty` vector, at twice the lane width.
    fn extadd_pairwise(&mut self, ty: Type, signed: bool) {
        self.vunop(ty, |b, x| {
            let (low, high) = if signed {
                (b.ins().swiden_low(x), b.ins().swiden_high(x))
            } else {
                (b.ins().uwiden_low(x), b.ins().uwiden_high(x))
            };
            b.ins().iadd_pairwise(low, high)
        });
    }

    /// Float lane arithmetic, comparisons, rounding and conversions.
    pub(super) fn translate_simd_float(&mut self, op: &Operator) -> bool {
        use Operator::*;
        match op {
            F32x4Eq => self.vfcmp(F32X4, FloatCC::Equal),
            F32x4Ne => self.vfcmp(F32X4, FloatCC::NotEqual),
            F32x4Lt => self.vfcmp(F32X4, FloatCC::LessThan),
            F32x4Gt => self.vfcmp(F32X4, FloatCC::GreaterThan),
            F32x4Le => self.vfcmp(F32X4, FloatCC::LessThanOrEqual),
            F32x4Ge => self.vfcmp(F32X4, FloatCC::GreaterThanOrEqual),
            F64x2Eq => self.vfcmp(F64X2, FloatCC::Equal),
            F64x2Ne => self.vfcmp(F64X2, FloatCC::NotEqual),
            F64x2Lt => self.vfcmp(F64X2, FloatCC::LessThan),
            F64x2Gt => self.vfcmp(F64X2, FloatCC::GreaterThan),
            F64x2Le => self.vfcmp(F64X2, FloatCC::LessThanOrEqual),
            F64x2Ge => self.vfcmp(F64X2, FloatCC::GreaterThanOrEqual),

            F32x4Ceil => self.vunop(F32X4, |b, x| b.ins().ceil(x)),
            F32x4Floor => self.vunop(F32X4, |b, x| b.ins().floor(x)),
            F32x4Trunc => self.vunop(F32X4, |b, x| b.ins().trunc(x)),
            F32x4Nearest => self.vunop(F32X4, |b, x| b.ins().nearest(x)),
            F32x4Abs => self.vunop(F32X4, |b, x| b.ins().fabs(x)),
            F32x4Neg => self.vunop(F32X4, |b, x| b.ins().fneg(x)),
            F32x4Sqrt => self.vunop(F32X4, |b, x| b.ins().sqrt(x)),
            F64x2Ceil => self.vunop(F64X2, |b, x| b.ins().ceil(x)),
            F64x2Floor => self.vunop(F64X2, |b, x| b.ins().floor(x)),
            F64x2Trunc => self.vunop(F64X2, |b, x| b.ins().trunc(x)),
            F64x2Nearest => self.vunop(F64X2, |b, x| b.ins().nearest(x)),
            F64x2Abs => self.vunop(F64X2, |b, x| b.ins().fabs(x)),
            F64x2Neg => self.vunop(F64X2, |b, x| b.ins().fneg(x)),
            F64x2Sqrt => self.vunop(F64X2, |b, x| b.ins().sqrt(x)),

            F32x4Add => self.vbinop(F32X4, |b, x, y| b.ins().fadd(x, y)),
            F32x4Sub => self.vbinop(F32X4, |b, x, y| b.ins().fsub(x, y)),
            F32x4Mul => self.vbinop(F32X4, |b, x, y| b.ins().fmul(x, y)),
            F32x4Div => self.vbinop(F32X4, |b, x, y| b.ins().fdiv(x, y)),
            F32x4Min => self.vbinop(F32X4, |b, x, y| b.ins().fmin(x, y)),
            F32x4Max => self.vbinop(F32X4, |b, x, y| b.ins().fmax(x, y)),
            F64x2Add => self.vbinop(F64X2, |b, x, y| b.ins().fadd(x, y)),
            F64x2Sub => self.vbinop(F64X2, |b, x, y| b.ins().fsub(x, y)),
            F64x2Mul => self.vbinop(F64X2, |b, x, y| b.ins().fmul(x, y)),
            F64x2Div => self.vbinop(F64X2, |b, x, y| b.ins().fdiv(x, y)),
            F64x2Min => self.vbinop(F64X2, |b, x, y| b.ins().fmin(x, y)),
            F64x2Max => self.vbinop(F64X2, |b, x, y| b.ins().fmax(x, y)),
            F32x4PMin => self.pseudo_min_max(F32X4, false),
            F32x4PMax => self.pseudo_min_max(F32X4, true),
            F64x2PMin => self.pseudo_min_max(F64X2, false),
            F64x2PMax => self.pseudo_min_max(F64X2, true),

            I32x4TruncSatF32x4S => self.vunop(F32X4, |b, x| b.ins().fcvt_to_sint_sat(I32X4, x)),
            I32x4TruncSatF32x4U => self.vunop(F32X4, |b, x| b.ins().fcvt_to_uint_sat(I32X4, x)),
            I32x4TruncSatF64x2SZero => self.vunop(F64X2, |b, x| {
                let wide = b.ins().fcvt_to_sint_sat(I64X2, x);
                let zero = zero_vector(b, I64X2);
                b.ins().snarrow(wide, zero)
            }),
            I32x4TruncSatF64x2UZero => self.vunop(F64X2, |b, x| {
                let wide = b.ins().fcvt_to_uint_sat(I64X2, x);
                let zero = zero_vector(b, I64X2);
                b.ins().uunarrow(wide, zero)
            }),
            F32x4ConvertI32x4S => self.vunop(I32X4, |b, x| b.ins().fcvt_from_sint(F32X4, x)),
            F32x4ConvertI32x4U => self.vunop(I32X4, |b, x| b.ins().fcvt_from_uint(F32X4, x)),
            F64x2ConvertLowI32x4S => self.vunop(I32X4, |b, x| {
                let wide = b.ins().swiden_low(x);
                b.ins().fcvt_from_sint(F64X2, wide)
            }),
            F64x2ConvertLowI32x4U => self.vunop(I32X4, |b, x| {
                let wide = b.ins().uwiden_low(x);
                b.ins().fcvt_from_uint(F64X2, wide)
            }),
            F32x4DemoteF64x2Zero => self.vunop(F64X2, |b, x| b.ins().fvdemote(x)),
            F64x2PromoteLowF32x4 => self.vunop(F32X4, |b, x| b.ins().fvpromote_low(x)),
            _ => return false,
        }
        true
    }

    /// `pmin` (`y < x ? y : x`) or `pmax` (`x < y ? y : x`), lane-wise on `ty` vectors: a plain
    /// comparison, so lanes where it is false (a NaN operand, or -0 against +0) give `x`.
    fn pseudo_min_max(&mut self, ty: Type, max: bool) {
        self.vbinop(ty, |b, x, y| {
            let (lhs, rhs) = if max { (x, y) } else { (y, x) };
            let take_y = b.ins().fcmp(FloatCC::LessThan, lhs, rhs);
            let take_y = bitcast_vector(b, ty, take_y);
            b.ins().bitselect(take_y, y, x)
        });
    }
}

/// The name of `op` if it is a SIMD operator: every WebAssembly 2.0 SIMD operator, and no
/// other, has a `V128` or lane-shape prefix.
fn simd_operator_name(op: &Operator) -> Option<String> {
    let name = format!("{op:?}");
    let name = name.split([' ', '{']).next().unwrap_or_default();
    let simd = name.starts_with("V128")
        || ["I8x16", "I16x8", "I32x4", "I64x2", "F32x4", "F64x2"]
            .iter()
            .any(|shape| name.starts_with(shape));
    simd.then(|| name.to_string())
}
