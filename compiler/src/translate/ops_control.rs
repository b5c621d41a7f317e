//! Structured control flow: `block`, `loop`, `if`/`else`, `end`, branches, `return`,
//! `unreachable`, and the skipping of unreachable code.
//!
//! Values flow between Cranelift blocks as block parameters: a frame's continuation (`next`) takes
//! its results, a loop header takes the loop's parameters. A `block` or `if` needs no parameters
//! of its own: its parameter values were defined before it and dominate its body.

use super::ir_type;
use super::state::{ControlFrame, FrameKind};
use super::translator::FuncTranslator;
use crate::error::CompileError;
use crate::trap_codes::trap_code;
use cranelift_codegen::ir::{self, BlockArg, InstBuilder, JumpTableData, Value};
use kiln_format::TrapKind;
use std::collections::HashMap;
use wasmparser::{BlockType, BrTable, Operator};

/// Block arguments passing `values`.
pub fn block_args(values: &[Value]) -> Vec<BlockArg> {
    values.iter().map(|v| BlockArg::Value(*v)).collect()
}

impl FuncTranslator<'_, '_> {
    /// Translates a control operator at a reachable position; false if `op` is not one.
    pub fn translate_control(&mut self, op: &Operator) -> Result<bool, CompileError> {
        match op {
            Operator::Nop => {}
            Operator::Unreachable => {
                self.before_leaving();
                self.b.ins().trap(trap_code(TrapKind::Unreachable));
                self.state.reachable = false;
            }
            Operator::Block { blockty } => self.open_block(*blockty),
            Operator::Loop { blockty } => self.open_loop(*blockty),
            Operator::If { blockty } => self.open_if(*blockty),
            Operator::Else => self.translate_else(),
            Operator::End => self.translate_end(),
            Operator::Br { relative_depth } => {
                let (target, n) = self.state.frame_at(*relative_depth).branch_target();
                let args = block_args(self.state.peekn(n));
                self.b.ins().jump(target, &args);
                self.state.reachable = false;
            }
            Operator::BrIf { relative_depth } => {
                let cond = self.state.pop();
                let (target, n) = self.state.frame_at(*relative_depth).branch_target();
                let args = block_args(self.state.peekn(n));
                let fallthrough = self.b.create_block();
                self.b.ins().brif(cond, target, &args, fallthrough, &[]);
                self.b.seal_block(fallthrough);
                self.b.switch_to_block(fallthrough);
            }
            Operator::BrTable { targets } => self.translate_br_table(targets)?,
            Operator::BrOnNull { relative_depth } => {
                // Null: branch with the values below the reference; else keep the reference.
                let r = self.state.pop();
                let (target, n) = self.state.frame_at(*relative_depth).branch_target();
                let args = block_args(self.state.peekn(n));
                let non_null = self.b.create_block();
                self.b.ins().brif(r, non_null, &[], target, &args);
                self.b.seal_block(non_null);
                self.b.switch_to_block(non_null);
                self.state.push(r);
            }
            Operator::BrOnNonNull { relative_depth } => {
                // Non-null: branch with the reference on top; else drop it.
                let r = self.state.pop();
                let (target, n) = self.state.frame_at(*relative_depth).branch_target();
                let mut values = self.state.peekn(n - 1).to_vec();
                values.push(r);
                let null = self.b.create_block();
                self.b
                    .ins()
                    .brif(r, target, &block_args(&values), null, &[]);
                self.b.seal_block(null);
                self.b.switch_to_block(null);
            }
            Operator::Return => {
                let n = self.state.control[0].num_results;
                self.before_leaving();
                self.b.ins().return_(self.state.peekn(n));
                self.state.reachable = false;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Handles an operator at an unreachable position: only structure matters, so that the
    /// `else` or `end` that makes code reachable again is found.
    pub fn translate_unreachable(&mut self, op: &Operator) {
        match op {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. } => {
                self.state.unreachable_depth += 1;
            }
            Operator::Else if self.state.unreachable_depth == 0 => self.translate_else(),
            Operator::End => {
                if self.state.unreachable_depth == 0 {
                    self.translate_end();
                } else {
                    self.state.unreachable_depth -= 1;
                }
            }
            _ => {}
        }
    }

    /// The parameter and result types of a block type.
    pub(super) fn block_signature(&self, blockty: BlockType) -> (Vec<ir::Type>, Vec<ir::Type>) {
        match blockty {
            BlockType::Empty => (Vec::new(), Vec::new()),
            BlockType::Type(ty) => (Vec::new(), vec![ir_type(ty)]),
            BlockType::FuncType(index) => {
                let ty = self.env.module.func_type_at(index);
                (
                    ty.params().iter().map(|t| ir_type(*t)).collect(),
                    ty.results().iter().map(|t| ir_type(*t)).collect(),
                )
            }
        }
    }

    /// Pushes a frame whose parameters are the top `num_params` values.
    pub(super) fn push_frame(
        &mut self,
        kind: FrameKind,
        next: ir::Block,
        num_params: usize,
        results: usize,
    ) {
        self.state.control.push(ControlFrame {
            kind,
            next,
            num_params,
            num_results: results,
            height: self.state.stack.len() - num_params,
            exit_branched_to: false,
        });
    }

    fn open_block(&mut self, blockty: BlockType) {
        let (params, results) = self.block_signature(blockty);
        let next = self.new_block_with_params(&results);
        self.push_frame(FrameKind::Block, next, params.len(), results.len());
    }

    fn open_loop(&mut self, blockty: BlockType) {
        let (params, results) = self.block_signature(blockty);
        let header = self.new_block_with_params(&params);
        let next = self.new_block_with_params(&results);
        let args = block_args(self.state.peekn(params.len()));
        self.b.ins().jump(header, &args);
        self.state.popn(params.len());
        // Why not sealed: back edges from the body are not known until the loop's `end`.
        self.b.switch_to_block(header);
        let header_params = self.b.block_params(header).to_vec();
        self.state.extend(&header_params);
        // Why here: every iteration passes the header, so no loop runs unchecked.
        self.check_fuel_and_epoch();
        self.push_frame(
            FrameKind::Loop { header },
            next,
            params.len(),
            results.len(),
        );
    }

    fn open_if(&mut self, blockty: BlockType) {
        let cond = self.state.pop();
        let (params, results) = self.block_signature(blockty);
        let then_block = self.b.create_block();
        let else_block = self.b.create_block();
        let next = self.new_block_with_params(&results);
        self.b.ins().brif(cond, then_block, &[], else_block, &[]);
        self.b.seal_block(then_block);
        self.b.seal_block(else_block);
        self.b.switch_to_block(then_block);
        let param_values = self.state.peekn(params.len()).to_vec();
        self.push_frame(
            FrameKind::If {
                else_block,
                params: param_values,
                then_end_reachable: None,
            },
            next,
            params.len(),
            results.len(),
        );
    }

    /// `else`: ends the `then` arm and starts the `else` arm from the `if`'s parameters.
    fn translate_else(&mut self) {
        let reachable = self.state.reachable;
        let frame = self
            .state
            .control
            .last_mut()
            .expect("validated: open frame");
        if reachable {
            let n = frame.num_results;
            let args = block_args(&self.state.stack[self.state.stack.len() - n..]);
            self.b.ins().jump(frame.next, &args);
        }
        let FrameKind::If {
            else_block,
            params,
            then_end_reachable,
        } = &mut frame.kind
        else {
            panic!("validated: `else` closes an `if`");
        };
        *then_end_reachable = Some(reachable);
        let else_block = *else_block;
        let params = std::mem::take(params);
        self.state.stack.truncate(frame.height);
        self.state.stack.extend_from_slice(&params);
        self.b.switch_to_block(else_block);
        // Why: the `if` itself was reachable (frames are only opened at reachable positions).
        self.state.reachable = true;
    }

    /// `end`: closes the innermost frame and continues at its continuation if anything reaches it.
    /// Closing the function body returns its results.
    fn translate_end(&mut self) {
        let frame = self.state.control.pop().expect("validated: open frame");
        let reachable = self.state.reachable;
        if reachable {
            let args = block_args(self.state.peekn(frame.num_results));
            self.b.ins().jump(frame.next, &args);
        }
        let mut reachable_after = reachable || frame.exit_branched_to;
        match frame.kind {
            FrameKind::Block => {}
            FrameKind::TryTable { landings } => {
                self.state.handlers.pop();
                for landing in landings {
                    self.b.seal_block(landing);
                }
            }
            FrameKind::Loop { header } => self.b.seal_block(header),
            FrameKind::If {
                else_block,
                params,
                then_end_reachable,
            } => match then_end_reachable {
                None => {
                    // Why: an `if` without `else` has equal parameter and result types; its
                    // missing arm passes the parameters through.
                    self.b.switch_to_block(else_block);
                    self.b.ins().jump(frame.next, &block_args(&params));
                    reachable_after = true;
                }
                Some(then_reachable) => reachable_after |= then_reachable,
            },
        }
        self.state.stack.truncate(frame.height);
        self.b.seal_block(frame.next);
        self.state.reachable = reachable_after;
        if reachable_after {
            self.b.switch_to_block(frame.next);
            let results = self.b.block_params(frame.next).to_vec();
            self.state.extend(&results);
            if self.state.control.is_empty() {
                self.before_leaving();
                self.b.ins().return_(&results);
                self.state.reachable = false;
            }
        }
    }

    /// `br_table`: a jump table; when targets take values, through one intermediate block per
    /// distinct target that passes them (jump tables carry no arguments here).
    fn translate_br_table(&mut self, table: &BrTable) -> Result<(), CompileError> {
        let index = self.state.pop();
        let depths = table.targets().collect::<Result<Vec<u32>, _>>()?;
        let default = table.default();
        let n = {
            let frame = self.state.frame_at(default);
            match frame.kind {
                FrameKind::Loop { .. } => frame.num_params,
                _ => frame.num_results,
            }
        };
        if n == 0 {
            let call = |t: &mut Self, depth: u32| {
                let (target, _) = t.state.frame_at(depth).branch_target();
                t.b.func.dfg.block_call(target, &[])
            };
            let default_call = call(self, default);
            let calls: Vec<_> = depths.iter().map(|d| call(self, *d)).collect();
            let jt = self
                .b
                .create_jump_table(JumpTableData::new(default_call, &calls));
            self.b.ins().br_table(index, jt);
        } else {
            let mut intermediates: HashMap<u32, ir::Block> = HashMap::new();
            let mut order = Vec::new();
            let mut call = |t: &mut Self, depth: u32| {
                let block = *intermediates.entry(depth).or_insert_with(|| {
                    order.push(depth);
                    t.b.create_block()
                });
                t.b.func.dfg.block_call(block, &[])
            };
            let default_call = call(self, default);
            let calls: Vec<_> = depths.iter().map(|d| call(self, *d)).collect();
            let jt = self
                .b
                .create_jump_table(JumpTableData::new(default_call, &calls));
            self.b.ins().br_table(index, jt);
            let args = block_args(self.state.peekn(n));
            for depth in order {
                let block = intermediates[&depth];
                let (target, _) = self.state.frame_at(depth).branch_target();
                self.b.seal_block(block);
                self.b.switch_to_block(block);
                self.b.ins().jump(target, &args);
            }
        }
        self.state.reachable = false;
        Ok(())
    }
}
