//! The Kiln loader and runtime.
//!
//! The pipeline after compilation: [`Artifact::open`] maps an artifact (one `mmap`, nothing
//! copied or relocated), a [`Linker`] (or [`Instance::new`]) instantiates it in a [`Store`], and
//! a [`TypedFunc`] or a [`Func`] runs its code. Traps come back as [`Trap`] errors, and
//! WebAssembly exceptions that no guest handler catches as [`Error::Exception`] (a
//! [`ThrownException`] with its [`Tag`] and payload); a host function throws one into its caller by
//! returning a [`ThrownException`] as its error.
//!
//! The API follows Wasmtime's: a [`Store<T>`] owns every instance and entity and the host's data
//! `T`; handles ([`Instance`], [`Func`], [`Memory`], [`Table`], [`Global`], [`ExternRef`]) are
//! indices that every operation checks against the store it is given ([`AsContext`],
//! [`AsContextMut`]); host functions see a [`Caller`] through which they reach the host data and
//! call back into the guest. Differences, all deliberate: there is no compiler in the loader (an
//! [`Engine`] holds only the epoch), artifacts record whether they meter fuel or check epochs
//! (asking a store for either with an artifact compiled without it is an error), and memories,
//! tables and globals are reached by index with the store, never through a pointer the host keeps.
//!
//! ```no_run
//! use kiln_loader::{Artifact, Caller, Linker, Store};
//!
//! struct Host { calls: u32 }
//!
//! let artifact = Artifact::open("app.kiln")?; // one mmap, nothing read; share it between threads
//! let mut linker = Linker::<Host>::new();
//! linker.func_wrap("env", "log", |mut caller: Caller<'_, Host>, x: i32| {
//!     caller.data_mut().calls += 1;
//!     println!("guest says {x}");
//! })?;
//! let pre = linker.instantiate_pre(&artifact)?; // imports resolved once, for every store
//! let mut store = Store::new(Host { calls: 0 });
//! let instance = pre.instantiate(&mut store)?;
//! let fib = instance.get_typed_func::<i32, i64>(&mut store, "fib")?;
//! println!("{}", fib.call(&mut store, 30)?);
//! // A trap is an error that names its kind and function; the process and the store carry on.
//! if let Err(e) = instance.call(&mut store, "oops", &[]) {
//!     eprintln!("{e}"); // wasm trap: out of bounds memory access in oops
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod artifact;
mod builtins;
mod call;
mod caller;
#[cfg(feature = "capi")]
pub mod capi;
mod constexpr;
mod engine;
mod error;
mod exn;
mod extern_;
mod externref;
mod func;
mod global;
mod instance;
mod limits;
mod linker;
mod memory;
mod send_sync;
mod signals;
mod stack;
mod store;
mod table;
mod trap;
mod type_registry;
mod types;
mod values;
mod vmctx;

pub use artifact::{Artifact, LoadError, LoadOptions, SignatureError};
pub use caller::Caller;
pub use engine::{Config, Engine};
pub use error::{BoxError, Error, Result};
pub use exn::{ExnRef, Tag, TagType, ThrownException, MAX_LIVE_EXCEPTIONS};
pub use extern_::Extern;
pub use externref::ExternRef;
pub use func::{Func, IntoFunc, TypedFunc, WasmParams, WasmResults, WasmRet, WasmTy, WasmTyList};
pub use global::Global;
pub use instance::Instance;
pub use kiln_format::TrapKind;
pub use limits::{
    LimitError, ResourceLimiter, StoreLimits, StoreLimitsBuilder, DEFAULT_INSTANCE_LIMIT,
    DEFAULT_MEMORY_LIMIT, DEFAULT_TABLE_LIMIT,
};
pub use linker::{InstancePre, Linker};
pub use memory::{Memory, MemoryError};
pub use store::{
    AsContext, AsContextMut, Store, StoreContext, StoreContextMut, UpdateDeadline,
    DEFAULT_MAX_WASM_STACK,
};
pub use table::Table;
pub use trap::{Frame, Trap};
pub use types::{
    ExportType, ExternType, FuncType, GlobalType, HeapType, ImportType, MemoryType, Mutability,
    RefType, TableType, TypeId, ValType,
};
pub use values::{AnyRef, Val};
