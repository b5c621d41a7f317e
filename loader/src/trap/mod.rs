//! Traps: why guest code stopped, and where ([`backtrace`]).

pub(crate) mod backtrace;

use kiln_format::TrapKind;
use std::fmt;

/// One guest frame of a trap's backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Function index, if the address lies in a function (not a trampoline).
    pub func_index: Option<u32>,
    /// Name from the name section, or `func[N]`; `<trampoline>` outside functions.
    pub func_name: String,
    /// Offset in the WebAssembly binary, if the address map has it.
    pub wasm_offset: Option<u32>,
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.func_name)?;
        if let Some(off) = self.wasm_offset {
            write!(f, " @ 0x{off:x}")?;
        }
        Ok(())
    }
}

/// A trap raised by guest code (or by a host function it called).
#[derive(Debug)]
pub struct Trap {
    /// What happened.
    pub kind: TrapKind,
    /// The guest function it happened in (name-section name or `func[N]`), if known.
    pub func: Option<String>,
    /// Offset of the instruction in the WebAssembly binary, if the address map has it.
    pub wasm_offset: Option<u32>,
    /// For [`TrapKind::HostError`]: the host function's error or panic message.
    pub host_error: Option<String>,
    /// For [`TrapKind::HostError`]: the exit status a host function asked for (WASI `proc_exit`).
    pub exit_code: Option<i32>,
    /// The guest call stack at the trap, innermost first (found by walking frame pointers and
    /// mapped through the artifact's function table and address map).
    pub backtrace: Vec<Frame>,
}

impl Trap {
    /// The trap a host error becomes.
    pub(crate) fn from_host(e: crate::func::HostError) -> Trap {
        let mut t = Trap::new(TrapKind::HostError);
        t.host_error = Some(e.message);
        t.exit_code = e.exit_code;
        t
    }

    pub(crate) fn new(kind: TrapKind) -> Trap {
        Trap {
            kind,
            func: None,
            wasm_offset: None,
            host_error: None,
            exit_code: None,
            backtrace: Vec::new(),
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host_error {
            Some(msg) => write!(f, "{msg}")?,
            None => write!(f, "wasm trap: {}", self.kind)?,
        }
        if let Some(func) = &self.func {
            write!(f, " in {func}")?;
            if let Some(off) = self.wasm_offset {
                write!(f, " at wasm offset 0x{off:x}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Trap {}
