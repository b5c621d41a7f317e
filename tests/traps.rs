//! Every trap kind comes back as a `Trap` naming its kind and function, and the process and other
//! instances keep working afterwards.

mod common;

use kiln_loader::{
    BoxError, Error, Extern, Func, FuncType, Instance, Linker, Store, TrapKind, Val, ValType,
};

const TRAPS: &str = r#"
(module
  (type $v (func))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 1) $ok)
  (func $ok)
  (func (export "unreachable") unreachable)
  (func (export "div_zero") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
  (func (export "rem_zero") (result i64) (i64.rem_u (i64.const 1) (i64.const 0)))
  (func (export "div_overflow") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "bad_conversion") (result i32) (i32.trunc_f32_s (f32.const nan)))
  (func (export "conversion_overflow") (result i32) (i32.trunc_f64_u (f64.const 1e20)))
  (func (export "oob_load") (result i32) (i32.load (i32.const 65535)))
  (func (export "oob_store") (i64.store (i32.const -1) (i64.const 0)))
  (func (export "oob_big_offset") (result i32) (i32.load offset=0xffffffff (i32.const 1)))
  (func (export "oob_fill") (memory.fill (i32.const 65000) (i32.const 0) (i32.const 1000)))
  (func (export "call_null") (call_indirect (type $v) (i32.const 0)))
  (func (export "call_oob") (call_indirect (type $v) (i32.const 5)))
  (func (export "call_wrong_type") (result i32) (call_indirect (result i32) (i32.const 1)))
  (func (export "table_oob") (result funcref) (table.get (i32.const 7)))
  (func $rec (export "recurse") (param i32) (result i32)
    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "ok") (result i32) (i32.const 7)))
"#;

fn trap_of<T>(
    store: &mut Store<T>,
    instance: &Instance,
    name: &str,
    args: &[Val],
) -> kiln_loader::Trap {
    match instance.call(store, name, args) {
        Err(Error::Trap(t)) => t,
        other => panic!("{name}: expected a trap, got {other:?}"),
    }
}

#[test]
fn every_trap_kind_is_reported_and_the_process_runs_on() {
    let (mut store, instance, _loaded) = common::instantiate(TRAPS);
    let cases = [
        ("unreachable", TrapKind::Unreachable),
        ("div_zero", TrapKind::IntegerDivisionByZero),
        ("rem_zero", TrapKind::IntegerDivisionByZero),
        ("div_overflow", TrapKind::IntegerOverflow),
        ("bad_conversion", TrapKind::BadConversionToInteger),
        ("conversion_overflow", TrapKind::IntegerOverflow),
        ("oob_load", TrapKind::MemoryOutOfBounds),
        ("oob_store", TrapKind::MemoryOutOfBounds),
        ("oob_big_offset", TrapKind::MemoryOutOfBounds),
        ("oob_fill", TrapKind::MemoryOutOfBounds),
        ("call_null", TrapKind::IndirectCallToNull),
        ("call_oob", TrapKind::TableOutOfBounds),
        ("call_wrong_type", TrapKind::BadSignature),
        ("table_oob", TrapKind::TableOutOfBounds),
    ];
    for (name, kind) in cases {
        let trap = trap_of(&mut store, &instance, name, &[]);
        assert_eq!(trap.kind, kind, "{name}: {trap}");
        assert!(trap.func.is_some(), "{name}: the trap names its function");
        // The instance still works after every trap.
        assert_eq!(
            instance.call(&mut store, "ok", &[]).unwrap(),
            vec![Val::I32(7)]
        );
    }
}

#[test]
fn unbounded_recursion_is_a_stack_overflow_trap() {
    let (mut store, instance, _loaded) = common::instantiate(TRAPS);
    for _ in 0..3 {
        let trap = trap_of(&mut store, &instance, "recurse", &[Val::I32(0)]);
        assert_eq!(trap.kind, TrapKind::StackOverflow);
    }
    assert_eq!(
        instance.call(&mut store, "ok", &[]).unwrap(),
        vec![Val::I32(7)]
    );
}

/// A host thread with a small stack: the budget comes from the thread's real stack, so deep guest
/// recursion is a trap there too, never Rust's "has overflowed its stack" abort.
#[test]
fn stack_overflow_on_a_small_host_thread_is_a_trap() {
    for stack in [256 << 10, 512 << 10] {
        let t = std::thread::Builder::new()
            .stack_size(stack)
            .spawn(|| {
                let (mut store, instance, _loaded) = common::instantiate(TRAPS);
                let trap = trap_of(&mut store, &instance, "recurse", &[Val::I32(0)]);
                assert_eq!(trap.kind, TrapKind::StackOverflow);
                // And normal calls afterwards, on the same thread.
                assert_eq!(
                    instance.call(&mut store, "ok", &[]).unwrap(),
                    vec![Val::I32(7)]
                );
            })
            .unwrap();
        t.join().unwrap();
    }
}

#[test]
fn traps_on_other_threads_are_independent() {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let (mut store, instance, _loaded) = common::instantiate(TRAPS);
                for _ in 0..50 {
                    let t = trap_of(&mut store, &instance, "oob_load", &[]);
                    assert_eq!(t.kind, TrapKind::MemoryOutOfBounds);
                    let t = trap_of(&mut store, &instance, "recurse", &[Val::I32(0)]);
                    assert_eq!(t.kind, TrapKind::StackOverflow);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread ran guest traps without dying");
    }
}

const HOST: &str = r#"
(module
  (import "host" "f" (func $f (param i32) (result i32)))
  (func (export "call") (param i32) (result i32) (i32.add (call $f (local.get 0)) (i32.const 1))))
"#;

fn host_instance(
    f: impl Fn(i32) -> Result<i32, BoxError> + Send + Sync + 'static,
) -> (Store<()>, Instance, common::Loaded) {
    let loaded = common::load_wat(HOST);
    let mut store = Store::new(());
    let func = Func::new(
        &mut store,
        FuncType::new([ValType::I32], [ValType::I32]),
        move |_caller, args, results| match args {
            [Val::I32(x)] => {
                results[0] = Val::I32(f(*x)?);
                Ok(())
            }
            _ => Err("bad arguments".into()),
        },
    );
    let instance = Instance::new(&mut store, &loaded.artifact, &[Extern::Func(func)]).unwrap();
    (store, instance, loaded)
}

#[test]
fn host_functions_are_called_with_their_arguments() {
    let (mut store, instance, _l) = host_instance(|x| Ok(x * 2));
    assert_eq!(
        instance.call(&mut store, "call", &[Val::I32(20)]).unwrap(),
        vec![Val::I32(41)]
    );
}

#[test]
fn a_host_error_comes_back_to_the_caller() {
    let (mut store, instance, _l) = host_instance(|x| Err(format!("refused {x}").into()));
    let trap = trap_of(&mut store, &instance, "call", &[Val::I32(3)]);
    assert_eq!(trap.kind, TrapKind::HostError);
    assert_eq!(
        trap.host_error().map(|e| e.to_string()).as_deref(),
        Some("refused 3")
    );
}

#[test]
fn a_host_panic_does_not_unwind_through_guest_frames() {
    let (mut store, instance, _l) =
        host_instance(|x| if x > 0 { panic!("boom {x}") } else { Ok(0) });
    let trap = trap_of(&mut store, &instance, "call", &[Val::I32(5)]);
    assert_eq!(trap.kind, TrapKind::HostError);
    let error = trap
        .host_error()
        .expect("the panic is the host error")
        .to_string();
    assert!(error.contains("boom 5"), "{error}");
    assert_eq!(
        instance.call(&mut store, "call", &[Val::I32(0)]).unwrap(),
        vec![Val::I32(1)]
    );
}

#[test]
fn faults_outside_guest_code_reach_the_previous_handler() {
    // Install Kiln's handlers, then fault in host code in a child process: it must die of SIGSEGV
    // as it would without Kiln, not be mistaken for a guest trap.
    if std::env::var("KILN_SEGV_CHILD").is_ok() {
        let _store = Store::new(());
        // SAFETY: deliberately faulting to test signal chaining; the process is expected to die.
        unsafe { std::ptr::write_volatile(std::ptr::null_mut::<u8>(), 1) };
        unreachable!();
    }
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new(exe)
        .args([
            "--exact",
            "faults_outside_guest_code_reach_the_previous_handler",
            "--nocapture",
        ])
        .env("KILN_SEGV_CHILD", "1")
        .output()
        .unwrap()
        .status;
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(libc_sigsegv()),
        "child died of SIGSEGV: {status:?}"
    );
}

fn libc_sigsegv() -> i32 {
    11
}

#[test]
fn store_independent_host_functions_serve_many_stores_and_threads() {
    let loaded = common::load_wat(HOST);
    // A host function bound to no store: defined in a linker.
    let mut linker = Linker::<()>::new();
    linker
        .func_new(
            "host",
            "f",
            FuncType::new([ValType::I32], [ValType::I32]),
            |_caller, args, results| match args {
                [Val::I32(x)] => {
                    results[0] = Val::I32(x * 2);
                    Ok(())
                }
                _ => Err("bad arguments".into()),
            },
        )
        .unwrap();
    // Linked once, instantiated in a fresh store per "request", on several threads.
    let pre = linker.instantiate_pre(&loaded.artifact).unwrap();
    std::thread::scope(|s| {
        for t in 0..3 {
            let pre = &pre;
            s.spawn(move || {
                for i in 0..20 {
                    let mut store = Store::new(());
                    let inst = pre.instantiate(&mut store).unwrap();
                    let x = t * 100 + i;
                    assert_eq!(
                        inst.call(&mut store, "call", &[Val::I32(x)]).unwrap(),
                        vec![Val::I32(2 * x + 1)]
                    );
                }
            });
        }
    });
}
