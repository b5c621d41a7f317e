//! Epoch interruption (`CompileOptions::epoch_interruption`), with Wasmtime's semantics.
//!
//! At function entries and loop headers the code reads the engine's epoch counter and, once it
//! has reached the store's deadline, calls the `epoch_interrupt` builtin, which traps with
//! `Interrupt` or sets a new deadline and lets the code go on. Checking at every function entry
//! as well as every loop header bounds the time between checks by the length of straight-line
//! code: a tree of calls without loops can otherwise run exponentially long.
//!
//! The deadline only changes while the code is in a call (the host sets it), so the function
//! keeps it in a variable, loaded at entry and reloaded after every call.

use super::translator::FuncTranslator;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::Variable;
use kiln_format::vmctx::{STORE_EPOCH_COUNTER, STORE_EPOCH_DEADLINE};
use kiln_format::Builtin;

/// The epoch interruption state of the function being translated.
pub struct Epoch {
    /// The function's copy of `VMStoreContext::epoch_deadline`.
    deadline: Variable,
    /// The address of the engine's epoch counter (fixed for the store's life), loaded at entry.
    counter: Value,
}

impl FuncTranslator<'_, '_> {
    /// Starts epoch checks at the function's entry: loads the counter's address and the deadline,
    /// and checks.
    pub fn epoch_function_entry(&mut self) {
        let deadline = self.b.declare_var(types::I64);
        let store = self.env.store_context(&mut self.b);
        let counter = self.b.ins().load(
            types::I64,
            self.env.readonly_flags(),
            store,
            STORE_EPOCH_COUNTER as i32,
        );
        self.epoch = Some(Epoch { deadline, counter });
        self.epoch_reload_deadline();
        self.epoch_check();
    }

    /// Loads the deadline variable from the `VMStoreContext` (at entry, and after a call, during
    /// which the host may have moved it).
    pub fn epoch_reload_deadline(&mut self) {
        let Some(epoch) = &self.epoch else { return };
        let var = epoch.deadline;
        let store = self.env.store_context(&mut self.b);
        let deadline = self.b.ins().load(
            types::I64,
            self.env.store_flags(),
            store,
            STORE_EPOCH_DEADLINE as i32,
        );
        self.b.def_var(var, deadline);
    }

    /// Calls `epoch_interrupt` if the epoch has reached the deadline. The call is on a cold path,
    /// through the builtin's preserve-all stub so that it clobbers no register of the hot path;
    /// `call_builtin_stub` reloads the deadline after it.
    pub fn epoch_check(&mut self) {
        let Some(epoch) = &self.epoch else { return };
        let (var, counter) = (epoch.deadline, epoch.counter);
        let current = self
            .b
            .ins()
            .load(types::I64, self.env.epoch_counter_flags(), counter, 0);
        let deadline = self.b.use_var(var);
        let reached = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, current, deadline);
        let interrupt = self.b.create_block();
        let go_on = self.b.create_block();
        self.b.set_cold_block(interrupt);
        self.b.ins().brif(reached, interrupt, &[], go_on, &[]);
        self.b.seal_block(interrupt);

        self.b.switch_to_block(interrupt);
        self.call_builtin_stub(Builtin::epoch_interrupt(), &[]);
        self.b.ins().jump(go_on, &[]);
        self.b.seal_block(go_on);

        self.b.switch_to_block(go_on);
    }
}
