//! `kiln_instance_new_wasi`: an instance whose WASI preview-1 imports are `kiln-wasi`'s. The
//! pointers are the loader's to read ([`instance_new_wasi`]); this file only builds the store.

use kiln_loader::capi::{instance_new_wasi, KilnArtifact, KilnInstance, KilnWasiConfig};
use kiln_loader::{Artifact, Error, Linker, Store};
use kiln_wasi::{I32Exit, WasiCtx};
use std::ffi::c_char;

/// Instantiates `artifact` in a new store with WASI configured by `config` (any other import is
/// an error). Returns null with the error written on failure.
///
/// # Safety
/// `artifact` came from a `kiln_artifact_*` function and `config` from `kiln_wasi_config_new`,
/// neither freed; `err` is null or valid for writes of `err_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_instance_new_wasi(
    artifact: *const KilnArtifact,
    config: *const KilnWasiConfig,
    err: *mut c_char,
    err_len: usize,
) -> *mut KilnInstance {
    // SAFETY: the caller's contract is `instance_new_wasi`'s.
    unsafe { instance_new_wasi(artifact, config, err, err_len, instantiate) }
}

/// The store's host data: the WASI context.
struct Host {
    wasi: WasiCtx,
}

/// Builds the WASI context, links WASI and instantiates.
fn instantiate(artifact: &Artifact, config: &KilnWasiConfig) -> Result<KilnInstance, String> {
    let mut builder = WasiCtx::builder().args(config.args.iter().cloned());
    for (name, value) in &config.env {
        builder = builder.env(name, value);
    }
    for (host, guest) in &config.preopens {
        builder = builder.preopen_dir(host, guest);
    }
    if config.inherit_stdio {
        builder = builder.inherit_stdio();
    }
    let wasi = builder.build().map_err(|e| e.to_string())?;
    let mut linker = Linker::<Host>::new();
    kiln_wasi::add_to_linker(&mut linker, |host: &mut Host| &mut host.wasi)
        .map_err(|e| e.to_string())?;
    let mut store = Store::new(Host { wasi });
    let instance = linker
        .instantiate(&mut store, artifact)
        .map_err(|e| format!("instantiation failed: {e}"))?;
    Ok(KilnInstance::new(store, instance, exit_status))
}

/// The status of WASI's `proc_exit`, if that ended the call.
fn exit_status(error: &Error) -> Option<i32> {
    error.downcast_ref::<I32Exit>().map(|exit| exit.0)
}
