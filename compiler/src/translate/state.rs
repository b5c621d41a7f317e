//! The translator's model of a function body in progress: WebAssembly's operand stack as SSA
//! values, its control stack as Cranelift blocks, and whether the current position is reachable.
//!
//! The body is validated before translation, so stack underflows and mismatched frames are
//! translator bugs and panic.

use cranelift_codegen::ir::{Block, Value};

/// What kind of structured instruction opened a control frame.
pub enum FrameKind {
    /// A `block` (or the function body itself): branches go to the frame's continuation.
    Block,
    /// A `loop`: branches go back to `header`, whose block parameters are the loop's parameters.
    Loop {
        /// The loop header.
        header: Block,
    },
    /// An `if`, possibly with an `else`.
    If {
        /// Block the `if` jumps to when its condition is zero.
        else_block: Block,
        /// The values the `if` consumed as parameters: the `else` arm starts from them again, and
        /// an `if` without `else` passes them through as its results.
        params: Vec<Value>,
        /// `None` until the `else` is seen; then whether the `then` arm's end was reachable.
        then_end_reachable: Option<bool>,
    },
    /// A `try_table`: a block whose calls have the handlers of its catch clauses (the innermost
    /// entry of [`State::handlers`] while it is open).
    TryTable {
        /// The landing pads of its catch clauses, sealed at its `end` (only calls inside it
        /// reach them).
        landings: Vec<Block>,
    },
}

/// The catch clauses of one open `try_table`, in order: the handler tag (encoded as
/// `ops_exceptions::handler_tag` says) and the landing pad, whose one parameter is the exception
/// object.
pub struct HandlerScope {
    /// `(encoded tag, landing pad)` per clause.
    pub catches: Vec<(u32, Block)>,
}

/// One entry of the control stack.
pub struct ControlFrame {
    /// The kind of frame.
    pub kind: FrameKind,
    /// The continuation after the frame's `end`; its block parameters are the frame's results.
    pub next: Block,
    /// Number of parameters (values the frame consumes from the enclosing stack).
    pub num_params: usize,
    /// Number of results.
    pub num_results: usize,
    /// Operand stack height below the frame's parameters, restored at `else` and `end`.
    pub height: usize,
    /// Whether some branch targets `next` (so code after `end` is reachable even if the frame's
    /// own end is not).
    pub exit_branched_to: bool,
}

impl ControlFrame {
    /// Where a branch to this frame's label goes, and how many values it carries. Marks `next`
    /// as branched to when that is the target.
    pub fn branch_target(&mut self) -> (Block, usize) {
        match self.kind {
            // Why: a branch to a loop label restarts the loop, carrying the loop's parameters.
            FrameKind::Loop { header } => (header, self.num_params),
            _ => {
                self.exit_branched_to = true;
                (self.next, self.num_results)
            }
        }
    }
}

/// Operand stack, control stack and reachability.
pub struct State {
    /// WebAssembly's operand stack.
    pub stack: Vec<Value>,
    /// Open structured instructions, innermost last; the function body is the first.
    pub control: Vec<ControlFrame>,
    /// Whether the current position can execute. When it cannot, operators are skipped (no
    /// instruction may be added to the filled current block) until the matching `else`/`end`.
    pub reachable: bool,
    /// While unreachable: how many skipped structured instructions are still open.
    pub unreachable_depth: u32,
    /// The open `try_table`s, innermost last: a call with any is a `try_call`.
    pub handlers: Vec<HandlerScope>,
}

impl State {
    /// An empty state at a reachable position.
    pub fn new() -> State {
        State {
            stack: Vec::new(),
            control: Vec::new(),
            reachable: true,
            unreachable_depth: 0,
            handlers: Vec::new(),
        }
    }

    /// Pushes a value.
    pub fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    /// Pushes several values, first one deepest.
    pub fn extend(&mut self, vs: &[Value]) {
        self.stack.extend_from_slice(vs);
    }

    /// Pops the top value.
    pub fn pop(&mut self) -> Value {
        self.stack
            .pop()
            .expect("validated code: operand stack underflow")
    }

    /// Pops two values, returned in push order.
    pub fn pop2(&mut self) -> (Value, Value) {
        let b = self.pop();
        let a = self.pop();
        (a, b)
    }

    /// Pops three values, returned in push order.
    pub fn pop3(&mut self) -> (Value, Value, Value) {
        let c = self.pop();
        let b = self.pop();
        let a = self.pop();
        (a, b, c)
    }

    /// The top `n` values, deepest first.
    pub fn peekn(&self, n: usize) -> &[Value] {
        &self.stack[self.stack.len() - n..]
    }

    /// Removes the top `n` values.
    pub fn popn(&mut self, n: usize) {
        let len = self.stack.len() - n;
        self.stack.truncate(len);
    }

    /// The frame `depth` levels out from the innermost one (a branch's relative depth).
    pub fn frame_at(&mut self, depth: u32) -> &mut ControlFrame {
        let i = self.control.len() - 1 - depth as usize;
        &mut self.control[i]
    }
}
