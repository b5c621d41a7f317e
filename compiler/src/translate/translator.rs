//! The driver of one function's translation: prologue (stack limit, entry block, locals, fuel and
//! epoch state), the operator loop, and dispatch of each operator to the `ops_*` module that
//! handles its kind.

use super::env::Env;
use super::epoch::Epoch;
use super::fuel::Fuel;
use super::ir_type;
use super::state::{ControlFrame, FrameKind, State};
use crate::error::CompileError;
use crate::options::CompileOptions;
use crate::parse::ModuleInfo;
use cranelift_codegen::ir::{self, types, GlobalValueData, InstBuilder, MemFlagsData, Value};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use kiln_format::vmctx::{STORE_STACK_LIMIT, VMCTX_STORE};
use wasmparser::{FunctionBody, Operator, ValType};

/// Translation state of one function: the IR builder, the environment and the wasm state.
pub struct FuncTranslator<'m, 'f> {
    /// Builds the Cranelift function.
    pub b: FunctionBuilder<'f>,
    /// VMContext access, signatures and callees.
    pub env: Env<'m>,
    /// Operand and control stacks.
    pub state: State,
    /// One variable per wasm local, parameters first.
    pub locals: Vec<Variable>,
    /// Fuel metering state, when compiling with fuel.
    pub fuel: Option<Fuel>,
    /// Epoch interruption state, when compiling with it.
    pub epoch: Option<Epoch>,
}

/// Translates `body` (defined function `func_index`) into `func`, instrumented as `options` say.
pub fn translate(
    module: &ModuleInfo,
    isa: &dyn TargetIsa,
    options: &CompileOptions,
    func_index: u32,
    body: &FunctionBody,
    func: &mut ir::Function,
) -> Result<(), CompileError> {
    let mut ctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut ctx);
    set_stack_limit(&mut b);

    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    // Why: nothing branches back to the entry block.
    b.seal_block(entry);
    let vmctx = b.block_params(entry)[0];

    let env = Env::new(module, isa, options, &mut b, vmctx);
    let mut t = FuncTranslator {
        b,
        env,
        state: State::new(),
        locals: Vec::new(),
        fuel: None,
        epoch: None,
    };
    t.declare_locals(func_index, body, entry)?;
    let mut reader = body.get_operators_reader()?;
    if options.fuel || options.epoch_interruption {
        // Why: the entry checks' traps then map to this function's first operator.
        t.b.set_srcloc(ir::SourceLoc::new(reader.original_position() as u32));
    }
    if options.fuel {
        t.fuel_function_entry();
    }
    if options.epoch_interruption {
        t.epoch_function_entry();
    }

    // The body is a block whose continuation returns the function's results.
    let results: Vec<ir::Type> = module
        .func_type(func_index)
        .results()
        .iter()
        .map(|t| ir_type(*t))
        .collect();
    let exit = t.new_block_with_params(&results);
    t.state.control.push(ControlFrame {
        kind: FrameKind::Block,
        next: exit,
        num_params: 0,
        num_results: results.len(),
        height: 0,
        exit_branched_to: false,
    });

    while !reader.eof() {
        let offset = reader.original_position();
        let op = reader.read()?;
        // Why: source locations carry the wasm byte offset, for trap and debug information.
        t.b.set_srcloc(ir::SourceLoc::new(offset as u32));
        t.translate_operator(&op)?;
    }
    reader.finish()?;
    debug_assert!(t.state.control.is_empty(), "body ends with its `end`");
    t.b.finalize(isa.frontend_config());
    Ok(())
}

/// Makes every prologue compare the stack pointer with the store's stack limit:
/// `load(load(vmctx + VMCTX_STORE) + STORE_STACK_LIMIT)`.
fn set_stack_limit(b: &mut FunctionBuilder) {
    let flags = b
        .func
        .dfg
        .mem_flags
        .insert(MemFlagsData::trusted())
        .expect("few memory flags");
    let vmctx = b.create_global_value(GlobalValueData::VMContext);
    let store = b.create_global_value(GlobalValueData::Load {
        base: vmctx,
        offset: (VMCTX_STORE as i32).into(),
        global_type: types::I64,
        flags,
    });
    let limit = b.create_global_value(GlobalValueData::Load {
        base: store,
        offset: (STORE_STACK_LIMIT as i32).into(),
        global_type: types::I64,
        flags,
    });
    b.func.stack_limit = Some(limit);
}

impl<'m, 'f> FuncTranslator<'m, 'f> {
    /// Declares a variable per parameter and local; parameters take the entry block's values
    /// (after the two VMContext parameters), other locals start at zero (null for references).
    fn declare_locals(
        &mut self,
        func_index: u32,
        body: &FunctionBody,
        entry: ir::Block,
    ) -> Result<(), CompileError> {
        self.check_v128_values(func_index, body)?;
        let params = self.env.module.func_type(func_index).params();
        for (i, ty) in params.iter().enumerate() {
            let var = self.b.declare_var(ir_type(*ty));
            let value = self.b.block_params(entry)[2 + i];
            self.b.def_var(var, value);
            self.locals.push(var);
        }
        // Why: one zero constant per type, shared by all locals of that type.
        let mut zeros: Vec<(ir::Type, Value)> = Vec::new();
        for local in body.get_locals_reader()? {
            let (count, ty) = local?;
            let ir_ty = ir_type(ty);
            let zero = match zeros.iter().find(|(t, _)| *t == ir_ty) {
                Some((_, v)) => *v,
                None => {
                    let v = self.zero_value(ty);
                    zeros.push((ir_ty, v));
                    v
                }
            };
            for _ in 0..count {
                let var = self.b.declare_var(ir_ty);
                self.b.def_var(var, zero);
                self.locals.push(var);
            }
        }
        Ok(())
    }

    /// The zero (or null) value of `ty`.
    fn zero_value(&mut self, ty: ValType) -> Value {
        match ty {
            ValType::I32 => self.b.ins().iconst(types::I32, 0),
            ValType::I64 | ValType::Ref(_) => self.b.ins().iconst(types::I64, 0),
            ValType::F32 => self.b.ins().f32const(0.0),
            ValType::F64 => self.b.ins().f64const(0.0),
            ValType::V128 => {
                let c = self.b.func.dfg.constants.insert(vec![0u8; 16].into());
                self.b.ins().vconst(types::I8X16, c)
            }
        }
    }

    /// Before control leaves the function's code (a call, a return, `unreachable`): writes the
    /// fuel counter back, for the callee or the host to see.
    pub fn before_leaving(&mut self) {
        self.fuel_save();
    }

    /// After a call returns: reloads the fuel counter and the epoch deadline, which the callee or
    /// the host may have changed.
    pub fn after_call(&mut self) {
        self.fuel_reload();
        self.epoch_reload_deadline();
    }

    /// At a loop header: traps if the fuel has run out, interrupts if the epoch deadline has
    /// passed (function entries check too, in `fuel_function_entry` and `epoch_function_entry`).
    pub fn check_fuel_and_epoch(&mut self) {
        self.fuel_check();
        self.epoch_check();
    }

    /// A new block with parameters of `types`.
    pub fn new_block_with_params(&mut self, types: &[ir::Type]) -> ir::Block {
        let block = self.b.create_block();
        for ty in types {
            self.b.append_block_param(block, *ty);
        }
        block
    }

    /// Translates one operator.
    fn translate_operator(&mut self, op: &Operator) -> Result<(), CompileError> {
        if !self.state.reachable {
            self.translate_unreachable(op);
            return Ok(());
        }
        self.fuel_before_operator(op);
        let handled = self.translate_control(op)?
            || self.translate_simd(op)?
            || self.translate_numeric(op)
            || self.translate_variable(op)
            || self.translate_memory(op)
            || self.translate_table(op)
            || self.translate_call(op)
            || self.translate_exception(op);
        if handled {
            Ok(())
        } else {
            Err(unsupported_operator(op))
        }
    }
}

/// The error for an operator Kiln does not translate.
fn unsupported_operator(op: &Operator) -> CompileError {
    let name = format!("{op:?}");
    let name = name.split([' ', '{']).next().unwrap_or_default();
    let simd = name.starts_with("V128")
        || ["x16", "x8", "x4", "x2"]
            .iter()
            .any(|lanes| name.contains(lanes));
    // The GC proposal's operators: the types validate (function references come with 3.0's one
    // type system), the instructions wait for a collector.
    let gc = [
        "Struct", "Array", "RefI31", "I31Get", "RefEq", "RefCast", "RefTest", "BrOnCast",
    ]
    .iter()
    .any(|p| name.starts_with(p))
        || ["AnyConvertExtern", "ExternConvertAny"].contains(&name);
    if simd {
        CompileError::Unsupported(format!("simd operator {name}"))
    } else if gc {
        CompileError::Unsupported(format!("GC operator {name} (Wasm GC is not compiled yet)"))
    } else {
        CompileError::Unsupported(format!("operator {name}"))
    }
}
