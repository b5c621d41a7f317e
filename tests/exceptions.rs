//! Exception handling end to end: throws that cross guest frames, instances and host frames,
//! exceptions that reach the host with their tag and payload, host functions that throw, rethrow
//! through `exnref`, traps that no handler catches, and the interplay with fuel and epochs.

mod common;

use common::{instantiate, load_wat, load_wat_with};
use kiln_compiler::CompileOptions;
use kiln_loader::{
    BoxError, Caller, Error, Extern, Func, Instance, Store, Tag, TagType, ThrownException,
    TrapKind, Val, ValType,
};

/// The exception an invocation must end with.
fn thrown<T>(
    store: &mut Store<T>,
    instance: &Instance,
    name: &str,
    args: &[Val],
) -> ThrownException {
    match instance.call(store, name, args) {
        Err(Error::Exception(e)) => e,
        other => panic!("{name}: expected an exception, got {other:?}"),
    }
}

const FRAMES: &str = r#"
(module
  (tag $e (export "e") (param i32 i64 f32 f64))
  (tag $other (export "other"))
  (func $f3 (param i32)
    (if (i32.eqz (local.get 0)) (then (throw $other)))
    (throw $e (local.get 0) (i64.const -5) (f32.const 1.5) (f64.const 2.25)))
  (func $f2 (param i32) (result i32)
    (call $f3 (local.get 0)) (i32.const 99))
  (func $f1 (param i32) (result i32)
    (i32.add (call $f2 (local.get 0)) (i32.const 1)))
  ;; Catches $e three frames down; $other passes through to the caller.
  (func (export "catch") (param i32) (result i32 i64 f32 f64)
    (block $h (result i32 i64 f32 f64)
      (try_table (catch $e $h)
        (drop (call $f1 (local.get 0))))
      (unreachable)))
  (func (export "uncaught") (param i32) (result i32)
    (call $f1 (local.get 0)))
  ;; Recursion `n` deep, then a throw the outermost frame catches.
  (func $deep (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then (throw $e (i32.const 7) (i64.const 0) (f32.const 0) (f64.const 0))))
    (i32.add (call $deep (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "deep") (param i32) (result i32)
    (block $h (result i32 i64 f32 f64)
      (try_table (catch $e $h) (drop (call $deep (local.get 0))))
      (unreachable))
    (drop) (drop) (drop))
  ;; A trap inside a try_table is not an exception: catch_all does not see it.
  (func (export "trap") (result i32)
    (block $h
      (try_table (catch_all $h) (unreachable)))
    (i32.const 1))
  ;; catch_ref, then throw_ref: the same exception reaches the host.
  (func (export "rethrow") (param i32)
    (block $h (result i32 i64 f32 f64 exnref)
      (try_table (catch_ref $e $h) (drop (call $f1 (local.get 0))))
      (unreachable))
    (throw_ref)
    (drop) (drop) (drop) (drop))
  ;; A throw in a loop, caught each time: objects caught without a reference are reused.
  (func (export "loop") (param i32) (result i32)
    (local $sum i32)
    (loop $l
      (block $h (result i32 i64 f32 f64)
        (try_table (catch $e $h) (drop (call $f1 (local.get 0))))
        (unreachable))
      (drop) (drop) (drop)
      (local.set $sum (i32.add (local.get $sum)))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $l (local.get 0)))
    (local.get $sum)))
"#;

#[test]
fn a_throw_crosses_guest_frames_to_its_handler_with_the_payload() {
    let (mut store, instance, _l) = instantiate(FRAMES);
    let results = instance.call(&mut store, "catch", &[Val::I32(3)]).unwrap();
    assert_eq!(
        results,
        [
            Val::I32(3),
            Val::I64(-5),
            Val::F32(1.5f32.to_bits()),
            Val::F64(2.25f64.to_bits())
        ]
    );
    // Another tag is not caught by `catch $e`: it leaves the guest.
    let e = thrown(&mut store, &instance, "catch", &[Val::I32(0)]);
    assert_eq!(Some(e.tag()), instance.get_tag(&mut store, "other"));
    assert!(e.payload().is_empty());
}

#[test]
fn an_uncaught_exception_reaches_the_host_with_tag_and_payload() {
    let (mut store, instance, _l) = instantiate(FRAMES);
    let e = thrown(&mut store, &instance, "uncaught", &[Val::I32(11)]);
    let tag = instance.get_tag(&mut store, "e").unwrap();
    assert_eq!(e.tag(), tag);
    assert_eq!(e.payload()[0], Val::I32(11));
    assert_eq!(e.payload()[1], Val::I64(-5));
    assert_eq!(
        tag.ty(&store).unwrap().params(),
        [ValType::I32, ValType::I64, ValType::F32, ValType::F64]
    );
    assert!(e.to_string().contains("uncaught wasm exception"));
    // The store carries on.
    assert_eq!(
        instance.call(&mut store, "catch", &[Val::I32(4)]).unwrap()[0],
        Val::I32(4)
    );
}

#[test]
fn a_throw_at_the_bottom_of_a_deep_recursion_is_caught_at_the_top() {
    let (mut store, instance, _l) = instantiate(FRAMES);
    for depth in [0, 1, 100, 5000] {
        let r = instance
            .call(&mut store, "deep", &[Val::I32(depth)])
            .unwrap();
        assert_eq!(r, [Val::I32(7)], "depth {depth}");
    }
}

#[test]
fn traps_inside_try_table_are_not_caught() {
    let (mut store, instance, _l) = instantiate(FRAMES);
    match instance.call(&mut store, "trap", &[]) {
        Err(Error::Trap(t)) => assert_eq!(t.kind, TrapKind::Unreachable),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn catch_ref_and_throw_ref_rethrow_the_same_exception() {
    let (mut store, instance, _l) = instantiate(FRAMES);
    let e = thrown(&mut store, &instance, "rethrow", &[Val::I32(21)]);
    assert_eq!(e.payload()[0], Val::I32(21));
    let exn = e.exn_ref();
    assert_eq!(exn.tag(&store).unwrap(), e.tag());
    assert_eq!(exn.payload(&store).unwrap(), e.payload());
}

#[test]
fn many_throws_caught_in_a_loop() {
    let (mut store, instance, _l) = instantiate(FRAMES);
    let r = instance
        .call(&mut store, "loop", &[Val::I32(10_000)])
        .unwrap();
    assert_eq!(r, [Val::I32((1..=10_000).sum::<i32>())]);
}

const THROWER: &str = r#"
(module
  (tag $e (export "e") (param i32))
  (func (export "throw") (param i32) (throw $e (local.get 0))))
"#;

const CATCHER: &str = r#"
(module
  (import "a" "e" (tag $e (param i32)))
  (import "a" "throw" (func $throw (param i32)))
  (tag $mine (param i32))
  (func (export "catch") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $mine 1) (catch $e $h) (call $throw (local.get 0)))
      (i32.const -1)))
  (func (export "catch_all") (param i32) (result i32)
    (block $h
      (try_table (catch_all $h) (call $throw (local.get 0))))
    (i32.const 77)))
"#;

#[test]
fn an_imported_tag_catches_the_exporters_exceptions() {
    let a = load_wat(THROWER);
    let b = load_wat(CATCHER);
    let mut store = Store::new(());
    let ia = Instance::new(&mut store, &a.artifact, &[]).unwrap();
    let e = ia.get_export(&mut store, "e").unwrap();
    let throw = ia.get_export(&mut store, "throw").unwrap();
    let ib = Instance::new(&mut store, &b.artifact, &[e, throw]).unwrap();
    assert_eq!(
        ib.call(&mut store, "catch", &[Val::I32(5)]).unwrap(),
        [Val::I32(5)]
    );
    assert_eq!(
        ib.call(&mut store, "catch_all", &[Val::I32(5)]).unwrap(),
        [Val::I32(77)]
    );
    // A second instance of the thrower has a tag of its own, which only catch_all catches.
    let ia2 = Instance::new(&mut store, &a.artifact, &[]).unwrap();
    let throw2 = ia2.get_export(&mut store, "throw").unwrap();
    let ib2 = Instance::new(&mut store, &b.artifact, &[e, throw2]).unwrap();
    let exn = thrown(&mut store, &ib2, "catch", &[Val::I32(5)]);
    assert_eq!(Some(exn.tag()), ia2.get_tag(&mut store, "e"));
    assert_eq!(
        ib2.call(&mut store, "catch_all", &[Val::I32(5)]).unwrap(),
        [Val::I32(77)]
    );
}

#[test]
fn linking_checks_tag_types() {
    let b = load_wat(CATCHER);
    let mut store = Store::new(());
    let wrong = Tag::new(&mut store, &TagType::new([ValType::I64]));
    let f = Func::wrap(&mut store, |_: i32| {});
    match Instance::new(&mut store, &b.artifact, &[wrong.into(), f.into()]) {
        Err(Error::Link(msg)) => assert!(msg.contains("tag"), "{msg}"),
        other => panic!("expected a link error, got {other:?}"),
    }
    let imports = b.artifact.imports().unwrap();
    assert_eq!(imports[0].ty().to_string(), "(tag (param i32))");
}

const HOST_THROWS: &str = r#"
(module
  (import "host" "e" (tag $e (param i32)))
  (import "host" "f" (func $f (param i32)))
  (func (export "catch") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $f (local.get 0)))
      (i32.const -1)))
  (func (export "through") (param i32) (call $f (local.get 0))))
"#;

#[test]
fn a_host_function_throws_and_the_guest_catches() {
    let loaded = load_wat(HOST_THROWS);
    let mut store = Store::new(());
    let tag = Tag::new(&mut store, &TagType::new([ValType::I32]));
    let f = Func::wrap(
        &mut store,
        move |mut caller: Caller<'_, ()>, x: i32| -> Result<(), BoxError> {
            if x < 0 {
                return Err("plain host failure".into());
            }
            Err(Box::new(ThrownException::new(
                &mut caller,
                tag,
                &[Val::I32(x * 2)],
            )?))
        },
    );
    let instance =
        Instance::new(&mut store, &loaded.artifact, &[Extern::Tag(tag), f.into()]).unwrap();
    assert_eq!(
        instance.call(&mut store, "catch", &[Val::I32(21)]).unwrap(),
        [Val::I32(42)]
    );
    // Uncaught in the guest, it reaches the host that called in.
    let e = thrown(&mut store, &instance, "through", &[Val::I32(4)]);
    assert_eq!((e.tag(), e.payload()), (tag, &[Val::I32(8)][..]));
    // Other host errors stay traps, which no handler catches.
    match instance.call(&mut store, "catch", &[Val::I32(-1)]) {
        Err(Error::Trap(t)) => assert_eq!(t.kind, TrapKind::HostError),
        other => panic!("expected a trap, got {other:?}"),
    }
}

const NESTED: &str = r#"
(module
  (tag $e (export "e") (param i32))
  (import "host" "reenter" (func $reenter (param i32)))
  (func (export "inner") (param i32) (throw $e (local.get 0)))
  ;; guest -> host -> guest (throws): the exception crosses the host frames back to here.
  (func (export "outer") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $reenter (local.get 0)))
      (i32.const -1))))
"#;

#[test]
fn an_exception_crosses_host_frames_when_the_host_passes_it_on() {
    let loaded = load_wat(NESTED);
    let mut store = Store::new(());
    let reenter = Func::wrap(
        &mut store,
        |mut caller: Caller<'_, ()>, x: i32| -> Result<(), BoxError> {
            let Some(Extern::Func(inner)) = caller.get_export("inner") else {
                return Err("no inner".into());
            };
            // The inner call's exception comes back as an error; returning it rethrows it.
            inner.call(&mut caller, &[Val::I32(x + 1)], &mut [])?;
            Ok(())
        },
    );
    let instance = Instance::new(&mut store, &loaded.artifact, &[reenter.into()]).unwrap();
    assert_eq!(
        instance.call(&mut store, "outer", &[Val::I32(9)]).unwrap(),
        [Val::I32(10)]
    );
}

const METERED: &str = r#"
(module
  (tag $e (param i32))
  (func $thrower (param i32) (throw $e (local.get 0)))
  (func (export "run") (param i32) (result i32)
    (local $sum i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (call $thrower (local.get 0)))
        (unreachable))
      (local.set $sum (i32.add (local.get $sum)))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $l (local.get 0)))
    (local.get $sum))
  (func (export "spin")
    (block $h
      (try_table (catch_all $h) (loop $l (br $l))))))
"#;

#[test]
fn fuel_is_counted_across_throws_and_running_out_is_not_caught() {
    let options = CompileOptions {
        fuel: true,
        ..Default::default()
    };
    let loaded = load_wat_with(METERED, &options);
    let mut store = Store::new(());
    store.set_fuel(1_000_000).unwrap();
    let instance = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let r = instance.call(&mut store, "run", &[Val::I32(100)]).unwrap();
    assert_eq!(r, [Val::I32(5050)]);
    let used = 1_000_000 - store.get_fuel().unwrap();
    assert!(used > 100, "fuel consumed: {used}");
    store.set_fuel(1000).unwrap();
    match instance.call(&mut store, "spin", &[]) {
        Err(Error::Trap(t)) => assert_eq!(t.kind, TrapKind::OutOfFuel),
        other => panic!("expected out of fuel, got {other:?}"),
    }
}

#[test]
fn an_epoch_interrupt_inside_try_table_is_not_caught() {
    let options = CompileOptions {
        epoch_interruption: true,
        ..Default::default()
    };
    let loaded = load_wat_with(METERED, &options);
    let mut store = Store::new(());
    store.set_epoch_deadline(1).unwrap();
    let instance = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let engine = store.engine().clone();
    let ticker = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(20));
        engine.increment_epoch();
    });
    match instance.call(&mut store, "spin", &[]) {
        Err(Error::Trap(t)) => assert_eq!(t.kind, TrapKind::Interrupt),
        other => panic!("expected an interrupt, got {other:?}"),
    }
    ticker.join().unwrap();
    store.set_epoch_deadline(1_000).unwrap();
    let r = instance.call(&mut store, "run", &[Val::I32(10)]).unwrap();
    assert_eq!(r, [Val::I32(55)]);
}

/// A C++ program built with clang's `-fwasm-exceptions` and binaryen's `--translate-to-exnref`
/// (tests/programs/build.sh): a recursive-descent parser throws syntax and division errors from
/// deep inside its recursion; destructors run in every frame on the way (cleanup handlers that
/// catch and rethrow), a handler rethrows, and the outermost one tells the types apart.
#[test]
fn a_cpp_program_throws_and_catches_across_frames() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/programs/exceptions.wasm");
    let wasm = std::fs::read(&path).unwrap();
    let loaded = common::load_bytes(&kiln_compiler::compile(&wasm, &Default::default()).unwrap());
    let mut store = Store::new(());
    let instance = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let eval = instance
        .get_typed_func::<i32, i32>(&mut store, "eval")
        .unwrap();
    let results: Vec<i32> = (0..8).map(|n| eval.call(&mut store, n).unwrap()).collect();
    assert_eq!(results, [7, 9, 7, 67, -1005, -2002, -2006, -1003]);
    let count = |store: &mut Store<()>, name: &str| {
        let f = instance
            .get_typed_func::<(), i32>(&mut *store, name)
            .unwrap();
        f.call(&mut *store, ()).unwrap()
    };
    // Each of the four failing expressions passed through the rethrowing handler once.
    assert_eq!(count(&mut store, "rethrow_count"), 4);
    // One guard per parser frame entered, destroyed by a return or by unwinding (88 is what a
    // model of the parser in Python with `finally` counts for these eight expressions).
    assert_eq!(count(&mut store, "cleanup_count"), 88);
}

/// `exnref` values kept in a global and a table and rethrown from there, through `kiln wast`'s
/// runner (tests/wast/exnref_storage.wast).
#[test]
fn exnref_values_live_in_globals_and_tables() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/wast/exnref_storage.wast");
    let report = kiln_cli::wast_runner::run_file_with(&path, kiln_compiler::WasmFeatures::ALL);
    assert_eq!((report.passed, report.failed), (8, 0), "{report:#?}");
}
