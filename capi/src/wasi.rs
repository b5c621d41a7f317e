//! `kiln_wasi_config_new`: a WASI configuration whose instances get `kiln-wasi`'s preview-1
//! functions. The loader reads every C pointer (`kiln_instance_new_wasi` and the
//! `kiln_wasi_config_*` setters); this file dereferences no pointer, it only builds the store.

use kiln_loader::capi::{KilnInstance, KilnWasiConfig};
use kiln_loader::{Artifact, Error, Linker, Store};
use kiln_wasi::{I32Exit, WasiCtx};

/// A new, empty WASI configuration (no arguments, environment or directories, stdio closed),
/// freed by `kiln_wasi_config_free`.
#[allow(
    unsafe_code,
    reason = "`no_mangle` exports the C symbol; the function's body is safe code"
)]
#[unsafe(no_mangle)]
pub extern "C" fn kiln_wasi_config_new() -> *mut KilnWasiConfig {
    Box::into_raw(Box::new(KilnWasiConfig::new(instantiate)))
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
