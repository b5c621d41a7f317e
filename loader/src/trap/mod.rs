//! Traps: why guest code stopped, and where ([`backtrace`]).

pub(crate) mod backtrace;

use crate::error::BoxError;
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
        write!(f, "{}", self.func_name.escape_debug())?;
        if let Some(off) = self.wasm_offset {
            write!(f, " @ 0x{off:x}")?;
        }
        Ok(())
    }
}

/// A trap raised by guest code, or by a host function it called.
#[derive(Debug)]
pub struct Trap {
    /// What happened.
    pub kind: TrapKind,
    /// The guest function it happened in (name-section name or `func[N]`), if known: for a host
    /// function's failure, the guest function that called it.
    pub func: Option<String>,
    /// Offset of the instruction in the WebAssembly binary, if the address map has it.
    pub wasm_offset: Option<u32>,
    /// The guest call stack at the trap, innermost first (found by walking frame pointers and
    /// mapped through the artifact's function table and address map).
    pub backtrace: Vec<Frame>,
    host: Option<HostFailure>,
}

/// What failed in a [`TrapKind::HostError`] trap.
#[derive(Debug)]
struct HostFailure {
    /// The host function, by the name it was imported under, if known.
    function: Option<String>,
    /// Its error, unchanged.
    error: BoxError,
}

impl Trap {
    pub(crate) fn new(kind: TrapKind) -> Trap {
        Trap {
            kind,
            func: None,
            wasm_offset: None,
            backtrace: Vec::new(),
            host: None,
        }
    }

    /// The trap a host function's (or a limiter's, or a callback's) error becomes.
    pub(crate) fn host(function: Option<String>, error: BoxError) -> Trap {
        Trap {
            host: Some(HostFailure { function, error }),
            ..Trap::new(TrapKind::HostError)
        }
    }

    /// For [`TrapKind::HostError`]: the error the host function returned (or the panic it
    /// raised, as a message), unchanged. It is also the trap's [`source()`]: the trap's own message
    /// says which host function failed and where, the source why.
    ///
    /// [`source()`]: std::error::Error::source
    pub fn host_error(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.host.as_ref().map(|h| &*h.error)
    }

    /// For [`TrapKind::HostError`]: the host function that failed, by the name it was imported
    /// under (`module.name`), when a guest called it.
    pub fn host_function(&self) -> Option<&str> {
        self.host.as_ref()?.function.as_deref()
    }

    /// The host error, if it is an `E`:
    ///
    /// ```
    /// # fn artifact(wat: &str, fuel: bool, epochs: bool) -> kiln_loader::Artifact {
    /// #     let options = kiln_compiler::CompileOptions { fuel, epoch_interruption: epochs, ..Default::default() };
    /// #     let bytes = kiln_compiler::compile(&wat::parse_str(wat).unwrap(), &options).unwrap();
    /// #     let path = std::env::temp_dir().join(format!("kiln-doc-{}-{}.kiln", std::process::id(), line!()));
    /// #     std::fs::write(&path, bytes).unwrap();
    /// #     kiln_loader::Artifact::open(&path).unwrap()
    /// # }
    /// use kiln_loader::{Func, Instance, Store};
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("quota exceeded")]
    /// struct Quota;
    ///
    /// let artifact = artifact(r#"(module (import "env" "charge" (func $c))
    ///     (func (export "run") (call $c)))"#, false, false);
    /// let mut store = Store::new(());
    /// let charge = Func::wrap(&mut store, || -> Result<(), Quota> { Err(Quota) });
    /// let instance = Instance::new(&mut store, &artifact, &[charge.into()])?;
    /// let err = instance.call(&mut store, "run", &[]).unwrap_err();
    /// assert!(err.downcast_ref::<Quota>().is_some());
    /// assert_eq!(err.as_trap().unwrap().host_function(), Some("env.charge"));
    /// # Ok::<(), kiln_loader::Error>(())
    /// ```
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.host_error()?.downcast_ref()
    }

    /// The host error, taken out of the trap.
    pub fn into_host_error(self) -> Option<BoxError> {
        self.host.map(|h| h.error)
    }

    /// Names the host function of a host-error trap, if it has no name yet.
    pub(crate) fn name_host_function(&mut self, name: impl FnOnce() -> Option<String>) {
        if let Some(h) = &mut self.host {
            if h.function.is_none() {
                h.function = name();
            }
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A host failure's reason is its `source()`, not part of this message, so that error
        // reporters that print the chain print it once.
        match &self.host {
            Some(HostFailure {
                function: Some(name),
                ..
            }) => write!(f, "host function `{}` failed", name.escape_debug())?,
            Some(HostFailure { .. }) => f.write_str("host function failed")?,
            None => write!(f, "wasm trap: {}", self.kind)?,
        }
        if let Some(func) = &self.func {
            let func = func.escape_debug();
            let at = self
                .wasm_offset
                .map(|off| format!(" at wasm offset 0x{off:x}"));
            let at = at.unwrap_or_default();
            if self.host.is_some() {
                write!(f, " (called from {func}{at})")?;
            } else {
                write!(f, " in {func}{at}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Trap {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.host
            .as_ref()
            .map(|h| &*h.error as &(dyn std::error::Error + 'static))
    }
}
