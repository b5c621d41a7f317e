//! Relaxed SIMD (WebAssembly 3.0): operators whose results the spec lets an engine choose
//! between a few, so that each maps to fast instructions on every target.
//!
//! Kiln makes one choice per operator, the same on every target, except fused multiply-add:
//! - `relaxed_swizzle` is `swizzle` (0 for an index of 16 or more);
//! - `relaxed_trunc*` are the saturating `trunc_sat*` (NaN gives 0, out of range saturates);
//! - `relaxed_laneselect` is `bitselect` (every bit of the mask selects);
//! - `relaxed_min`/`relaxed_max` are `pmin`/`pmax` (`y < x ? y : x`), one instruction on x86_64
//!   (`minps`), where `min`/`max` need a NaN and signed-zero fixup;
//! - `relaxed_q15mulr_s` is `q15mulr_sat_s` (saturates `-1 × -1` to `0x7fff`);
//! - `relaxed_dot_i8x16_i7x16_s` multiplies both operands as signed bytes and adds pairs with
//!   wrapping i16 arithmetic; `relaxed_dot_i8x16_i7x16_add_s` widens those sums to i32 by pairs
//!   and adds the accumulator;
//! - `relaxed_madd`/`relaxed_nmadd` (`a × b + c`, `-(a × b) + c`) are fused (one rounding) where
//!   the target has a fused multiply-add instruction — aarch64, s390x, riscv64 and x86_64 with
//!   `fma` (the artifact then records that CPU feature, so it never runs where it would give the
//!   other result) — and unfused (two roundings) on x86_64 without it. This is the only
//!   target-dependent result, and the spec allows both.

use super::translator::FuncTranslator;
use cranelift_codegen::ir::types::{F32X4, F64X2, I16X8, I32X4, I64X2, I8X16};
use cranelift_codegen::ir::{InstBuilder, Type, Value};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::FunctionBuilder;
use wasmparser::Operator;

/// Whether `isa` has a fused multiply-add for vectors: every Cranelift target but x86_64
/// without the `fma` feature (where Cranelift would call a library function for `fma`).
fn has_native_fma(isa: &dyn TargetIsa) -> bool {
    if !matches!(
        isa.triple().architecture,
        target_lexicon::Architecture::X86_64
    ) {
        return true;
    }
    isa.isa_flags()
        .iter()
        .any(|f| f.name == "has_fma" && f.as_bool() == Some(true))
}

impl<'f> FuncTranslator<'_, 'f> {
    /// Translates a relaxed SIMD operator; false if `op` is not one.
    pub(super) fn translate_simd_relaxed(&mut self, op: &Operator) -> bool {
        use Operator::*;
        // Those that are exactly a WebAssembly 2.0 operator are translated as that operator.
        let same = match op {
            I8x16RelaxedSwizzle => Some(I8x16Swizzle),
            I32x4RelaxedTruncF32x4S => Some(I32x4TruncSatF32x4S),
            I32x4RelaxedTruncF32x4U => Some(I32x4TruncSatF32x4U),
            I32x4RelaxedTruncF64x2SZero => Some(I32x4TruncSatF64x2SZero),
            I32x4RelaxedTruncF64x2UZero => Some(I32x4TruncSatF64x2UZero),
            F32x4RelaxedMin => Some(F32x4PMin),
            F32x4RelaxedMax => Some(F32x4PMax),
            F64x2RelaxedMin => Some(F64x2PMin),
            F64x2RelaxedMax => Some(F64x2PMax),
            I16x8RelaxedQ15mulrS => Some(I16x8Q15MulrSatS),
            _ => None,
        };
        if let Some(same) = same {
            let translated = self.translate_simd_lanes(&same)
                || self.translate_simd_integer(&same)
                || self.translate_simd_float(&same);
            debug_assert!(translated, "{same:?} is a SIMD operator");
            return translated;
        }
        match op {
            F32x4RelaxedMadd => self.relaxed_madd(F32X4, false),
            F32x4RelaxedNmadd => self.relaxed_madd(F32X4, true),
            F64x2RelaxedMadd => self.relaxed_madd(F64X2, false),
            F64x2RelaxedNmadd => self.relaxed_madd(F64X2, true),
            I8x16RelaxedLaneselect => self.relaxed_laneselect(I8X16),
            I16x8RelaxedLaneselect => self.relaxed_laneselect(I16X8),
            I32x4RelaxedLaneselect => self.relaxed_laneselect(I32X4),
            I64x2RelaxedLaneselect => self.relaxed_laneselect(I64X2),
            I16x8RelaxedDotI8x16I7x16S => self.vbinop(I8X16, dot_i8x16),
            I32x4RelaxedDotI8x16I7x16AddS => {
                let acc = self.pop_vector(I32X4);
                let y = self.pop_vector(I8X16);
                let x = self.pop_vector(I8X16);
                let dot = dot_i8x16(&mut self.b, x, y);
                let low = self.b.ins().swiden_low(dot);
                let high = self.b.ins().swiden_high(dot);
                let sums = self.b.ins().iadd_pairwise(low, high);
                let v = self.b.ins().iadd(sums, acc);
                self.push_vector(v);
            }
            _ => return false,
        }
        true
    }

    /// `relaxed_madd` (`a × b + c`) or, if `negate`, `relaxed_nmadd` (`-(a × b) + c`).
    fn relaxed_madd(&mut self, ty: Type, negate: bool) {
        let c = self.pop_vector(ty);
        let b_ = self.pop_vector(ty);
        let mut a = self.pop_vector(ty);
        if negate {
            a = self.b.ins().fneg(a);
        }
        let v = if has_native_fma(self.env.isa) {
            self.b.ins().fma(a, b_, c)
        } else {
            let product = self.b.ins().fmul(a, b_);
            self.b.ins().fadd(product, c)
        };
        self.push_vector(v);
    }

    /// `relaxed_laneselect(a, b, mask)`: bits of `a` where `mask` has ones, of `b` elsewhere.
    fn relaxed_laneselect(&mut self, ty: Type) {
        let mask = self.pop_vector(ty);
        let y = self.pop_vector(ty);
        let x = self.pop_vector(ty);
        let v = self.b.ins().bitselect(mask, x, y);
        self.push_vector(v);
    }
}

/// The i16x8 dot product of two i8x16 vectors taken as signed bytes: lane `i` is
/// `x[2i]·y[2i] + x[2i+1]·y[2i+1]`, wrapping.
fn dot_i8x16(b: &mut FunctionBuilder, x: Value, y: Value) -> Value {
    let low = {
        let (x, y) = (b.ins().swiden_low(x), b.ins().swiden_low(y));
        b.ins().imul(x, y)
    };
    let high = {
        let (x, y) = (b.ins().swiden_high(x), b.ins().swiden_high(y));
        b.ins().imul(x, y)
    };
    b.ins().iadd_pairwise(low, high)
}
