//! The process: `proc_exit` (handled by the registration, as it returns no errno), `proc_raise`
//! and `sched_yield`.

use crate::errno::{Errno, WasiResult};
use crate::Call;

/// `proc_raise(sig: signal) -> errno`: signals are not supported (`ENOSYS`).
pub(crate) fn proc_raise(_cx: &mut Call<'_>) -> WasiResult<()> {
    Err(Errno::Nosys)
}

/// `sched_yield() -> errno`
pub(crate) fn sched_yield(_cx: &mut Call<'_>) -> WasiResult<()> {
    std::thread::yield_now();
    Ok(())
}
