//! Throw+catch cost: `throw_catch(n, depth)` throws n exceptions, each from `depth` + 2 frames
//! below its `try_table` handler (`catch`, no `exnref`), and returns the sum of their payloads;
//! `return_only(n, depth)` makes the same calls inside the same `try_table`, returning normally,
//! as the baseline (the cost of the calls without the throw). Per throw, against Wasmtime on the
//! same module.

use crate::modules::{Kernel, KernelScale};
use crate::report::{Row, Target, Unit};
use crate::runtime::{Interrupt, Runtime};
use crate::{compile_all, median, progress, rotation, run_kernel, Config};
use anyhow::Result;
use std::path::Path;

/// Section title.
pub const EXCEPTIONS: &str = "Exceptions: throw + catch (per throw)";

/// The module: exports of type `(i32, i32) -> i64`, so that the kernel runners call them.
pub const EXCEPTIONS_WAT: &str = r#"
(module
  (tag $e (param i32))
  (func $thrower (param i32) (throw $e (local.get 0)))
  (func $deep (param i32 i32)
    (if (i32.eqz (local.get 1)) (then (call $thrower (local.get 0)) (return)))
    (call $deep (local.get 0) (i32.sub (local.get 1) (i32.const 1))))
  (func (export "throw_catch") (param $n i32) (param $depth i32) (result i64)
    (local $sum i64)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (call $deep (local.get $n) (local.get $depth)))
        (unreachable))
      (local.set $sum (i64.add (i64.extend_i32_u) (local.get $sum)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $sum))
  (func $deep_ret (param i32 i32) (result i32)
    (if (result i32) (i32.eqz (local.get 1)) (then (local.get 0))
      (else (call $deep_ret (local.get 0) (i32.sub (local.get 1) (i32.const 1))))))
  (func (export "return_only") (param $n i32) (param $depth i32) (result i64)
    (local $sum i64)
    (loop $l
      (block $h (result i32)
        (try_table (result i32) (catch $e $h) (call $deep_ret (local.get $n) (local.get $depth))))
      (local.set $sum (i64.add (i64.extend_i32_u) (local.get $sum)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $sum)))
"#;

/// Throws per run.
fn throws(scale: KernelScale) -> i32 {
    match scale {
        KernelScale::Full => 200_000,
        KernelScale::Quick => 20_000,
        KernelScale::Smoke => 100,
    }
}

/// Measures throw+catch at three depths, checking every run's sum.
pub fn bench_exceptions(config: &Config, rts: &[Box<dyn Runtime>], dir: &Path) -> Result<Vec<Row>> {
    progress("exceptions");
    let wasm = wat::parse_str(EXCEPTIONS_WAT)?;
    let compiled = compile_all(rts, dir, "exceptions", wasm, Interrupt::None)?;
    let mut runners = Vec::new();
    for (rt, path) in rts.iter().zip(&compiled.paths) {
        runners.push(rt.kernel_runner(path, Interrupt::None)?);
    }
    let n = throws(config.kernel_scale);
    let expected = i64::from(n) * (i64::from(n) + 1) / 2;
    let mut rows = Vec::new();
    for depth in [0, 10, 100] {
        let kernel = |export| Kernel {
            export,
            label: "",
            args: (n, depth),
            two_args: true,
        };
        let (throw, plain) = (kernel("throw_catch"), kernel("return_only"));
        let mut samples = vec![Vec::new(); rts.len()];
        let mut baseline = Vec::new();
        for rep in 0..config.kernel_reps {
            baseline.push(run_kernel(
                &mut *runners[0],
                rts[0].name(),
                &plain,
                expected,
            )?);
            for i in rotation(runners.len(), rep) {
                samples[i].push(run_kernel(
                    &mut *runners[i],
                    rts[i].name(),
                    &throw,
                    expected,
                )?);
            }
        }
        let per = |v: f64| v / f64::from(n);
        rows.push(
            Row::new(
                EXCEPTIONS,
                format!("throw from {} frames below the handler, caught", depth + 2),
                Unit::Nanos,
                per(median(&samples[0])),
            )
            .baseline("the same calls returning", per(median(&baseline)))
            .wasmtime(samples.get(1).map(|s| per(median(s))))
            .target(Target::MaxVsWasmtime(1.0)),
        );
    }
    Ok(rows)
}
