//! WASI preview 1 (`wasi_snapshot_preview1`) for Kiln instances.
//!
//! Link the WASI functions into a [`Linker`] once, naming where each store's [`WasiCtx`] lives in
//! its host data; then every store only builds its own context:
//!
//! ```no_run
//! use kiln_loader::{Artifact, Linker, Store};
//! use kiln_wasi::{I32Exit, WasiCtx};
//!
//! struct Host { wasi: WasiCtx }
//!
//! let artifact = Artifact::open("app.kiln")?;
//! let mut linker = Linker::<Host>::new();
//! kiln_wasi::add_to_linker(&mut linker, |host: &mut Host| &mut host.wasi)?;
//! let pre = linker.instantiate_pre(&artifact)?;
//! // Per request: a store with its own context.
//! let wasi = WasiCtx::builder()
//!     .args(["app.kiln", "--verbose"])
//!     .env("HOME", "/data")
//!     .preopen_dir("/tmp/app-data", "/data")
//!     .inherit_stdio()
//!     .build()?;
//! let mut store = Store::new(Host { wasi });
//! let instance = pre.instantiate(&mut store)?;
//! let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
//! match start.call(&mut store, ()) {
//!     Ok(()) => {}
//!     Err(e) => match e.downcast_ref::<I32Exit>() {
//!         Some(exit) => println!("exited with {}", exit.0),
//!         None => return Err(e.into()),
//!     },
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every preview-1 function is defined. `proc_exit` ends the program with an [`I32Exit`] error
//! carrying the exit status (the host finds it with `downcast_ref`); `proc_raise` returns `ENOSYS`; the
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
use kiln_loader::{Caller, FuncType, Linker, Val, ValType};
use memory::GuestMemory;

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

/// The exit status a program asked for with `proc_exit`: the error its call into the guest ends
/// with (find it with `kiln_loader::Error::downcast_ref`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("program exited with status {0}")]
pub struct I32Exit(pub i32);

/// Runs `handler` for one call from the guest: finds the caller's memory and the store's context
/// and turns the outcome into the `errno` result.
fn dispatch<T: 'static>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut WasiCtx,
    args: &[Val],
    handler: Handler,
) -> Val {
    let mut no_memory: [u8; 0] = [];
    let (data, host): (&mut [u8], &mut T) = match caller.memory(0) {
        Some(m) => m.data_and_store_mut(&mut *caller),
        None => (&mut no_memory, caller.data_mut()),
    };
    let mut call = Call {
        ctx: get(host),
        mem: GuestMemory::new(data),
        args,
    };
    let errno = match handler(&mut call) {
        Ok(()) => Errno::Success,
        Err(e) => e,
    };
    Val::I32(errno.raw() as i32)
}

/// Defines every `wasi_snapshot_preview1` function in `linker`. `get` finds a store's
/// [`WasiCtx`] in its host data: the functions are defined once, and every store uses its own
/// context.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Send + Sync + Copy + 'static,
) -> kiln_loader::Result<()> {
    for &(name, params, handler) in FUNCTIONS {
        let ty = FuncType::new(params.iter().copied(), [I32]);
        linker.func_new(MODULE, name, ty, move |mut caller, args, results| {
            results[0] = dispatch(&mut caller, get, args, handler);
            Ok(())
        })?;
    }
    linker.func_wrap(MODULE, "proc_exit", |code: i32| -> Result<(), I32Exit> {
        Err(I32Exit(code))
    })?;
    Ok(())
}
