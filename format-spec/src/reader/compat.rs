//! Whether this machine can run an artifact: target, CPU features and the run-time settings this
//! loader implements.

use crate::error::{FormatError, Location};
use crate::header::{
    ArtifactHeader, BOUNDS_STATIC_GUARD, KNOWN_FLAGS, OS_LINUX, STACK_LIMIT_STORE_CONTEXT,
};
use crate::target::{feature_names, host_features, Arch};
use crate::vmctx::{MEMORY_GUARD, MEMORY_RESERVATION};

/// Checks that this machine can run the artifact: architecture, OS, CPU features, and the
/// run-time settings this loader implements.
pub fn check_compatibility(h: &ArtifactHeader) -> Result<(), FormatError> {
    let arch = Arch::from_code(h.arch.get()).ok_or_else(|| {
        FormatError::corrupt(
            Location::Header("arch"),
            format_args!("unknown architecture code {}", h.arch),
        )
    })?;
    let host = Arch::host();
    if host != Some(arch) || h.os.get() != OS_LINUX || !cfg!(target_os = "linux") {
        return Err(FormatError::WrongTarget {
            found: h.triple_str().to_string(),
            host: host_triple(),
        });
    }
    let missing = h.cpu_features.get() & !host_features();
    if missing != 0 {
        return Err(FormatError::MissingCpuFeatures(feature_names(
            arch, missing,
        )));
    }
    if h.bounds_checks != BOUNDS_STATIC_GUARD {
        return Err(FormatError::UnsupportedSetting(format!(
            "bounds-check strategy {}",
            h.bounds_checks
        )));
    }
    if h.stack_limit_scheme != STACK_LIMIT_STORE_CONTEXT {
        return Err(FormatError::UnsupportedSetting(format!(
            "stack-limit scheme {}",
            h.stack_limit_scheme
        )));
    }
    let unknown = h.flags.get() & !KNOWN_FLAGS;
    if unknown != 0 {
        return Err(FormatError::UnsupportedSetting(format!(
            "header flags 0x{unknown:x}"
        )));
    }
    if h.memory_guard.get() != MEMORY_GUARD {
        return Err(FormatError::UnsupportedSetting(format!(
            "memory guard of {} bytes",
            h.memory_guard
        )));
    }
    if h.memory_reservation.get() != MEMORY_RESERVATION {
        return Err(FormatError::UnsupportedSetting(format!(
            "memory reservation of {} bytes",
            h.memory_reservation
        )));
    }
    Ok(())
}

/// This machine's target triple, as Kiln names targets.
pub fn host_triple() -> String {
    match Arch::host() {
        Some(a) if cfg!(target_os = "linux") => a.triple().to_string(),
        _ => format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
    }
}
