//! A minimal C entry point into the loader (cargo feature `capi`; the `kiln-capi` crate builds it
//! as a static library, with `capi/include/kiln.h`): load an artifact from a path, a buffer or an
//! image linked into the host (`kiln compile --emit obj`), instantiate it without imports or with
//! WASI, call an export by name or run a WASI command, and read the error text. A full C API
//! (host functions, limits) is separate work.
//!
//! The loader knows nothing of WASI: it holds the C host's WASI configuration as plain strings
//! ([`KilnWasiConfig`]) together with the function that builds a WASI store from them, which
//! `kiln-capi` (it links `kiln-wasi`) puts there when it creates the configuration. So every C
//! pointer is read here, and `kiln-capi` needs no unsafe code.
//!
//! Every function returns null or -1 on failure and then writes the error as a NUL-terminated
//! string into the caller's `err` buffer of `err_len` bytes (truncated to fit; nothing if `err`
//! is null). Values cross as 64-bit words: an `i32` in the low half, floats as their bits.

use crate::{Artifact, Error, Instance, Store, Val, ValType};
use std::ffi::{c_char, c_int, CStr};

/// An artifact (`kiln_artifact` in C).
pub struct KilnArtifact(Artifact);

/// An instance with its own store (`kiln_instance` in C), of any host data.
pub struct KilnInstance(Box<dyn CapiStore>);

/// Reads a guest's exit status out of the error that ended a call (WASI's `proc_exit`), if it is
/// one.
pub type ExitStatus = fn(&Error) -> Option<i32>;

impl KilnInstance {
    /// An instance in `store`, whose host reads exit statuses from errors with `exit_status`.
    pub fn new<T: 'static>(store: Store<T>, instance: Instance, exit_status: ExitStatus) -> Self {
        KilnInstance(Box::new(StoreInstance {
            store,
            instance,
            exit_status,
        }))
    }
}

/// A store with its instance, whatever the store's host data.
struct StoreInstance<T: 'static> {
    store: Store<T>,
    instance: Instance,
    exit_status: ExitStatus,
}

/// What the C functions do with an instance, erased over the store's host data.
trait CapiStore {
    /// Calls export `name` with numbers in and out (see [`kiln_instance_call`]).
    fn call(&mut self, name: &str, args: &[u64], nresults: usize) -> Result<Vec<u64>, String>;
    /// Runs `_start`: `Ok(status)` when it returns (0) or exits with a status.
    fn run(&mut self) -> Result<i32, String>;
}

impl<T: 'static> CapiStore for StoreInstance<T> {
    fn call(&mut self, name: &str, args: &[u64], nresults: usize) -> Result<Vec<u64>, String> {
        call(&mut self.store, &self.instance, name, args, nresults)
    }

    fn run(&mut self) -> Result<i32, String> {
        let start = self
            .instance
            .get_func(&mut self.store, "_start")
            .ok_or("no exported function `_start`")?;
        match start.call(&mut self.store, &[], &mut []) {
            Ok(()) => Ok(0),
            Err(e) => (self.exit_status)(&e).ok_or_else(|| error_text(&e)),
        }
    }
}

/// An error with its causes, as one line.
fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// No exit statuses: for instances without WASI.
fn no_exit_status(_: &Error) -> Option<i32> {
    None
}

/// Writes `message` into the caller's buffer.
///
/// # Safety
/// `err` is null or valid for writes of `err_len` bytes.
unsafe fn set_error(err: *mut c_char, err_len: usize, message: &str) {
    if err.is_null() || err_len == 0 {
        return;
    }
    let n = message.len().min(err_len - 1);
    // SAFETY: `n + 1 <= err_len` bytes of `err` are writable (the contract); the source is a
    // different, live allocation.
    unsafe {
        std::ptr::copy_nonoverlapping(message.as_ptr(), err.cast::<u8>(), n);
        *err.add(n) = 0;
    }
}

/// The artifact, or null with the error written.
///
/// # Safety
/// As for [`set_error`].
unsafe fn artifact_or_error(
    r: Result<Artifact, crate::LoadError>,
    err: *mut c_char,
    err_len: usize,
) -> *mut KilnArtifact {
    match r {
        Ok(a) => Box::into_raw(Box::new(KilnArtifact(a))),
        Err(e) => {
            // SAFETY: the caller's contract.
            unsafe { set_error(err, err_len, &e.to_string()) };
            std::ptr::null_mut()
        }
    }
}

/// Opens and maps the artifact file at `path` (a NUL-terminated string).
///
/// # Safety
/// `path` is a valid NUL-terminated string; `err` is null or valid for `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_artifact_open(
    path: *const c_char,
    err: *mut c_char,
    err_len: usize,
) -> *mut KilnArtifact {
    // SAFETY: the caller's contract.
    let path = unsafe { CStr::from_ptr(path) };
    let path = std::path::Path::new(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path.to_bytes()),
    );
    // SAFETY: the caller's contract.
    unsafe { artifact_or_error(Artifact::open(path), err, err_len) }
}

/// Loads an artifact from `len` bytes at `bytes`, copied (see `Artifact::from_bytes`).
///
/// # Safety
/// `bytes` is valid for reads of `len` bytes; `err` as for [`kiln_artifact_open`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_artifact_from_bytes(
    bytes: *const u8,
    len: usize,
    err: *mut c_char,
    err_len: usize,
) -> *mut KilnArtifact {
    // SAFETY: the caller's contract.
    let bytes = unsafe { std::slice::from_raw_parts(bytes, len) };
    // SAFETY: the caller's contract.
    unsafe { artifact_or_error(Artifact::from_bytes(bytes), err, err_len) }
}

/// Uses the artifact image of `len` bytes at `image` in place (see `Artifact::from_static`).
///
/// # Safety
/// `image` is mapped readable and executable, and never written, for the rest of the process
/// (the section of a linked `kiln compile --emit obj` object is); `err` as for
/// [`kiln_artifact_open`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_artifact_from_static(
    image: *const u8,
    len: usize,
    err: *mut c_char,
    err_len: usize,
) -> *mut KilnArtifact {
    // SAFETY: the caller's contract: the image lives, unchanged, for the process.
    let image: &'static [u8] = unsafe { std::slice::from_raw_parts(image, len) };
    // SAFETY: the caller's contract.
    let loaded = unsafe { Artifact::from_static(image) };
    // SAFETY: the caller's contract.
    unsafe { artifact_or_error(loaded, err, err_len) }
}

/// Frees an artifact (null is ignored). Instances made from it keep what they need.
///
/// # Safety
/// `artifact` is null or was returned by a `kiln_artifact_*` function and not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_artifact_free(artifact: *mut KilnArtifact) {
    if !artifact.is_null() {
        // SAFETY: the caller's contract: ours, from `Box::into_raw`, freed once.
        drop(unsafe { Box::from_raw(artifact) });
    }
}

/// Instantiates `artifact`, which must import nothing, in a new store of its own.
///
/// # Safety
/// `artifact` was returned by a `kiln_artifact_*` function and not freed; `err` as for
/// [`kiln_artifact_open`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_instance_new(
    artifact: *const KilnArtifact,
    err: *mut c_char,
    err_len: usize,
) -> *mut KilnInstance {
    // SAFETY: the caller's contract.
    let artifact = unsafe { &(*artifact).0 };
    let mut store = Store::new(());
    match Instance::new(&mut store, artifact, &[]) {
        Ok(instance) => Box::into_raw(Box::new(KilnInstance::new(store, instance, no_exit_status))),
        Err(e) => {
            // SAFETY: the caller's contract.
            unsafe { set_error(err, err_len, &e.to_string()) };
            std::ptr::null_mut()
        }
    }
}

/// Frees an instance and its store (null is ignored).
///
/// # Safety
/// `instance` is null or was returned by [`kiln_instance_new`] or [`kiln_instance_new_wasi`]
/// and not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_instance_free(instance: *mut KilnInstance) {
    if !instance.is_null() {
        // SAFETY: the caller's contract: ours, from `Box::into_raw`, freed once.
        drop(unsafe { Box::from_raw(instance) });
    }
}

/// Calls export `name` with `nargs` arguments and room for `nresults` results (both must match
/// its type, of numbers only). Returns 0, or -1 with the error (a trap, a type mismatch, an
/// unknown export) written.
///
/// # Safety
/// `instance` was returned by [`kiln_instance_new`] and not freed, and is not used by another
/// thread during the call; `name` is a NUL-terminated string; `args` is valid for `nargs` reads
/// and `results` for `nresults` writes; `err` as for [`kiln_artifact_open`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_instance_call(
    instance: *mut KilnInstance,
    name: *const c_char,
    args: *const u64,
    nargs: usize,
    results: *mut u64,
    nresults: usize,
    err: *mut c_char,
    err_len: usize,
) -> c_int {
    // SAFETY: the caller's contract: exclusive use for the call.
    let inst = unsafe { &mut *instance };
    // SAFETY: the caller's contract.
    let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
    let args: &[u64] = if nargs == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(args, nargs) }
    };
    match inst.0.call(&name, args, nresults) {
        Ok(values) => {
            for (i, v) in values.into_iter().enumerate() {
                // SAFETY: `values` has `nresults` entries (checked by `call`), and `results` is
                // valid for that many writes (the contract).
                unsafe { *results.add(i) = v };
            }
            0
        }
        Err(message) => {
            // SAFETY: the caller's contract.
            unsafe { set_error(err, err_len, &message) };
            -1
        }
    }
}

/// The safe part of [`kiln_instance_call`].
fn call<T: 'static>(
    store: &mut Store<T>,
    instance: &Instance,
    name: &str,
    args: &[u64],
    nresults: usize,
) -> Result<Vec<u64>, String> {
    let func = instance
        .get_func(&mut *store, name)
        .ok_or_else(|| format!("no exported function `{name}`"))?;
    let ty = func.ty(&*store);
    if ty.params().len() != args.len() || ty.results().len() != nresults {
        return Err(format!(
            "`{name}` has type {ty}: {} arguments and {} results were given",
            args.len(),
            nresults
        ));
    }
    let params = ty
        .params()
        .iter()
        .zip(args)
        .map(|(t, &a)| match t {
            ValType::I32 => Ok(Val::I32(a as u32 as i32)),
            ValType::I64 => Ok(Val::I64(a as i64)),
            ValType::F32 => Ok(Val::F32(a as u32)),
            ValType::F64 => Ok(Val::F64(a)),
            other => Err(format!(
                "`{name}` takes a {other}, which C cannot pass here"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = vec![Val::I32(0); nresults];
    func.call(store, &params, &mut out)
        .map_err(|e| error_text(&e))?;
    out.iter()
        .map(|v| match v {
            Val::I32(x) => Ok(*x as u32 as u64),
            Val::I64(x) => Ok(*x as u64),
            Val::F32(x) => Ok(u64::from(*x)),
            Val::F64(x) => Ok(*x),
            other => Err(format!(
                "`{name}` returned {other}, which C cannot receive here"
            )),
        })
        .collect()
}

/// Runs the WASI command `instance` (its export `_start`, no arguments). Returns 0 and writes the
/// guest's exit status into `*status` (0 when `_start` returns, the status of `proc_exit`
/// otherwise), or -1 with the error (a trap, no `_start`) written.
///
/// # Safety
/// As for [`kiln_instance_call`]; `status` is valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_instance_run(
    instance: *mut KilnInstance,
    status: *mut c_int,
    err: *mut c_char,
    err_len: usize,
) -> c_int {
    // SAFETY: the caller's contract: exclusive use for the call.
    let inst = unsafe { &mut *instance };
    match inst.0.run() {
        Ok(code) => {
            // SAFETY: the caller's contract.
            unsafe { *status = code };
            0
        }
        Err(message) => {
            // SAFETY: the caller's contract.
            unsafe { set_error(err, err_len, &message) };
            -1
        }
    }
}

/// A C host's WASI configuration (`kiln_wasi_config` in C), and how to instantiate with it.
/// Nothing is checked until instantiation.
#[derive(Debug)]
pub struct KilnWasiConfig {
    /// The program's arguments, `argv[0]` first.
    pub args: Vec<String>,
    /// Environment variables, as (name, value).
    pub env: Vec<(String, String)>,
    /// Preopened directories, as (host path, guest path).
    pub preopens: Vec<(String, String)>,
    /// Whether the guest's stdin, stdout and stderr are the host's.
    pub inherit_stdio: bool,
    /// Builds the instance (`kiln-capi`'s WASI linking).
    instantiate: WasiInstantiate,
}

/// Builds an instance of an artifact with WASI from a configuration.
pub type WasiInstantiate = fn(&Artifact, &KilnWasiConfig) -> Result<KilnInstance, String>;

impl KilnWasiConfig {
    /// An empty configuration (no arguments, environment or directories, stdio closed) whose
    /// instances `instantiate` builds.
    pub fn new(instantiate: WasiInstantiate) -> Self {
        KilnWasiConfig {
            args: Vec::new(),
            env: Vec::new(),
            preopens: Vec::new(),
            inherit_stdio: false,
            instantiate,
        }
    }
}

/// Instantiates `artifact` in a new store with WASI configured by `config` (any other import is
/// an error). Returns null with the error written on failure.
///
/// # Safety
/// `artifact` was returned by a `kiln_artifact_*` function and `config` by
/// `kiln_wasi_config_new`, neither freed; `err` as for [`kiln_artifact_open`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_instance_new_wasi(
    artifact: *const KilnArtifact,
    config: *const KilnWasiConfig,
    err: *mut c_char,
    err_len: usize,
) -> *mut KilnInstance {
    // SAFETY: the caller's contract.
    let (artifact, config) = unsafe { (&(*artifact).0, &*config) };
    match (config.instantiate)(artifact, config) {
        Ok(instance) => Box::into_raw(Box::new(instance)),
        Err(message) => {
            // SAFETY: the caller's contract.
            unsafe { set_error(err, err_len, &message) };
            std::ptr::null_mut()
        }
    }
}

/// A C string as Rust text (invalid UTF-8 replaced).
///
/// # Safety
/// `s` is a valid NUL-terminated string.
unsafe fn text(s: *const c_char) -> String {
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

/// Appends an argument (the first is the program's name).
///
/// # Safety
/// `config` came from `kiln_wasi_config_new` and is not freed; `arg` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_wasi_config_arg(config: *mut KilnWasiConfig, arg: *const c_char) {
    // SAFETY: the caller's contract.
    unsafe { (*config).args.push(text(arg)) };
}

/// Sets environment variable `name` to `value`.
///
/// # Safety
/// As for [`kiln_wasi_config_arg`]; `name` and `value` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_wasi_config_env(
    config: *mut KilnWasiConfig,
    name: *const c_char,
    value: *const c_char,
) {
    // SAFETY: the caller's contract.
    unsafe { (*config).env.push((text(name), text(value))) };
}

/// Gives the guest the host directory `host_path` as `guest_path`.
///
/// # Safety
/// As for [`kiln_wasi_config_arg`]; both paths are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_wasi_config_preopen_dir(
    config: *mut KilnWasiConfig,
    host_path: *const c_char,
    guest_path: *const c_char,
) {
    // SAFETY: the caller's contract.
    unsafe { (*config).preopens.push((text(host_path), text(guest_path))) };
}

/// Gives the guest the host's stdin, stdout and stderr.
///
/// # Safety
/// `config` came from `kiln_wasi_config_new` and is not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_wasi_config_inherit_stdio(config: *mut KilnWasiConfig) {
    // SAFETY: the caller's contract.
    unsafe { (*config).inherit_stdio = true };
}

/// Frees a configuration (null is ignored). Instances made with it do not need it.
///
/// # Safety
/// `config` is null or came from `kiln_wasi_config_new` and is not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_wasi_config_free(config: *mut KilnWasiConfig) {
    if !config.is_null() {
        // SAFETY: the caller's contract: ours, from `Box::into_raw`, freed once.
        drop(unsafe { Box::from_raw(config) });
    }
}
