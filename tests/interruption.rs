//! Stopping runaway guests: epoch deadlines (from another thread, with or without a callback) and
//! fuel, on artifacts compiled for them; a clear error when asking for either on an artifact that
//! was not.

mod common;

use common::{load_wat, load_wat_with};
use kiln_compiler::CompileOptions;
use kiln_loader::{Engine, Error, Instance, Store, TrapKind, UpdateDeadline};
use std::time::{Duration, Instant};

const SPIN: &str = r#"
(module
  (memory 1)
  (func (export "spin") (loop (br 0)))
  (func (export "spin_calls") (loop (call $leaf) (br 0)))
  (func $leaf)
  (func $spin_tail (export "spin_tail") (return_call $spin_tail))
  (func (export "count") (param $n i32) (result i32)
    (local $i i32)
    (loop
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if 0 (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $i))
  (func (export "three") (result i32) (i32.add (i32.const 1) (i32.const 2))))
"#;

fn epochs() -> CompileOptions {
    CompileOptions {
        epoch_interruption: true,
        ..CompileOptions::default()
    }
}

fn fuel() -> CompileOptions {
    CompileOptions {
        fuel: true,
        ..CompileOptions::default()
    }
}

#[test]
fn a_loop_with_no_calls_is_interrupted_from_another_thread() {
    let loaded = load_wat_with(SPIN, &epochs());
    let engine = Engine::new();
    let mut store = Store::with_engine(&engine, ());
    store.set_epoch_deadline(1).unwrap();
    let instance = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    for export in ["spin", "spin_calls", "spin_tail"] {
        store.set_epoch_deadline(1).unwrap();
        let ticker = {
            let engine = engine.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                engine.increment_epoch();
            })
        };
        let start = Instant::now();
        let err = instance.call(&mut store, export, &[]).unwrap_err();
        ticker.join().unwrap();
        let trap = err.as_trap().unwrap();
        assert_eq!(trap.kind, TrapKind::Interrupt, "{export}");
        // At the loop header of the export, or at the entry of the function it calls.
        let func = trap.func.as_deref();
        assert!(func == Some(export) || func == Some("leaf"), "{err}");
        // A tail call replaces its caller's frame: nothing but the function itself below it.
        if export == "spin_tail" {
            let guest_frames = trap.backtrace.iter().filter(|f| f.func_index.is_some());
            assert_eq!(guest_frames.count(), 1, "{:?}", trap.backtrace);
        }
        assert!(
            err.to_string().starts_with("wasm trap: interrupt in "),
            "{err}"
        );
        assert!(start.elapsed() < Duration::from_secs(10));
    }
    // The store stays usable: a new deadline, and code runs again.
    store.set_epoch_deadline(10).unwrap();
    let three = instance
        .get_typed_func::<(), i32>(&mut store, "three")
        .unwrap();
    assert_eq!(three.call(&mut store, ()).unwrap(), 3);
}

#[test]
fn a_deadline_callback_extends_the_deadline_or_stops_the_guest() {
    let loaded = load_wat_with(SPIN, &epochs());
    let engine = Engine::new();
    let mut store = Store::with_engine(&engine, 0u32);
    let instance = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    store
        .epoch_deadline_callback(|mut cx| {
            *cx.data_mut() += 1;
            if *cx.data() < 5 {
                Ok(UpdateDeadline::Continue(1))
            } else {
                Ok(UpdateDeadline::Interrupt)
            }
        })
        .unwrap();
    store.set_epoch_deadline(1).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ticker = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(2));
                engine.increment_epoch();
            }
        })
    };
    let err = instance.call(&mut store, "spin", &[]).unwrap_err();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    ticker.join().unwrap();
    assert_eq!(err.as_trap().unwrap().kind, TrapKind::Interrupt);
    // Continued four times, stopped at the fifth.
    assert_eq!(*store.data(), 5);
    // An error from the callback is the trap's error.
    store
        .epoch_deadline_callback(|_| Err("deadline policy refused".into()))
        .unwrap();
    store.set_epoch_deadline(0).unwrap();
    let err = instance.call(&mut store, "spin", &[]).unwrap_err();
    let why = err
        .as_trap()
        .and_then(|t| t.host_error())
        .unwrap()
        .to_string();
    assert_eq!(why, "deadline policy refused");
}

#[test]
fn a_new_store_traps_epoch_checked_code_until_a_deadline_is_set() {
    let loaded = load_wat_with(SPIN, &epochs());
    let mut store = Store::with_engine(&Engine::new(), ());
    let instance = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let e = instance.call(&mut store, "three", &[]).unwrap_err();
    assert_eq!(e.as_trap().unwrap().kind, TrapKind::Interrupt);
    store.set_epoch_deadline(1).unwrap();
    assert_eq!(
        instance.call(&mut store, "three", &[]).unwrap()[0].i32(),
        Some(3)
    );
}

#[test]
fn fuel_bounds_how_long_a_guest_runs() {
    let loaded = load_wat_with(SPIN, &fuel());
    let mut store = Store::new(());
    store.set_fuel(10_000).unwrap();
    let instance = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    for export in ["spin", "spin_tail"] {
        store.set_fuel(10_000).unwrap();
        let err = instance.call(&mut store, export, &[]).unwrap_err();
        assert_eq!(err.as_trap().unwrap().kind, TrapKind::OutOfFuel, "{export}");
        assert_eq!(
            err.to_string().split(" in ").next(),
            Some("wasm trap: all fuel consumed by WebAssembly")
        );
        assert_eq!(store.get_fuel().unwrap(), 0);
    }
    // Refuelled, the store runs code again.
    store.set_fuel(1000).unwrap();
    let three = instance
        .get_typed_func::<(), i32>(&mut store, "three")
        .unwrap();
    assert_eq!(three.call(&mut store, ()).unwrap(), 3);
    // Entry 1, two constants and an add: 4, as in Wasmtime.
    assert_eq!(store.get_fuel().unwrap(), 1000 - 4);
    // A counted loop costs the same every iteration: the cost is linear in the count.
    let count = instance
        .get_typed_func::<i32, i32>(&mut store, "count")
        .unwrap();
    let cost = |store: &mut Store<()>, n: i32| {
        store.set_fuel(1_000_000).unwrap();
        assert_eq!(count.call(&mut *store, n).unwrap(), n);
        1_000_000 - store.get_fuel().unwrap()
    };
    let (c10, c20, c30) = (
        cost(&mut store, 10),
        cost(&mut store, 20),
        cost(&mut store, 30),
    );
    assert!(c20 > c10, "{c10} {c20}");
    assert_eq!(c30 - c20, c20 - c10);
    // Checks happen at function entries and loop headers (as in Wasmtime): exactly enough fuel
    // runs the function to its end, and fuel for the entry alone traps there.
    store.set_fuel(4).unwrap();
    assert_eq!(three.call(&mut store, ()).unwrap(), 3);
    assert_eq!(store.get_fuel().unwrap(), 0);
    store.set_fuel(1).unwrap();
    let e = three.call(&mut store, ()).unwrap_err();
    assert_eq!(e.as_trap().unwrap().kind, TrapKind::OutOfFuel);
}

#[test]
fn fuel_or_epochs_on_an_artifact_compiled_without_them_is_a_clear_error() {
    let plain = load_wat(SPIN);
    let mut store = Store::new(());
    store.set_fuel(10).unwrap();
    let e = Instance::new(&mut store, &plain.artifact, &[])
        .err()
        .unwrap();
    assert!(matches!(e, Error::Config(_)));
    assert!(
        e.to_string()
            .contains("recompile it with `kiln compile --fuel`"),
        "{e}"
    );
    let mut store = Store::new(());
    Instance::new(&mut store, &plain.artifact, &[]).unwrap();
    let e = store.set_epoch_deadline(1).unwrap_err();
    assert!(
        e.to_string()
            .contains("`kiln compile --epoch-interruption`"),
        "{e}"
    );
    let e = store.set_fuel(1).unwrap_err();
    assert!(e.to_string().contains("--fuel"), "{e}");
    // Fuel was never enabled: asking for it is an error, not a made-up number.
    assert!(Store::new(()).get_fuel().is_err());
}

/// The function's copy of the deadline is reloaded after every call (`translate/epoch.rs`): a
/// deadline a host function extends during a call lets the caller's loop go on; one it lets pass
/// interrupts at the next check.
#[test]
fn a_deadline_moved_during_a_call_is_seen_by_the_caller() {
    let loaded = load_wat_with(
        r#"(module
          (import "host" "tick" (func $tick (param i32)))
          (func (export "run") (param $n i32) (param $extend i32) (result i32)
            (local $i i32)
            (loop
              (call $tick (local.get $extend))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if 0 (i32.lt_u (local.get $i) (local.get $n))))
            (local.get $i)))"#,
        &epochs(),
    );
    let engine = Engine::new();
    let mut store = Store::with_engine(&engine, ());
    let mut linker = kiln_loader::Linker::new();
    let ticker = engine.clone();
    linker
        .func_wrap(
            "host",
            "tick",
            move |mut caller: kiln_loader::Caller<'_, ()>,
                  extend: i32|
                  -> kiln_loader::Result<()> {
                ticker.increment_epoch();
                if extend != 0 {
                    kiln_loader::AsContextMut::as_context_mut(&mut caller).set_epoch_deadline(1)?;
                }
                Ok(())
            },
        )
        .unwrap();
    let instance = linker.instantiate(&mut store, &loaded.artifact).unwrap();
    let run = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "run")
        .unwrap();
    store.set_epoch_deadline(1).unwrap();
    assert_eq!(run.call(&mut store, (1000, 1)).unwrap(), 1000);
    store.set_epoch_deadline(1).unwrap();
    let e = run.call(&mut store, (1000, 0)).unwrap_err();
    assert_eq!(e.as_trap().unwrap().kind, TrapKind::Interrupt, "{e}");
}

/// A loop whose values of every class are live across its epoch check: with a deadline callback
/// that continues at every check (a deadline of 0 more ticks is due at once), the loop computes what it computes
/// without epoch checks. The check calls the `epoch_interrupt` builtin through a stub that must
/// preserve every register (SPEC.md §4), host code clobbering them in between.
const MIX: &str = r#"
(module
  (func (export "mix") (param $n i32) (result i64)
    (local $a i32) (local $b i64) (local $c f32) (local $d f64) (local $v v128)
    (local.set $a (i32.const 7))
    (local.set $b (i64.const 11))
    (local.set $c (f32.const 1.5))
    (local.set $d (f64.const 2.25))
    (local.set $v (v128.const i32x4 1 2 3 4))
    (loop $l
      (local.set $a (i32.add (i32.mul (local.get $a) (i32.const 31)) (local.get $n)))
      (local.set $b (i64.xor (i64.rotl (local.get $b) (i64.const 7)) (i64.extend_i32_u (local.get $a))))
      (local.set $c (f32.add (f32.mul (local.get $c) (f32.const 1.0001)) (f32.const 0.5)))
      (local.set $d (f64.sub (f64.mul (local.get $d) (f64.const 0.999)) (f64.const 0.25)))
      (local.set $v (i32x4.add (local.get $v) (i32x4.splat (local.get $a))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i64.add
      (i64.add (local.get $b) (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $v))))
      (i64.add (i64.reinterpret_f64 (local.get $d))
               (i64.extend_i32_u (i32.reinterpret_f32 (local.get $c)))))))
"#;

#[test]
fn values_live_across_an_epoch_check_survive_the_deadline_callback() {
    let expected = {
        let loaded = load_wat(MIX);
        let mut store = Store::new(());
        let instance = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
        instance
            .get_typed_func::<i32, i64>(&mut store, "mix")
            .unwrap()
            .call(&mut store, 1000)
            .unwrap()
    };
    let loaded = load_wat_with(MIX, &epochs());
    let engine = Engine::new();
    let mut store = Store::with_engine(&engine, 0u32);
    let instance = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    store
        .epoch_deadline_callback(|mut cx| {
            *cx.data_mut() += 1;
            // Host code that uses vector and general registers, then a deadline already due.
            let noise: f64 = (1..50).map(|i| f64::from(i).sqrt()).sum();
            assert!(format!("{noise:.3}").len() > 3);
            Ok(UpdateDeadline::Continue(0))
        })
        .unwrap();
    store.set_epoch_deadline(0).unwrap();
    let mix = instance
        .get_typed_func::<i32, i64>(&mut store, "mix")
        .unwrap();
    assert_eq!(mix.call(&mut store, 1000).unwrap(), expected);
    // Every loop header and the function entry interrupted.
    assert!(*store.data() >= 1000, "{} callbacks", store.data());
}

#[test]
fn an_interrupt_trap_names_the_interrupted_function() {
    let loaded = load_wat_with(SPIN, &epochs());
    let mut store = Store::with_engine(&Engine::new(), ());
    let instance = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    store.set_epoch_deadline(0).unwrap();
    let err = instance
        .call(&mut store, "count", &[100.into()])
        .unwrap_err();
    let trap = err.as_trap().unwrap();
    assert_eq!(trap.kind, TrapKind::Interrupt);
    assert_eq!(
        trap.backtrace.first().map(|f| f.func_name.as_str()),
        Some("count"),
        "{trap:?}"
    );
}
