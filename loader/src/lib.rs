//! The Kiln loader and runtime.
//!
//! The pipeline after compilation: [`Artifact::open`] maps an artifact (one `mmap`, nothing
//! copied or relocated), [`Instance::new`] instantiates it in a [`Store`], and
//! [`Instance::call`] or a [`TypedFunc`] runs its code. Traps come back as [`Trap`] errors.
//!
//! ```no_run
//! use kiln_loader::{Artifact, Extern, Func, FuncType, Imports, Instance, Store, Val, ValType};
//!
//! let artifact = Artifact::open("app.kiln")?; // one mmap, nothing read; share it between threads
//! let mut store = Store::new();
//! let mut imports = Imports::new();
//! let log = Func::new(&mut store, FuncType::new([ValType::I32], []), |_caller, args| {
//!     println!("guest says {:?}", args[0]);
//!     Ok(vec![])
//! });
//! imports.define("env", "log", Extern::Func(log));
//! let instance = Instance::new(&mut store, &artifact, &imports)?;
//! let fib = instance.get_typed_func::<i32, i64>("fib")?;
//! println!("{}", fib.call(&mut store, 30)?);
//! // A trap is an error that names its kind and function; the process and the store carry on.
//! match instance.call(&mut store, "oops", &[]) {
//!     Err(e) => eprintln!("{e}"), // wasm trap: out of bounds memory access in oops
//!     Ok(results) => println!("{results:?}"),
//! }
//! # let _ = Val::I32(0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod artifact;
mod builtins;
mod call;
mod constexpr;
mod func;
mod global;
mod imports;
mod instance;
mod memory;
mod send_sync;
mod signals;
mod store;
mod table;
mod trap;
mod type_registry;
mod values;
mod vmctx;

pub use artifact::{Artifact, LoadError, LoadOptions};
pub use call::{CallError, TypedFunc, WasmParams, WasmResults, WasmTy};
pub use func::{Caller, Func, HostError};
pub use global::Global;
pub use imports::{Extern, Imports};
pub use instance::{Instance, InstantiateError};
pub use kiln_format::TrapKind;
pub use memory::{Memory, MemoryError};
pub use store::{Store, DEFAULT_MAX_WASM_STACK};
pub use table::Table;
pub use trap::{Frame, Trap};
pub use values::{FuncRef, FuncType, Val, ValType};
