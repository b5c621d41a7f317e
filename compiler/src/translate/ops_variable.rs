//! Variable access and the parametric operators: `local.*`, `global.*`, `drop`, `select`.
//!
//! Locals are Cranelift variables (the frontend builds SSA form for them); globals live in
//! 16-byte slots reached through the VMContext, value at offset 0 in native byte order.

use super::ir_type;
use super::translator::FuncTranslator;
use cranelift_codegen::ir::InstBuilder;
use wasmparser::Operator;

impl FuncTranslator<'_, '_> {
    /// Translates a variable or parametric operator; false if `op` is not one.
    pub fn translate_variable(&mut self, op: &Operator) -> bool {
        match op {
            Operator::LocalGet { local_index } => {
                let v = self.b.use_var(self.locals[*local_index as usize]);
                self.state.push(v);
            }
            Operator::LocalSet { local_index } => {
                let v = self.state.pop();
                self.b.def_var(self.locals[*local_index as usize], v);
            }
            Operator::LocalTee { local_index } => {
                let v = *self.state.peekn(1).first().expect("validated: operand");
                self.b.def_var(self.locals[*local_index as usize], v);
            }
            Operator::GlobalGet { global_index } => self.global_get(*global_index),
            Operator::GlobalSet { global_index } => {
                let v = self.state.pop();
                let (base, offset) = self.env.global_location(&mut self.b, *global_index);
                let flags = self.env.vmctx_flags();
                self.b.ins().store(flags, v, base, offset);
            }
            Operator::Drop => {
                self.state.pop();
            }
            Operator::Select | Operator::TypedSelect { .. } => {
                let (x, y, cond) = self.state.pop3();
                let v = self.b.ins().select(cond, x, y);
                self.state.push(v);
            }
            _ => return false,
        }
        true
    }

    fn global_get(&mut self, global: u32) {
        let ty = self.env.module.globals[global as usize].ty;
        let (base, offset) = self.env.global_location(&mut self.b, global);
        // Why: an immutable global is set before any guest code runs and never again, so its
        // load may be deduplicated and hoisted like any constant VMContext field.
        let flags = if ty.mutable {
            self.env.vmctx_flags()
        } else {
            self.env.readonly_flags()
        };
        let v = self
            .b
            .ins()
            .load(ir_type(ty.content_type), flags, base, offset);
        self.state.push(v);
    }
}
