//! Tables and references: `table.*`, `elem.drop`, `ref.null`, `ref.is_null`, `ref.func`.
//!
//! A reference is an i64: a `funcref` points to a `VMFuncRef`, an `externref` is an opaque
//! handle, and 0 is null for both. Table elements are such 8-byte values in an array described by
//! the table's `VMTableDef`; growing a table may move the array, so its base is reloaded per access.

use super::translator::FuncTranslator;
use crate::trap_codes::trap_code;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{InstBuilder, Value};
use kiln_format::vmctx::TABLE_ELEM_SIZE;
use kiln_format::Builtin;
use kiln_format::TrapKind;
use wasmparser::Operator;

impl FuncTranslator<'_, '_> {
    /// Translates a table or reference operator; false if `op` is not one.
    pub fn translate_table(&mut self, op: &Operator) -> bool {
        match op {
            Operator::TableGet { table } => {
                let index = self.state.pop();
                let addr = self.table_element_address(*table, index);
                let flags = self.env.table_flags();
                let v = self.b.ins().load(I64, flags, addr, 0);
                self.state.push(v);
            }
            Operator::TableSet { table } => {
                let (index, value) = self.state.pop2();
                let addr = self.table_element_address(*table, index);
                let flags = self.env.table_flags();
                self.b.ins().store(flags, value, addr, 0);
            }
            Operator::TableSize { table } => {
                let def = self.env.table_def(&mut self.b, *table);
                let len = self.env.table_length(&mut self.b, def);
                let len = self.narrow_to(self.env.module.table_is_64(*table), len);
                self.state.push(len);
            }
            Operator::TableGrow { table } => {
                let is_64 = self.env.module.table_is_64(*table);
                let (init, delta) = self.state.pop2();
                let table = self.b.ins().iconst(I32, i64::from(*table));
                let delta = self.widen_from(is_64, delta);
                let old = self.call_builtin_value(Builtin::table_grow(), &[table, init, delta]);
                // Why a plain truncation for 32-bit tables: their sizes fit in 32 bits, and
                // failure (`u64::MAX`) truncates to wasm's -1 (and is -1 as an i64).
                let old = self.narrow_to(is_64, old);
                self.state.push(old);
            }
            Operator::TableFill { table } => {
                let is_64 = self.env.module.table_is_64(*table);
                let (dst, value, len) = self.state.pop3();
                let table = self.b.ins().iconst(I32, i64::from(*table));
                let dst = self.widen_from(is_64, dst);
                let len = self.widen_from(is_64, len);
                self.call_builtin(Builtin::table_fill(), &[table, dst, value, len]);
            }
            Operator::TableCopy {
                dst_table,
                src_table,
            } => {
                let dst_64 = self.env.module.table_is_64(*dst_table);
                let src_64 = self.env.module.table_is_64(*src_table);
                let (dst, src, len) = self.state.pop3();
                let dst_table = self.b.ins().iconst(I32, i64::from(*dst_table));
                let src_table = self.b.ins().iconst(I32, i64::from(*src_table));
                let dst = self.widen_from(dst_64, dst);
                let src = self.widen_from(src_64, src);
                // The length has the smaller of the two index types, as for `memory.copy`.
                let len = self.widen_from(dst_64 && src_64, len);
                self.call_builtin(
                    Builtin::table_copy(),
                    &[dst_table, src_table, dst, src, len],
                );
            }
            Operator::TableInit { elem_index, table } => {
                let is_64 = self.env.module.table_is_64(*table);
                let (dst, src, len) = self.state.pop3();
                let table = self.b.ins().iconst(I32, i64::from(*table));
                let elem = self.b.ins().iconst(I32, i64::from(*elem_index));
                // Only the destination has the table's index type; `src` and `len` are i32.
                let dst = self.widen_from(is_64, dst);
                self.call_builtin(Builtin::table_init(), &[table, elem, dst, src, len]);
            }
            Operator::ElemDrop { elem_index } => {
                let elem = self.b.ins().iconst(I32, i64::from(*elem_index));
                self.call_builtin(Builtin::elem_drop(), &[elem]);
            }
            Operator::RefNull { .. } => {
                let v = self.b.ins().iconst(I64, 0);
                self.state.push(v);
            }
            Operator::RefAsNonNull => {
                let r = self.state.pop();
                self.before_leaving();
                self.b.ins().trapz(r, trap_code(TrapKind::NullReference));
                self.state.push(r);
            }
            Operator::RefIsNull => {
                let r = self.state.pop();
                let c = self.b.ins().icmp_imm_u(IntCC::Equal, r, 0);
                let c = self.b.ins().uextend(I32, c);
                self.state.push(c);
            }
            Operator::RefFunc { function_index } => {
                // Why no load: a function's reference is the address of its `VMFuncRef` in our
                // VMContext. Validation allows `ref.func` only on functions that have one (see
                // `ModuleInfo::func_refs`); were one missing, the operator is reported
                // unsupported rather than miscompiled.
                let slot = self.env.module.func_ref_slots[*function_index as usize];
                if slot == kiln_format::tables::NO_FUNC_REF {
                    return false;
                }
                let offset = self.env.layout.func_ref(slot).offset();
                let v = self.b.ins().iadd_imm_u(self.env.vmctx, i64::from(offset));
                self.state.push(v);
            }
            _ => return false,
        }
        true
    }

    /// The address of element `index` (an i32, or an i64 for a 64-bit table) of table `table`,
    /// trapping if it is out of bounds.
    pub fn table_element_address(&mut self, table: u32, index: Value) -> Value {
        let def = self.env.table_def(&mut self.b, table);
        let len = self.env.table_length(&mut self.b, def);
        let index = self.widen_from(self.env.module.table_is_64(table), index);
        let oob = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
        self.b
            .ins()
            .trapnz(oob, trap_code(TrapKind::TableOutOfBounds));
        let base = self.env.table_base(&mut self.b, def);
        let offset = self.b.ins().imul_imm_u(index, i64::from(TABLE_ELEM_SIZE));
        self.b.ins().iadd(base, offset)
    }
}
