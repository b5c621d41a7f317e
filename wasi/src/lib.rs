//! WASI preview 1 (`wasi_snapshot_preview1`) for Kiln instances.
//!
//! Build a [`WasiCtx`] describing what the program sees, then define the WASI functions in the
//! [`Imports`] it is instantiated with:
//!
//! ```no_run
//! use kiln_loader::{Artifact, Imports, Instance, Store};
//! let artifact = Artifact::open("app.kiln")?;
//! let mut store = Store::new();
//! let mut imports = Imports::new();
//! let ctx = kiln_wasi::WasiCtx::builder()
//!     .args(["app.kiln", "--verbose"])
//!     .env("HOME", "/data")
//!     .preopen_dir("/tmp/app-data", "/data")
//!     .inherit_stdio()
//!     .build()?;
//! kiln_wasi::add_to_imports(&mut store, &mut imports, ctx);
//! let instance = Instance::new(&mut store, &artifact, &imports)?;
//! match instance.call(&mut store, "_start", &[]) {
//!     Ok(_) => {}
//!     Err(kiln_loader::CallError::Trap(t)) if t.exit_code.is_some() => {
//!         println!("exited with {}", t.exit_code.unwrap());
//!     }
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every preview-1 function is defined. `proc_exit` ends the program with a host error carrying
//! the exit status ([`kiln_loader::Trap::exit_code`]); `proc_raise` returns `ENOSYS`; the
//! `sock_*` functions return `ENOTSOCK` (no descriptor is a socket). Filesystem access is limited
//! to preopened directories, with paths resolved by cap-std. Guest pointers and lengths are
//! checked against the caller's memory 0: out of bounds is `EFAULT`, misaligned `EINVAL`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod args;
mod clocks;
mod ctx;
mod errno;
mod fd;
mod fd_table;
mod memory;
mod path;
mod poll;
mod proc;
mod random;
mod sock;
mod stat;
mod stdio;
pub mod types;

pub use ctx::{BuildError, WasiCtx, WasiCtxBuilder};
pub use errno::Errno;
pub use stdio::{Input, Output, OutputBuffer};

use errno::WasiResult;
use kiln_loader::{Caller, Extern, Func, FuncType, HostError, Imports, Store, Val, ValType};
use memory::GuestMemory;
use std::sync::{Arc, Mutex, PoisonError};

/// The import module name of WASI preview 1.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// One WASI call in progress: the context, the caller's memory and the arguments.
pub(crate) struct Call<'a> {
    pub ctx: &'a mut WasiCtx,
    pub mem: GuestMemory<'a>,
    args: &'a [Val],
}

impl Call<'_> {
    /// Argument `i` as an unsigned 32-bit value.
    pub fn u32(&self, i: usize) -> u32 {
        match self.args.get(i) {
            Some(Val::I32(v)) => *v as u32,
            Some(Val::I64(v)) => *v as u32,
            _ => 0,
        }
    }

    /// Argument `i` as an unsigned 64-bit value.
    pub fn u64(&self, i: usize) -> u64 {
        match self.args.get(i) {
            Some(Val::I64(v)) => *v as u64,
            Some(Val::I32(v)) => *v as u32 as u64,
            _ => 0,
        }
    }

    /// Argument `i`, of a witx type lowered to `i32` but 16 bits wide (`EINVAL` if it does not
    /// fit).
    pub fn u16(&self, i: usize) -> WasiResult<u16> {
        u16::try_from(self.u32(i)).map_err(|_| Errno::Inval)
    }

    /// Argument `i`, of an 8-bit witx type (`EINVAL` if it does not fit).
    pub fn u8(&self, i: usize) -> WasiResult<u8> {
        u8::try_from(self.u32(i)).map_err(|_| Errno::Inval)
    }
}

type Handler = fn(&mut Call<'_>) -> WasiResult<()>;

const I32: ValType = ValType::I32;
const I64: ValType = ValType::I64;

/// Every function returning an `errno`: name, parameter types, implementation.
const FUNCTIONS: &[(&str, &[ValType], Handler)] = &[
    ("args_get", &[I32, I32], args::args_get),
    ("args_sizes_get", &[I32, I32], args::args_sizes_get),
    ("environ_get", &[I32, I32], args::environ_get),
    ("environ_sizes_get", &[I32, I32], args::environ_sizes_get),
    ("clock_res_get", &[I32, I32], clocks::clock_res_get),
    ("clock_time_get", &[I32, I64, I32], clocks::clock_time_get),
    ("fd_advise", &[I32, I64, I64, I32], fd::fd_advise),
    ("fd_allocate", &[I32, I64, I64], fd::fd_allocate),
    ("fd_close", &[I32], fd::fd_close),
    ("fd_datasync", &[I32], fd::fd_datasync),
    ("fd_fdstat_get", &[I32, I32], fd::fd_fdstat_get),
    ("fd_fdstat_set_flags", &[I32, I32], fd::fd_fdstat_set_flags),
    (
        "fd_fdstat_set_rights",
        &[I32, I64, I64],
        fd::fd_fdstat_set_rights,
    ),
    ("fd_filestat_get", &[I32, I32], fd::fd_filestat_get),
    (
        "fd_filestat_set_size",
        &[I32, I64],
        fd::fd_filestat_set_size,
    ),
    (
        "fd_filestat_set_times",
        &[I32, I64, I64, I32],
        fd::fd_filestat_set_times,
    ),
    ("fd_pread", &[I32, I32, I32, I64, I32], fd::fd_pread),
    ("fd_prestat_get", &[I32, I32], fd::fd_prestat_get),
    (
        "fd_prestat_dir_name",
        &[I32, I32, I32],
        fd::fd_prestat_dir_name,
    ),
    ("fd_pwrite", &[I32, I32, I32, I64, I32], fd::fd_pwrite),
    ("fd_read", &[I32, I32, I32, I32], fd::fd_read),
    ("fd_readdir", &[I32, I32, I32, I64, I32], fd::fd_readdir),
    ("fd_renumber", &[I32, I32], fd::fd_renumber),
    ("fd_seek", &[I32, I64, I32, I32], fd::fd_seek),
    ("fd_sync", &[I32], fd::fd_sync),
    ("fd_tell", &[I32, I32], fd::fd_tell),
    ("fd_write", &[I32, I32, I32, I32], fd::fd_write),
    (
        "path_create_directory",
        &[I32, I32, I32],
        path::path_create_directory,
    ),
    (
        "path_filestat_get",
        &[I32, I32, I32, I32, I32],
        path::path_filestat_get,
    ),
    (
        "path_filestat_set_times",
        &[I32, I32, I32, I32, I64, I64, I32],
        path::path_filestat_set_times,
    ),
    (
        "path_link",
        &[I32, I32, I32, I32, I32, I32, I32],
        path::path_link,
    ),
    (
        "path_open",
        &[I32, I32, I32, I32, I32, I64, I64, I32, I32],
        path::path_open,
    ),
    (
        "path_readlink",
        &[I32, I32, I32, I32, I32, I32],
        path::path_readlink,
    ),
    (
        "path_remove_directory",
        &[I32, I32, I32],
        path::path_remove_directory,
    ),
    (
        "path_rename",
        &[I32, I32, I32, I32, I32, I32],
        path::path_rename,
    ),
    (
        "path_symlink",
        &[I32, I32, I32, I32, I32],
        path::path_symlink,
    ),
    ("path_unlink_file", &[I32, I32, I32], path::path_unlink_file),
    ("poll_oneoff", &[I32, I32, I32, I32], poll::poll_oneoff),
    ("proc_raise", &[I32], proc::proc_raise),
    ("sched_yield", &[], proc::sched_yield),
    ("random_get", &[I32, I32], random::random_get),
    ("sock_accept", &[I32, I32, I32], sock::sock_accept),
    (
        "sock_recv",
        &[I32, I32, I32, I32, I32, I32],
        sock::sock_recv,
    ),
    ("sock_send", &[I32, I32, I32, I32, I32], sock::sock_send),
    ("sock_shutdown", &[I32, I32], sock::sock_shutdown),
];

/// The name and type of every function this crate defines in [`MODULE`].
pub fn functions() -> Vec<(&'static str, FuncType)> {
    FUNCTIONS
        .iter()
        .map(|(name, params, _)| (*name, FuncType::new(params.iter().copied(), [I32])))
        .chain([("proc_exit", FuncType::new([I32], []))])
        .collect()
}

/// Runs `handler` for one call from the guest: locks the context, wraps the caller's memory
/// and turns the outcome into the `errno` result.
fn dispatch(ctx: &Mutex<WasiCtx>, caller: &mut Caller<'_>, args: &[Val], handler: Handler) -> Val {
    let memory = caller.memory(0);
    let mut no_memory: [u8; 0] = [];
    let data: &mut [u8] = match &memory {
        Some(m) => m.data_mut(),
        None => &mut no_memory,
    };
    let mut guard = ctx.lock().unwrap_or_else(PoisonError::into_inner);
    let mut call = Call {
        ctx: &mut guard,
        mem: GuestMemory::new(data),
        args,
    };
    let errno = match handler(&mut call) {
        Ok(()) => Errno::Success,
        Err(e) => e,
    };
    Val::I32(errno.raw() as i32)
}

/// Defines every `wasi_snapshot_preview1` function in `imports`, as host functions of `store`
/// that share `ctx`. Returns the shared context, through which the embedder can look at it after
/// (or between) calls.
pub fn add_to_imports(
    store: &mut Store,
    imports: &mut Imports,
    ctx: WasiCtx,
) -> Arc<Mutex<WasiCtx>> {
    let shared = Arc::new(Mutex::new(ctx));
    for &(name, params, handler) in FUNCTIONS {
        let ctx = shared.clone();
        let ty = FuncType::new(params.iter().copied(), [I32]);
        let func = Func::new(store, ty, move |caller, args| {
            Ok(vec![dispatch(&ctx, caller, args, handler)])
        });
        imports.define(MODULE, name, Extern::Func(func));
    }
    let exit = Func::new(store, FuncType::new([I32], []), |_caller, args| {
        let code = match args.first() {
            Some(Val::I32(c)) => *c,
            _ => 0,
        };
        Err(HostError::exit(code))
    });
    imports.define(MODULE, "proc_exit", Extern::Func(exit));
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preview1_function_is_defined_once() {
        let names: Vec<&str> = functions().iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), 46);
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 46);
        let mut store = Store::new();
        let mut imports = Imports::new();
        let ctx = WasiCtx::builder().build().unwrap();
        add_to_imports(&mut store, &mut imports, ctx);
        for (name, ty) in functions() {
            match imports.get(MODULE, name) {
                Some(Extern::Func(f)) => assert_eq!(f.ty(), ty, "{name}"),
                _ => panic!("{name} is not defined"),
            }
        }
    }

    #[test]
    fn host_calls_without_an_instance_fault_instead_of_crashing() {
        let mut store = Store::new();
        let mut imports = Imports::new();
        let ctx = WasiCtx::builder().build().unwrap();
        add_to_imports(&mut store, &mut imports, ctx);
        let call = |store: &mut Store, name: &str, args: &[Val]| -> Val {
            let Some(Extern::Func(f)) = imports.get(MODULE, name) else {
                panic!("{name}")
            };
            f.call(store, args).unwrap()[0]
        };
        let fault = Val::I32(Errno::Fault.raw() as i32);
        assert_eq!(
            call(&mut store, "args_sizes_get", &[Val::I32(0), Val::I32(4)]),
            fault
        );
        assert_eq!(
            call(
                &mut store,
                "fd_write",
                &[Val::I32(1), Val::I32(0), Val::I32(1), Val::I32(8)]
            ),
            fault
        );
        assert_eq!(
            call(&mut store, "proc_raise", &[Val::I32(2)]),
            Val::I32(Errno::Nosys.raw() as i32)
        );
        assert_eq!(call(&mut store, "sched_yield", &[]), Val::I32(0));
        assert_eq!(call(&mut store, "fd_close", &[Val::I32(9)]), Val::I32(8));
        assert_eq!(call(&mut store, "fd_close", &[Val::I32(2)]), Val::I32(0));
        let Some(Extern::Func(exit)) = imports.get(MODULE, "proc_exit") else {
            panic!()
        };
        match exit.call(&mut store, &[Val::I32(3)]) {
            Err(kiln_loader::CallError::Trap(t)) => assert_eq!(t.exit_code, Some(3)),
            _ => panic!("proc_exit did not exit"),
        }
    }
}
