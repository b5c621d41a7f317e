//! Exception handling: `throw`, `throw_ref`, `try_table`, and the calls inside a `try_table`.
//!
//! A `try_table`'s catch clauses become landing pads, one block per clause whose one parameter is
//! the exception object (Cranelift's exception payload 0). Every call made while a `try_table` is
//! open is a `try_call`/`try_call_indirect` whose exception table lists the handlers of all open
//! `try_table`s, innermost first and each in clause order (first match wins), plus the caller's
//! VMContext as the table's context, so the unwinder can compare tags in the catching instance.
//! Cranelift records each such call site with its handlers' code offsets; the emitter stores them
//! in the artifact's `CallSites` and `Handlers` tables, which the loader's unwinder reads in place.
//!
//! A handler's Cranelift tag encodes the catch clause ([`handler_tag`]): Cranelift does not
//! interpret tags, the loader does. A landing pad loads the payload values from the exception
//! object (at `EXN_PAYLOAD`, one value slot each) and, for `catch_ref`/`catch_all_ref`, passes
//! the object itself as the `exnref`, then branches to the clause's label.
//!
//! `throw` stores its payload in value slots on the stack and calls the `throw` builtin; `throw_ref`
//! calls `throw_ref`. Both builtins unwind and return only to report a failure, after which the
//! code traps. Inside a `try_table` the builtin call is itself a `try_call`, so an exception thrown
//! in the same function finds the handlers of that function.

use super::ir_type;
use super::state::{FrameKind, HandlerScope};
use super::translator::FuncTranslator;
use crate::trap_codes::trap_code;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::AbiParam;
use cranelift_codegen::ir::{
    self, BlockArg, BlockCall, ExceptionTableData, ExceptionTableItem, ExceptionTag, FuncRef,
    InstBuilder, MemFlagsData, SigRef, StackSlotData, StackSlotKind, Value,
};
use cranelift_codegen::isa::CallConv;
use kiln_format::builtins::{AbiType, STATUS_TRAP};
use kiln_format::tables::{CATCH_ALL, HANDLER_REF};
use kiln_format::vmctx::{EXN_PAYLOAD, VALUE_SLOT_SIZE};
use kiln_format::{Builtin, TrapKind};
use wasmparser::{Catch, Operator, TryTable};

/// The index [`handler_tag`] gives a catch-all handler: above every tag index (the validator
/// allows far fewer than 2^30 tags), and small enough that no encoded tag is `u32::MAX`, which
/// Cranelift reserves.
const CATCH_ALL_INDEX: u32 = u32::MAX >> 2;

/// The Cranelift tag of a handler: the module's tag index (or [`CATCH_ALL_INDEX`]) shifted left
/// once, with [`HANDLER_REF`] in bit 0; [`decode_handler_tag`] reverses it.
pub fn handler_tag(tag: Option<u32>, is_ref: bool) -> u32 {
    let index = tag.unwrap_or(CATCH_ALL_INDEX).min(CATCH_ALL_INDEX);
    (index << 1) | u32::from(is_ref)
}

/// The artifact's `(tag, flags)` of a handler's Cranelift tag (see [`handler_tag`]).
pub fn decode_handler_tag(encoded: u32) -> (u32, u8) {
    let index = encoded >> 1;
    let tag = if index == CATCH_ALL_INDEX {
        CATCH_ALL
    } else {
        index
    };
    let flags = if encoded & 1 != 0 { HANDLER_REF } else { 0 };
    (tag, flags)
}

/// What a call calls.
#[derive(Clone, Copy)]
pub enum Callee {
    /// A function the compiler resolves (a defined function).
    Direct(FuncRef),
    /// Code at an address, with a signature.
    Indirect(SigRef, Value),
}

impl FuncTranslator<'_, '_> {
    /// Translates an exception operator; false if `op` is not one.
    pub fn translate_exception(&mut self, op: &Operator) -> bool {
        match op {
            Operator::Throw { tag_index } => self.translate_throw(*tag_index),
            Operator::ThrowRef => {
                let exn = self.state.pop();
                self.call_throw_builtin(Builtin::throw_ref(), &[exn]);
            }
            Operator::TryTable { try_table } => self.open_try_table(try_table),
            _ => return false,
        }
        true
    }

    /// Whether calls here have exception handlers.
    pub fn in_try_table(&self) -> bool {
        !self.state.handlers.is_empty()
    }

    /// Emits a call of `callee` with `args`: a plain call outside any `try_table`, else a
    /// `try_call` with the open handlers, continuing in its normal-return block. Returns the
    /// call's results.
    pub fn emit_call(&mut self, callee: Callee, args: &[Value]) -> Vec<Value> {
        if !self.in_try_table() {
            let call = match callee {
                Callee::Direct(f) => self.b.ins().call(f, args),
                Callee::Indirect(sig, code) => self.b.ins().call_indirect(sig, code, args),
            };
            return self.b.inst_results(call).to_vec();
        }
        let sig = match callee {
            Callee::Direct(f) => self.b.func.dfg.ext_funcs[f].signature,
            Callee::Indirect(sig, _) => sig,
        };
        let returns: Vec<ir::Type> = self.b.func.dfg.signatures[sig]
            .returns
            .iter()
            .map(|r| r.value_type)
            .collect();
        let normal = self.new_block_with_params(&returns);
        let pool = &mut self.b.func.dfg.value_lists;
        let ret_args = (0..returns.len() as u32).map(BlockArg::TryCallRet);
        let normal_return = BlockCall::new(normal, ret_args, pool);
        let mut items = vec![ExceptionTableItem::Context(self.env.vmctx)];
        for scope in self.state.handlers.iter().rev() {
            for &(tag, landing) in &scope.catches {
                let to_pad = BlockCall::new(landing, [BlockArg::TryCallExn(0)], pool);
                items.push(ExceptionTableItem::Tag(ExceptionTag::from_u32(tag), to_pad));
            }
        }
        let table = ExceptionTableData::new(sig, normal_return, items);
        let table = self.b.func.dfg.exception_tables.push(table);
        match callee {
            Callee::Direct(f) => self.b.ins().try_call(f, args, table),
            Callee::Indirect(_, code) => self.b.ins().try_call_indirect(code, args, table),
        };
        self.b.seal_block(normal);
        self.b.switch_to_block(normal);
        self.b.block_params(normal).to_vec()
    }

    /// `throw`: the payload goes to value slots on the stack for the `throw` builtin.
    fn translate_throw(&mut self, tag: u32) {
        let ty = self.env.module.tags[tag as usize];
        let n = self.env.module.func_type_at(ty).params().len();
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            n.max(1) as u32 * VALUE_SLOT_SIZE,
            4,
        ));
        let values = self.state.peekn(n).to_vec();
        self.state.popn(n);
        for (i, v) in values.into_iter().enumerate() {
            self.b
                .ins()
                .stack_store(I64, v, slot, (i as u32 * VALUE_SLOT_SIZE) as i32);
        }
        let addr = self.b.ins().stack_addr(I64, slot, 0);
        let tag = self.b.ins().iconst(I32, i64::from(tag));
        self.call_throw_builtin(Builtin::throw(), &[tag, addr]);
    }

    /// Calls a builtin that unwinds (`throw`, `throw_ref`); if it returns, it failed, and the
    /// code traps with the kind its status gives. Nothing after it is reachable.
    ///
    /// Inside a `try_table` the call is a `try_call` declared with Cranelift's `preserve_all`
    /// convention and no result: Cranelift assumes that the callee-saved registers of a
    /// `system_v` callee survive the exceptional edge (an unwinder that restores them), while
    /// across a `preserve_all` (or `tail`) `try_call` it keeps nothing in registers for the
    /// landing pads, which is what Kiln's resume stub gives. The arguments are passed as for the
    /// C convention. Since the builtin is really a C function it clobbers the caller-saved
    /// registers when it returns, so nothing may follow a normal return but a trap: the
    /// builtin returns only on failure (a host error, which it records; `throw_ref`'s null
    /// check is done here first).
    fn call_throw_builtin(&mut self, builtin: Builtin, args: &[Value]) {
        self.before_leaving();
        if builtin == Builtin::throw_ref() {
            self.b
                .ins()
                .trapz(args[0], trap_code(TrapKind::NullReference));
        }
        if self.in_try_table() {
            let mut sig = ir::Signature::new(CallConv::PreserveAll);
            sig.params.push(AbiParam::new(I64));
            for p in builtin.signature().params {
                sig.params.push(match p {
                    AbiType::U32 => AbiParam::new(I32).uext(),
                    AbiType::U64 => AbiParam::new(I64),
                });
            }
            let sig = self.b.import_signature(sig);
            let (_, callee) = self.env.builtin_callee(&mut self.b, builtin);
            let args = self.env.builtin_args(args);
            self.emit_call(Callee::Indirect(sig, callee), &args);
            self.b.ins().trap(trap_code(TrapKind::HostError));
            self.state.reachable = false;
            return;
        }
        let (sig, callee) = self.env.builtin_callee(&mut self.b, builtin);
        let args = self.env.builtin_args(args);
        let results = self.emit_call(Callee::Indirect(sig, callee), &args);
        let status = results[0];
        let own_kind = self
            .b
            .ins()
            .icmp_imm_u(IntCC::Equal, status, i64::from(STATUS_TRAP));
        let kind = builtin.trap_kind().unwrap_or(TrapKind::HostError);
        self.b.ins().trapnz(own_kind, trap_code(kind));
        self.b.ins().trap(trap_code(TrapKind::HostError));
        self.state.reachable = false;
    }

    /// `try_table`: landing pads for its clauses (their labels are outside it), then its body
    /// in a new block with the handlers open.
    fn open_try_table(&mut self, try_table: &TryTable) {
        let (params, results) = self.block_signature(try_table.ty);
        let mut catches = Vec::with_capacity(try_table.catches.len());
        let mut pads = Vec::with_capacity(try_table.catches.len());
        for catch in &try_table.catches {
            let (tag, is_ref, label) = match *catch {
                Catch::One { tag, label } => (Some(tag), false, label),
                Catch::OneRef { tag, label } => (Some(tag), true, label),
                Catch::All { label } => (None, false, label),
                Catch::AllRef { label } => (None, true, label),
            };
            let (target, _) = self.state.frame_at(label).branch_target();
            let landing = self.new_block_with_params(&[I64]);
            catches.push((handler_tag(tag, is_ref), landing));
            pads.push((landing, tag, is_ref, target));
        }
        // Why a new block: the landing pads are built now, and the current block must be
        // finished before switching away from it.
        let body = self.b.create_block();
        self.b.ins().jump(body, &[]);
        self.b.seal_block(body);
        let landings = pads.iter().map(|p| p.0).collect();
        for (landing, tag, is_ref, target) in pads {
            self.b.switch_to_block(landing);
            let exn = self.b.block_params(landing)[0];
            // Why: control arrives here from a call, like a normal return.
            self.after_call();
            let mut args = Vec::new();
            if let Some(tag) = tag {
                let ty = self
                    .env
                    .module
                    .func_type_at(self.env.module.tags[tag as usize]);
                let flags = MemFlagsData::trusted();
                for (i, t) in ty.params().iter().enumerate() {
                    let offset = EXN_PAYLOAD + i as u32 * VALUE_SLOT_SIZE;
                    args.push(self.b.ins().load(ir_type(*t), flags, exn, offset as i32));
                }
            }
            if is_ref {
                args.push(exn);
            }
            self.b
                .ins()
                .jump(target, &super::ops_control::block_args(&args));
        }
        self.b.switch_to_block(body);
        let next = self.new_block_with_params(&results);
        self.push_frame(
            FrameKind::TryTable { landings },
            next,
            params.len(),
            results.len(),
        );
        self.state.handlers.push(HandlerScope { catches });
    }
}
