//! SIMD memory accesses other than `v128.load`/`v128.store` (see `ops_memory`): extending loads,
//! splat and zero-extending loads, and single-lane loads and stores.
//!
//! They address memory like every other access (`heap_address`: the guard region or an explicit
//! bounds check for the access size), little-endian on every host.

use super::translator::FuncTranslator;
use cranelift_codegen::ir::types::{I16, I16X8, I32, I32X4, I64X2, I8, I8X16};
use cranelift_codegen::ir::{InstBuilder, Type, Value};
use wasmparser::{MemArg, Operator};

impl FuncTranslator<'_, '_> {
    /// Translates a SIMD memory operator; false if `op` is not one.
    pub(super) fn translate_simd_memory(&mut self, op: &Operator) -> bool {
        use Operator::*;
        match op {
            V128Load8x8S { memarg } => self.load_extend(memarg, I8, true),
            V128Load8x8U { memarg } => self.load_extend(memarg, I8, false),
            V128Load16x4S { memarg } => self.load_extend(memarg, I16, true),
            V128Load16x4U { memarg } => self.load_extend(memarg, I16, false),
            V128Load32x2S { memarg } => self.load_extend(memarg, I32, true),
            V128Load32x2U { memarg } => self.load_extend(memarg, I32, false),

            V128Load8Splat { memarg } => self.load_splat(memarg, I8X16),
            V128Load16Splat { memarg } => self.load_splat(memarg, I16X8),
            V128Load32Splat { memarg } => self.load_splat(memarg, I32X4),
            V128Load64Splat { memarg } => self.load_splat(memarg, I64X2),
            V128Load32Zero { memarg } => self.load_zero(memarg, I32X4),
            V128Load64Zero { memarg } => self.load_zero(memarg, I64X2),

            V128Load8Lane { memarg, lane } => self.load_lane(memarg, I8X16, *lane),
            V128Load16Lane { memarg, lane } => self.load_lane(memarg, I16X8, *lane),
            V128Load32Lane { memarg, lane } => self.load_lane(memarg, I32X4, *lane),
            V128Load64Lane { memarg, lane } => self.load_lane(memarg, I64X2, *lane),
            V128Store8Lane { memarg, lane } => self.store_lane(memarg, I8X16, *lane),
            V128Store16Lane { memarg, lane } => self.store_lane(memarg, I16X8, *lane),
            V128Store32Lane { memarg, lane } => self.store_lane(memarg, I32X4, *lane),
            V128Store64Lane { memarg, lane } => self.store_lane(memarg, I64X2, *lane),
            _ => return false,
        }
        true
    }

    /// `v128.loadNxM_{s,u}`: 8 bytes holding integers of type `narrow`, each sign- or
    /// zero-extended to twice its width.
    fn load_extend(&mut self, memarg: &MemArg, narrow: Type, signed: bool) {
        let index = self.state.pop();
        let (addr, offset) = self.heap_address(memarg, 8, index);
        let flags = self.env.heap_flags();
        let ins = self.b.ins();
        let v = match (narrow, signed) {
            (I8, true) => ins.sload8x8(flags, addr, offset),
            (I8, false) => ins.uload8x8(flags, addr, offset),
            (I16, true) => ins.sload16x4(flags, addr, offset),
            (I16, false) => ins.uload16x4(flags, addr, offset),
            (_, true) => ins.sload32x2(flags, addr, offset),
            (_, false) => ins.uload32x2(flags, addr, offset),
        };
        self.push_vector(v);
    }

    /// Loads one lane of a `ty` vector from the address on top of the stack.
    fn load_scalar(&mut self, memarg: &MemArg, ty: Type) -> Value {
        let index = self.state.pop();
        let lane = ty.lane_type();
        let (addr, offset) = self.heap_address(memarg, u64::from(lane.bytes()), index);
        let flags = self.env.heap_flags();
        self.b.ins().load(lane, flags, addr, offset)
    }

    /// `v128.loadN_splat`: one lane, copied into every lane of a `ty` vector.
    fn load_splat(&mut self, memarg: &MemArg, ty: Type) {
        let x = self.load_scalar(memarg, ty);
        let v = self.b.ins().splat(ty, x);
        self.push_vector(v);
    }

    /// `v128.loadN_zero`: one lane into lane 0 of a `ty` vector, the other lanes zero.
    fn load_zero(&mut self, memarg: &MemArg, ty: Type) {
        let x = self.load_scalar(memarg, ty);
        let v = self.b.ins().scalar_to_vector(ty, x);
        self.push_vector(v);
    }

    /// `v128.loadN_lane`: replaces lane `lane` of the top `v128` (viewed as `ty`) with a value
    /// loaded from the address below it.
    fn load_lane(&mut self, memarg: &MemArg, ty: Type, lane: u8) {
        let x = self.pop_vector(ty);
        let scalar = self.load_scalar(memarg, ty);
        let v = self.b.ins().insertlane(x, scalar, lane);
        self.push_vector(v);
    }

    /// `v128.storeN_lane`: stores lane `lane` of the top `v128` (viewed as `ty`) at the address
    /// below it.
    fn store_lane(&mut self, memarg: &MemArg, ty: Type, lane: u8) {
        let x = self.pop_vector(ty);
        let index = self.state.pop();
        let scalar = self.b.ins().extractlane(x, lane);
        let size = u64::from(ty.lane_type().bytes());
        let (addr, offset) = self.heap_address(memarg, size, index);
        let flags = self.env.heap_flags();
        self.b.ins().store(flags, scalar, addr, offset);
    }
}
