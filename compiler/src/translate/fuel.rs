//! Fuel metering (`CompileOptions::fuel`), with Wasmtime's semantics.
//!
//! `VMStoreContext::fuel_consumed` counts fuel consumed minus fuel given, so it is negative while
//! fuel is left. A function keeps it in a variable: loaded at entry and after every call, written
//! back before every call, return and `unreachable` (the points where the host or another
//! function may look at it).
//!
//! Operator costs are added up at translation time over each straight-line run of code and added
//! to the variable with one `iadd` where the run ends (a branch, a block boundary, a call).
//! Function entries and loop headers trap with `OutOfFuel` once the counter is no longer
//! negative, so that no loop or chain of calls runs unmetered for long; straight-line code in
//! between runs to its next check even if it overspends.

use super::translator::FuncTranslator;
use crate::trap_codes::trap_code;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder};
use cranelift_frontend::Variable;
use kiln_format::vmctx::STORE_FUEL_CONSUMED;
use kiln_format::TrapKind;
use wasmparser::Operator;

/// What calling a function costs on top of its operators, charged at its entry (as Wasmtime
/// does): even an empty function consumes fuel.
const FUNCTION_ENTRY_COST: i64 = 1;

/// The fuel metering state of the function being translated.
pub struct Fuel {
    /// The function's copy of `VMStoreContext::fuel_consumed`.
    var: Variable,
    /// The cost of the operators translated since `var` was last updated.
    pending: i64,
}

/// The fuel cost of `op`: Wasmtime's default table. Operators that generate no code or only
/// structure control flow are free; `if` is not, for its test.
pub fn operator_cost(op: &Operator) -> i64 {
    match op {
        Operator::Nop
        | Operator::Drop
        | Operator::Block { .. }
        | Operator::Loop { .. }
        | Operator::Unreachable
        | Operator::Return
        | Operator::Else
        | Operator::End => 0,
        _ => 1,
    }
}

/// Whether the straight-line run of code ends at `op`, so that its cost must be in the variable
/// before `op` is translated: `op` branches, or control reaches the code after it another way
/// too. Calls, returns and `unreachable` write the variable back anyway (`fuel_save`).
fn ends_run(op: &Operator) -> bool {
    matches!(
        op,
        // Why `loop`: code before the loop is charged once, not on every iteration.
        Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::End
            | Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
    )
}

impl FuncTranslator<'_, '_> {
    /// Starts metering at the function's entry: loads the counter, charges the call and checks.
    pub fn fuel_function_entry(&mut self) {
        let var = self.b.declare_var(types::I64);
        self.fuel = Some(Fuel {
            var,
            pending: FUNCTION_ENTRY_COST,
        });
        self.fuel_reload();
        self.fuel_check();
    }

    /// Charges `op`, about to be translated at a reachable position.
    pub fn fuel_before_operator(&mut self, op: &Operator) {
        let Some(fuel) = &mut self.fuel else { return };
        fuel.pending += operator_cost(op);
        if ends_run(op) {
            self.fuel_commit();
        }
    }

    /// Adds the pending cost to the variable.
    fn fuel_commit(&mut self) {
        let Some(fuel) = &mut self.fuel else { return };
        let cost = std::mem::take(&mut fuel.pending);
        if cost != 0 {
            let consumed = self.b.use_var(fuel.var);
            let consumed = self.b.ins().iadd_imm_s(consumed, cost);
            self.b.def_var(fuel.var, consumed);
        }
    }

    /// Commits the pending cost and writes the variable back to the `VMStoreContext`.
    pub fn fuel_save(&mut self) {
        self.fuel_commit();
        let Some(fuel) = &self.fuel else { return };
        let consumed = self.b.use_var(fuel.var);
        let store = self.env.store_context(&mut self.b);
        self.b.ins().store(
            self.env.store_flags(),
            consumed,
            store,
            STORE_FUEL_CONSUMED as i32,
        );
    }

    /// Loads the variable from the `VMStoreContext` (at entry, and after a call, which may have
    /// consumed fuel or, through the host, added some).
    pub fn fuel_reload(&mut self) {
        let Some(fuel) = &self.fuel else { return };
        let var = fuel.var;
        let store = self.env.store_context(&mut self.b);
        let consumed = self.b.ins().load(
            types::I64,
            self.env.store_flags(),
            store,
            STORE_FUEL_CONSUMED as i32,
        );
        self.b.def_var(var, consumed);
    }

    /// Traps with `OutOfFuel` if no fuel is left, after writing the counter back so that the
    /// host sees what was consumed. The trap is on a cold path, so the common case costs a
    /// compare and a branch.
    pub fn fuel_check(&mut self) {
        self.fuel_commit();
        let Some(fuel) = &self.fuel else { return };
        let consumed = self.b.use_var(fuel.var);
        let exhausted = self
            .b
            .ins()
            .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, consumed, 0);
        let out_of_fuel = self.b.create_block();
        let go_on = self.b.create_block();
        self.b.set_cold_block(out_of_fuel);
        self.b.ins().brif(exhausted, out_of_fuel, &[], go_on, &[]);
        self.b.seal_block(out_of_fuel);
        self.b.seal_block(go_on);

        self.b.switch_to_block(out_of_fuel);
        self.fuel_save();
        self.b.ins().trap(trap_code(TrapKind::OutOfFuel));

        self.b.switch_to_block(go_on);
    }
}
