//! Clocks: `clock_res_get` and `clock_time_get`, in nanoseconds.

use crate::errno::{Errno, WasiResult};
use crate::types::clockid;
use crate::Call;
use rustix::time::{ClockId, Timespec};

fn host_clock(id: u32) -> WasiResult<ClockId> {
    Ok(match id {
        clockid::REALTIME => ClockId::Realtime,
        clockid::MONOTONIC => ClockId::Monotonic,
        clockid::PROCESS_CPUTIME_ID => ClockId::ProcessCPUTime,
        clockid::THREAD_CPUTIME_ID => ClockId::ThreadCPUTime,
        _ => return Err(Errno::Inval),
    })
}

fn nanos(t: Timespec) -> u64 {
    (t.tv_sec.max(0) as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec.max(0) as u64)
}

/// The current time of WASI clock `id`, in nanoseconds (`EINVAL` for an unknown clock).
pub(crate) fn now(id: u32) -> WasiResult<u64> {
    Ok(nanos(rustix::time::clock_gettime(host_clock(id)?)))
}

/// The resolution of WASI clock `id`, in nanoseconds.
pub(crate) fn resolution(id: u32) -> WasiResult<u64> {
    Ok(nanos(rustix::time::clock_getres(host_clock(id)?)).max(1))
}

/// `clock_res_get(id: clockid) -> (errno, timestamp)`
pub(crate) fn clock_res_get(cx: &mut Call<'_>) -> WasiResult<()> {
    let (id, out) = (cx.u32(0), cx.u32(1));
    cx.mem.check(out, 8, 8)?;
    let res = resolution(id)?;
    cx.mem.write_u64(out, res)
}

/// `clock_time_get(id: clockid, precision: timestamp) -> (errno, timestamp)`
pub(crate) fn clock_time_get(cx: &mut Call<'_>) -> WasiResult<()> {
    let (id, out) = (cx.u32(0), cx.u32(2));
    cx.mem.check(out, 8, 8)?;
    let t = now(id)?;
    cx.mem.write_u64(out, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_tick() {
        let wall = now(clockid::REALTIME).unwrap();
        // After 2020-01-01.
        assert!(wall > 1_577_836_800_000_000_000);
        let a = now(clockid::MONOTONIC).unwrap();
        let b = now(clockid::MONOTONIC).unwrap();
        assert!(b >= a);
        assert!(now(clockid::PROCESS_CPUTIME_ID).is_ok());
        assert!(now(clockid::THREAD_CPUTIME_ID).is_ok());
        assert_eq!(now(4), Err(Errno::Inval));
        assert!(resolution(clockid::MONOTONIC).unwrap() >= 1);
        assert_eq!(resolution(99), Err(Errno::Inval));
    }
}
