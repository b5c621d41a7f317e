//! Linear memory: loads, stores, `memory.size`/`memory.grow`, and the bulk-memory operators.
//!
//! A memory's bounds-check strategy follows its address type (recorded per memory in the
//! artifact, `MemoryEntry::bounds_check`, and checked by the loader):
//!
//! - **Guard pages** (32-bit memories). Every such memory is a 4 GiB reservation followed by a
//!   `MEMORY_GUARD` guard region, so a 32-bit index plus a static offset and access size of at
//!   most `MEMORY_GUARD` cannot leave reservation + guard: such accesses need no bounds check, a
//!   fault is the check (hence the out-of-bounds trap code on every access). Larger offsets get
//!   an explicit check.
//! - **Explicit checks** (64-bit memories, since no guard region covers a 64-bit index, and
//!   32-bit ones under `CompileOptions::explicit_bounds_checks`, for smaller reservations): every
//!   access compares `index + offset + size` (with an overflow trap) with the memory's current
//!   length, or, when `offset + size` fits in the memory's minimum size, `index` with
//!   `length - offset - size` (one comparison, nothing can overflow). With Cranelift's `enable_heap_access_spectre_mitigation` (on, as in
//!   Wasmtime) the out-of-bounds case does not branch: `select_spectre_guard` replaces the address
//!   with null, so a misspeculated access cannot read out of bounds, and the access faults on the
//!   unmapped null page, which the trap table makes an out-of-bounds trap. Without the setting the
//!   check is a `trapnz`.
use super::translator::FuncTranslator;
use crate::trap_codes::trap_code;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{F32, F64, I32, I64};
use cranelift_codegen::ir::{InstBuilder, Type, Value};
use kiln_format::tables::bounds_check;
use kiln_format::vmctx::MEMORY_GUARD;
use kiln_format::Builtin;
use kiln_format::TrapKind;
use kiln_format::WASM_PAGE_SIZE;
use wasmparser::{MemArg, MemArgTarget, Operator};

/// How a load produces its value from memory.
#[derive(Clone, Copy)]
enum LoadKind {
    /// Full width of the result type.
    Full,
    /// Narrow access of this many bytes, zero-extended.
    Zext(u8),
    /// Narrow access of this many bytes, sign-extended.
    Sext(u8),
}

/// log2 of the wasm page size.
const PAGE_SHIFT: i64 = 16;

impl FuncTranslator<'_, '_> {
    /// Translates a memory operator; false if `op` is not one.
    pub fn translate_memory(&mut self, op: &Operator) -> bool {
        use LoadKind::*;
        use Operator::*;
        match op {
            I32Load { memarg } => self.load(memarg, I32, Full),
            I64Load { memarg } => self.load(memarg, I64, Full),
            F32Load { memarg } => self.load(memarg, F32, Full),
            F64Load { memarg } => self.load(memarg, F64, Full),
            I32Load8S { memarg } => self.load(memarg, I32, Sext(1)),
            I32Load8U { memarg } => self.load(memarg, I32, Zext(1)),
            I32Load16S { memarg } => self.load(memarg, I32, Sext(2)),
            I32Load16U { memarg } => self.load(memarg, I32, Zext(2)),
            I64Load8S { memarg } => self.load(memarg, I64, Sext(1)),
            I64Load8U { memarg } => self.load(memarg, I64, Zext(1)),
            I64Load16S { memarg } => self.load(memarg, I64, Sext(2)),
            I64Load16U { memarg } => self.load(memarg, I64, Zext(2)),
            I64Load32S { memarg } => self.load(memarg, I64, Sext(4)),
            I64Load32U { memarg } => self.load(memarg, I64, Zext(4)),
            I32Store { memarg } | F32Store { memarg } => self.store(memarg, 4),
            I64Store { memarg } | F64Store { memarg } => self.store(memarg, 8),
            I32Store8 { memarg } | I64Store8 { memarg } => self.store(memarg, 1),
            I32Store16 { memarg } | I64Store16 { memarg } => self.store(memarg, 2),
            I64Store32 { memarg } => self.store(memarg, 4),
            V128Load { memarg } => self.load(memarg, cranelift_codegen::ir::types::I8X16, Full),
            V128Store { memarg } => self.store(memarg, 16),

            MemorySize { mem } => {
                let len = self.env.memory_length(&mut self.b, *mem);
                let pages = self.b.ins().ushr_imm_u(len, PAGE_SHIFT);
                let pages = self.narrow_to(self.env.module.memory_is_64(*mem), pages);
                self.state.push(pages);
            }
            MemoryGrow { mem } => {
                let is_64 = self.env.module.memory_is_64(*mem);
                let delta = self.state.pop();
                let delta = self.widen_from(is_64, delta);
                let mem = self.b.ins().iconst(I32, i64::from(*mem));
                let old = self.call_builtin_value(Builtin::memory_grow(), &[mem, delta]);
                // Why a plain truncation for 32-bit memories: old sizes fit in 16 bits, and
                // failure (`u64::MAX`) truncates to wasm's -1 (and is -1 as an i64).
                let old = self.narrow_to(is_64, old);
                self.state.push(old);
            }
            MemoryFill { mem } => {
                let is_64 = self.env.module.memory_is_64(*mem);
                let (dst, byte, len) = self.state.pop3();
                let mem = self.b.ins().iconst(I32, i64::from(*mem));
                let dst = self.widen_from(is_64, dst);
                let len = self.widen_from(is_64, len);
                self.call_builtin(Builtin::memory_fill(), &[mem, dst, byte, len]);
            }
            MemoryCopy { dst_mem, src_mem } => {
                let dst_64 = self.env.module.memory_is_64(*dst_mem);
                let src_64 = self.env.module.memory_is_64(*src_mem);
                let (dst, src, len) = self.state.pop3();
                let dst_mem = self.b.ins().iconst(I32, i64::from(*dst_mem));
                let src_mem = self.b.ins().iconst(I32, i64::from(*src_mem));
                let dst = self.widen_from(dst_64, dst);
                let src = self.widen_from(src_64, src);
                // The length has the smaller of the two address types (the spec's `at_1 ⊓ at_2`).
                let len = self.widen_from(dst_64 && src_64, len);
                self.call_builtin(Builtin::memory_copy(), &[dst_mem, src_mem, dst, src, len]);
            }
            MemoryInit { data_index, mem } => {
                let is_64 = self.env.module.memory_is_64(*mem);
                let (dst, src, len) = self.state.pop3();
                let mem = self.b.ins().iconst(I32, i64::from(*mem));
                let data = self.b.ins().iconst(I32, i64::from(*data_index));
                // Only the destination has the memory's address type; `src` and `len` are i32.
                let dst = self.widen_from(is_64, dst);
                self.call_builtin(Builtin::memory_init(), &[mem, data, dst, src, len]);
            }
            DataDrop { data_index } => {
                let data = self.b.ins().iconst(I32, i64::from(*data_index));
                self.call_builtin(Builtin::data_drop(), &[data]);
            }
            _ => return false,
        }
        true
    }

    /// An address, index or length operand as the builtins take it (an i64): a 32-bit one
    /// (`is_64` false) zero-extended, a 64-bit one as it is.
    pub(super) fn widen_from(&mut self, is_64: bool, v: Value) -> Value {
        if is_64 {
            v
        } else {
            self.b.ins().uextend(I64, v)
        }
    }

    /// A size or old size the builtins give as an i64, as wasm's i32 (`is_64` false, truncated)
    /// or i64.
    pub(super) fn narrow_to(&mut self, is_64: bool, v: Value) -> Value {
        if is_64 {
            v
        } else {
            self.b.ins().ireduce(I32, v)
        }
    }

    /// The address of an `access_size`-byte access at wasm address `index` (an i32, or an i64
    /// for a 64-bit memory) plus the static offset of `memarg`, as a base value and an immediate
    /// offset.
    pub(super) fn heap_address(
        &mut self,
        memarg: &MemArg,
        access_size: u64,
        index: Value,
    ) -> (Value, i32) {
        let MemArgTarget::Memory(mem) = memarg.target else {
            panic!("validated: GC array targets are not WebAssembly 2.0");
        };
        if self.env.bounds_checks[mem as usize] == bounds_check::EXPLICIT {
            let index = self.widen_from(self.env.module.memory_is_64(mem), index);
            return (
                self.checked_heap_address(mem, memarg.offset, access_size, index),
                0,
            );
        }
        let index = self.b.ins().uextend(I64, index);
        let base = self.env.memory_base(&mut self.b, mem);
        let end = memarg.offset + access_size;
        let addr = self.b.ins().iadd(base, index);
        if end <= MEMORY_GUARD {
            // Why it fits: `offset < end <= MEMORY_GUARD = 2^31`.
            (addr, memarg.offset as i32)
        } else {
            let len = self.env.memory_length(&mut self.b, mem);
            // Why no overflow: a 32-bit index plus a 32-bit offset plus 16 fit in 64 bits.
            let index_end = self.b.ins().iadd_imm_u(index, end as i64);
            let oob = self
                .b
                .ins()
                .icmp(IntCC::UnsignedGreaterThan, index_end, len);
            self.b
                .ins()
                .trapnz(oob, trap_code(TrapKind::MemoryOutOfBounds));
            let addr = self.b.ins().iadd_imm_u(addr, memarg.offset as i64);
            (addr, 0)
        }
    }

    /// The address of an `access_size`-byte access at `index` (an i64) plus `offset` in memory
    /// `mem`, checked against its current length (see the module documentation).
    fn checked_heap_address(
        &mut self,
        mem: u32,
        offset: u64,
        access_size: u64,
        index: Value,
    ) -> Value {
        let oob_code = trap_code(TrapKind::MemoryOutOfBounds);
        let end = offset.checked_add(access_size);
        // The declared minimum size is a lower bound on the length (memories never shrink, and
        // an import's minimum is met by the memory linked to it).
        let min_bytes = self.env.module.memories[mem as usize]
            .initial
            .saturating_mul(WASM_PAGE_SIZE);
        let oob = match end {
            // Why `index > length - end`: `end` fits in the minimum, so the subtraction cannot
            // wrap, and no addition can overflow: one comparison.
            Some(end) if end <= min_bytes => {
                let len = self.env.memory_length(&mut self.b, mem);
                let bound = self.b.ins().iadd_imm_u(len, (end as i64).wrapping_neg());
                self.b.ins().icmp(IntCC::UnsignedGreaterThan, index, bound)
            }
            // Otherwise `index + offset + size` is computed with overflow traps: an access whose
            // end does not fit in 64 bits is out of bounds of any memory.
            _ => {
                let index_end = match end {
                    Some(end) => {
                        let end = self.b.ins().iconst(I64, end as i64);
                        self.b.ins().uadd_overflow_trap(index, end, oob_code)
                    }
                    None => {
                        let offset = self.b.ins().iconst(I64, offset as i64);
                        let at = self.b.ins().uadd_overflow_trap(index, offset, oob_code);
                        let size = self.b.ins().iconst(I64, access_size as i64);
                        self.b.ins().uadd_overflow_trap(at, size, oob_code)
                    }
                };
                let len = self.env.memory_length(&mut self.b, mem);
                self.b
                    .ins()
                    .icmp(IntCC::UnsignedGreaterThan, index_end, len)
            }
        };
        let base = self.env.memory_base(&mut self.b, mem);
        let addr = self.b.ins().iadd(base, index);
        let addr = if offset == 0 {
            addr
        } else {
            self.b.ins().iadd_imm_u(addr, offset as i64)
        };
        if self.env.isa.flags().enable_heap_access_spectre_mitigation() {
            let null = self.b.ins().iconst(I64, 0);
            self.b.ins().select_spectre_guard(oob, null, addr)
        } else {
            self.b.ins().trapnz(oob, oob_code);
            addr
        }
    }

    fn load(&mut self, memarg: &MemArg, ty: Type, kind: LoadKind) {
        let size = match kind {
            LoadKind::Full => u64::from(ty.bytes()),
            LoadKind::Zext(n) | LoadKind::Sext(n) => u64::from(n),
        };
        let index = self.state.pop();
        let (addr, offset) = self.heap_address(memarg, size, index);
        let flags = self.env.heap_flags();
        let ins = self.b.ins();
        let v = match kind {
            LoadKind::Full => ins.load(ty, flags, addr, offset),
            LoadKind::Zext(1) => ins.uload8(ty, flags, addr, offset),
            LoadKind::Sext(1) => ins.sload8(ty, flags, addr, offset),
            LoadKind::Zext(2) => ins.uload16(ty, flags, addr, offset),
            LoadKind::Sext(2) => ins.sload16(ty, flags, addr, offset),
            LoadKind::Zext(_) => ins.uload32(flags, addr, offset),
            LoadKind::Sext(_) => ins.sload32(flags, addr, offset),
        };
        self.state.push(v);
    }

    /// Stores the low `size` bytes of the top value.
    fn store(&mut self, memarg: &MemArg, size: u8) {
        let (index, value) = self.state.pop2();
        let (addr, offset) = self.heap_address(memarg, u64::from(size), index);
        let flags = self.env.heap_flags();
        let value_bytes = self.b.func.dfg.value_type(value).bytes();
        let ins = self.b.ins();
        if u32::from(size) == value_bytes {
            ins.store(flags, value, addr, offset);
        } else {
            match size {
                1 => ins.istore8(flags, value, addr, offset),
                2 => ins.istore16(flags, value, addr, offset),
                _ => ins.istore32(flags, value, addr, offset),
            };
        }
    }
}
