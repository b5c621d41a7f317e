//! Calls: `call`, `call_indirect`, their tail-call forms `return_call` and
//! `return_call_indirect`, and the builtin calls other operators make.
//!
//! Every wasm function takes `(callee_vmctx, caller_vmctx, params...)`. A defined function is
//! called directly (a colocated relocation the compiler resolves itself); an imported one through
//! its `VMFuncRef` in our VMContext; `call_indirect` through a table element after checking it is
//! in bounds, non-null and of the expected canonical type.
//!
//! A tail call is Cranelift's `return_call`/`return_call_indirect`: every wasm function, host
//! adapters included, uses the `tail` calling convention ([`super::WASM_CALL_CONV`]), in which
//! the callee pops its own stack arguments, so the caller's frame is replaced and any number of
//! tail calls in a row run in constant stack. Whatever the callee is (defined, imported from
//! another instance, a host function's adapter) it is reached as for a plain call.
//!
//! Inside a `try_table` a plain call is a `try_call` (see `ops_exceptions`); a tail call leaves
//! the function, and its `try_table`s with it, so it stays a `return_call`.
//!
//! Every call is bracketed by [`FuncTranslator::before_leaving`] and
//! [`FuncTranslator::after_call`], which write back and reload the fuel and epoch state the
//! function keeps in variables (see `fuel` and `epoch`).

use super::ops_exceptions::Callee;
use super::translator::FuncTranslator;
use crate::trap_codes::trap_code;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value};
use kiln_format::builtins::BuiltinResult;
use kiln_format::vmctx::{FUNCREF_CODE, FUNCREF_TYPE_ID, FUNCREF_VMCTX};
use kiln_format::{Builtin, TrapKind};
use wasmparser::Operator;

impl FuncTranslator<'_, '_> {
    /// Translates a call operator; false if `op` is not one.
    pub fn translate_call(&mut self, op: &Operator) -> bool {
        match op {
            Operator::Call { function_index } => self.call(*function_index, CallKind::Plain),
            Operator::CallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(*type_index, *table_index, CallKind::Plain),
            Operator::ReturnCall { function_index } => self.call(*function_index, CallKind::Tail),
            Operator::ReturnCallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(*type_index, *table_index, CallKind::Tail),
            Operator::CallRef { type_index } => self.call_ref(*type_index, CallKind::Plain),
            Operator::ReturnCallRef { type_index } => self.call_ref(*type_index, CallKind::Tail),
            _ => return false,
        }
        true
    }

    /// The call arguments for a callee of type `type_index` running in `callee_vmctx`: the two
    /// VMContexts, then the wasm arguments, which are popped.
    fn call_args(&mut self, type_index: u32, callee_vmctx: Value) -> Vec<Value> {
        let n = self.env.module.func_type_at(type_index).params().len();
        let mut args = Vec::with_capacity(n + 2);
        args.push(callee_vmctx);
        args.push(self.env.vmctx);
        args.extend_from_slice(self.state.peekn(n));
        self.state.popn(n);
        args
    }

    /// Finishes a call: a plain call reloads the state the callee may have changed and pushes
    /// its results; after a tail call nothing of this function runs.
    fn finish_call(&mut self, results: Option<Vec<Value>>) {
        match results {
            Some(results) => {
                self.after_call();
                self.state.extend(&results);
            }
            None => self.state.reachable = false,
        }
    }

    /// Calls `builtin` (see [`super::env::Env::call_builtin`]) with the fuel and epoch state
    /// saved before and reloaded after: builtins reach the host, which may read or change them.
    pub fn call_builtin(&mut self, builtin: Builtin, args: &[Value]) -> Option<Value> {
        self.before_leaving();
        let result = self.env.call_builtin(&mut self.b, builtin, args);
        self.after_call();
        result
    }

    /// Calls `builtin` through its preserve-all stub, with the same fuel and epoch state handling
    /// as [`FuncTranslator::call_builtin`]. Only for `codegen::cold_builtins`.
    pub fn call_builtin_stub(&mut self, builtin: Builtin, args: &[Value]) {
        self.before_leaving();
        self.env.call_builtin_stub(&mut self.b, builtin, args);
        self.after_call();
    }

    /// Calls a builtin that returns a value (see [`FuncTranslator::call_builtin`]).
    pub fn call_builtin_value(&mut self, builtin: Builtin, args: &[Value]) -> Value {
        debug_assert!(matches!(
            builtin.signature().result,
            BuiltinResult::Value(_) | BuiltinResult::Grow
        ));
        self.call_builtin(builtin, args)
            .expect("the builtin list gives this builtin a result")
    }

    fn call(&mut self, func: u32, kind: CallKind) {
        self.before_leaving();
        let type_index = self.env.module.funcs[func as usize];
        let results = if self.env.module.is_imported_func(func) {
            let (code, callee_vmctx) = self.env.func_ref_code_and_vmctx(&mut self.b, func);
            self.call_code(type_index, code, callee_vmctx, kind)
        } else {
            let callee = self.env.direct_func(&mut self.b, func);
            let args = self.call_args(type_index, self.env.vmctx);
            match kind {
                CallKind::Plain => Some(self.emit_call(Callee::Direct(callee), &args)),
                CallKind::Tail => {
                    self.b.ins().return_call(callee, &args);
                    None
                }
            }
        };
        self.finish_call(results);
    }

    /// Calls the code at `code` of type `type_index` with callee VMContext `callee_vmctx`; the
    /// results of a plain call, `None` after a tail call.
    fn call_code(
        &mut self,
        type_index: u32,
        code: Value,
        callee_vmctx: Value,
        kind: CallKind,
    ) -> Option<Vec<Value>> {
        let sig = self.env.wasm_sig(&mut self.b, type_index);
        let args = self.call_args(type_index, callee_vmctx);
        match kind {
            CallKind::Plain => Some(self.emit_call(Callee::Indirect(sig, code), &args)),
            CallKind::Tail => {
                self.b.ins().return_call_indirect(sig, code, &args);
                None
            }
        }
    }

    fn call_indirect(&mut self, type_index: u32, table: u32, kind: CallKind) {
        // Why before the checks: the host then sees the fuel consumed if one of them traps.
        self.before_leaving();
        let index = self.state.pop();
        let addr = self.table_element_address(table, index);
        let flags = self.env.table_flags();
        let func_ref = self.b.ins().load(I64, flags, addr, 0);
        self.b
            .ins()
            .trapz(func_ref, trap_code(TrapKind::IndirectCallToNull));
        // Why readonly: a `VMFuncRef` never changes once a table can hold it.
        let flags = MemFlagsData::trusted().with_readonly();
        let actual = self
            .b
            .ins()
            .load(I32, flags, func_ref, FUNCREF_TYPE_ID as i32);
        let expected = self.env.type_id(&mut self.b, type_index);
        let mismatch = self.b.ins().icmp(IntCC::NotEqual, actual, expected);
        if self.env.module.types[type_index as usize].sub.is_final {
            // A final type has no subtypes: only its own id matches.
            self.b
                .ins()
                .trapnz(mismatch, trap_code(TrapKind::BadSignature));
        } else {
            // Any subtype matches: the registry decides, off the fast path.
            let slow = self.b.create_block();
            let matched = self.b.create_block();
            self.b.set_cold_block(slow);
            self.b.ins().brif(mismatch, slow, &[], matched, &[]);
            self.b.seal_block(slow);
            self.b.switch_to_block(slow);
            let is_subtype = self.call_builtin_value(Builtin::is_subtype(), &[actual, expected]);
            self.b
                .ins()
                .trapz(is_subtype, trap_code(TrapKind::BadSignature));
            self.b.ins().jump(matched, &[]);
            self.b.seal_block(matched);
            self.b.switch_to_block(matched);
        }
        self.call_func_ref(type_index, func_ref, kind);
    }

    /// `call_ref` / `return_call_ref`: validation guarantees the reference's type, so only null
    /// is checked.
    fn call_ref(&mut self, type_index: u32, kind: CallKind) {
        self.before_leaving();
        let func_ref = self.state.pop();
        self.b
            .ins()
            .trapz(func_ref, trap_code(TrapKind::NullFunctionReference));
        self.call_func_ref(type_index, func_ref, kind);
    }

    /// Calls the function of non-null `func_ref`, of type `type_index`.
    fn call_func_ref(&mut self, type_index: u32, func_ref: Value, kind: CallKind) {
        // Why readonly: a `VMFuncRef` never changes once a reference to it exists.
        let flags = MemFlagsData::trusted().with_readonly();
        let code = self.b.ins().load(I64, flags, func_ref, FUNCREF_CODE as i32);
        let callee_vmctx = self
            .b
            .ins()
            .load(I64, flags, func_ref, FUNCREF_VMCTX as i32);
        let results = self.call_code(type_index, code, callee_vmctx, kind);
        self.finish_call(results);
    }
}

/// Whether a call returns here (`call`) or replaces this function's frame (`return_call`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum CallKind {
    Plain,
    Tail,
}
