//! Calls from guest code to the host: an imported typed host function `(i32) -> i32` called N
//! times in a guest loop, with and without a `Caller` argument, and host→guest→host round trips
//! (a typed call of an export that calls the host function once). The baseline is the native
//! call of the host→guest section: an empty function called through a pointer.

use crate::modules::HOSTCALLS_WAT;
use crate::report::{Row, Target, Unit};
use crate::runtime::{self, HostCallKind, Interrupt, Runtime};
use crate::{compile_all, median, ns, progress, rotation, Config};
use anyhow::{bail, Result};
use std::path::Path;
use std::time::Duration;

/// Section title.
pub const HOSTCALLS: &str = "Guest→host calls (per call)";

/// The row name of each kind, in [`HostCallKind::ALL`] order.
fn describe(kind: HostCallKind) -> &'static str {
    match kind {
        HostCallKind::GuestToHost => {
            "guest→host: (i32) -> i32 host function (Func::wrap), called in a guest loop"
        }
        HostCallKind::RoundTrip => {
            "host→guest→host: TypedFunc::call of an export that calls the host function once"
        }
        HostCallKind::GuestToHostCaller => {
            "guest→host with Caller: host function reading caller.data(), called in a guest loop"
        }
    }
}

/// Measures every [`HostCallKind`] with `config.call_iters` calls per repetition; each result is
/// checked (every call adds 1, so N calls give N).
pub fn bench_hostcalls(config: &Config, rts: &[Box<dyn Runtime>], dir: &Path) -> Result<Vec<Row>> {
    progress("host calls");
    let wasm = wat::parse_str(HOSTCALLS_WAT)?;
    let compiled = compile_all(rts, dir, "hostcalls", wasm, Interrupt::None)?;
    let mut runners = Vec::new();
    for (rt, path) in rts.iter().zip(&compiled.paths) {
        runners.push(rt.host_call_runner(path)?);
    }
    let iters = config.call_iters;
    let per = |d: Duration| ns(d) / iters as f64;
    let mut run = |i: usize, kind: HostCallKind, n: u64| -> Result<Duration> {
        let (t, got) = runners[i].run(kind, n)?;
        if i64::from(got) != n as i64 {
            bail!(
                "{}: {} made {n} calls adding 1 each, but computed {got}",
                rts[i].name(),
                describe(kind)
            );
        }
        Ok(t)
    };
    for i in 0..rts.len() {
        for kind in HostCallKind::ALL {
            run(i, kind, iters.min(1000))?;
        }
    }
    // [kind][runtime] samples, and the native baseline.
    let mut samples = vec![vec![Vec::new(); rts.len()]; HostCallKind::ALL.len()];
    let mut native = Vec::new();
    for rep in 0..config.reps {
        native.push(per(runtime::native_calls(iters)));
        for (k, kind) in HostCallKind::ALL.into_iter().enumerate() {
            for i in rotation(rts.len(), rep) {
                samples[k][i].push(per(run(i, kind, iters)?));
            }
        }
    }
    let native = median(&native);
    Ok(HostCallKind::ALL
        .into_iter()
        .zip(&samples)
        .map(|(kind, s)| {
            Row::new(HOSTCALLS, describe(kind), Unit::Nanos, median(&s[0]))
                .baseline("native call via pointer", native)
                .wasmtime(s.get(1).map(|s| median(s)))
                .target(Target::MaxVsWasmtime(1.0))
        })
        .collect())
}
