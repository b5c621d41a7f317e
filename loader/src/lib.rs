//! The Kiln loader and runtime.
//!
//! The pipeline after compilation: [`Artifact::open`] maps an artifact (one `mmap`, nothing
//! copied or relocated), [`Instance::new`] instantiates it in a [`Store`], and
//! [`Instance::call`] or a [`TypedFunc`] runs its code. Traps come back as [`Trap`] errors.
//!
//! ```no_run
//! use kiln_loader::{Artifact, Imports, Instance, Store};
//! let artifact = Artifact::open("add.kiln")?;
//! let mut store = Store::new();
//! let instance = Instance::new(&mut store, &artifact, &Imports::new())?;
//! let add = instance.get_typed_func::<(i32, i32), i32>("add")?;
//! assert_eq!(add.call(&mut store, (2, 3))?, 5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod artifact;
mod builtins;
mod call;
mod constexpr;
mod func;
mod global;
mod imports;
mod instance;
mod memory;
mod signals;
mod store;
mod table;
mod trap;
mod type_registry;
mod values;

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
pub use trap::Trap;
pub use values::{FuncRef, FuncType, Val, ValType};
