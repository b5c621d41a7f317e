//! Memories whose code checks bounds explicitly (`kiln compile --explicit-bounds-checks`):
//! they reserve only their maximum, or the engine's `Config::memory_reservation`, and behave as
//! guard-page memories do within it.

mod common;

use common::{load_wat, load_wat_with};
use kiln_compiler::CompileOptions;
use kiln_loader::{Config, Engine, Instance, Store, TrapKind, Val};
use std::sync::Mutex;

const GROWING: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1))))
"#;

fn explicit() -> CompileOptions {
    CompileOptions {
        explicit_bounds_checks: true,
        ..CompileOptions::default()
    }
}

/// The tests of this file, one at a time: they measure this process's address space.
static SERIAL: Mutex<()> = Mutex::new(());

/// This process's address space in bytes (`VmSize` of `/proc/self/status`).
fn address_space() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

/// How much address space `f` reserves and keeps (within 1 MiB, for the heap's own growth).
fn reserved_by<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = address_space();
    let r = f();
    (r, address_space().saturating_sub(before))
}

fn assert_about(bytes: u64, expected: u64) {
    assert!(
        bytes >= expected && bytes < expected + (1 << 20),
        "reserved {bytes} bytes, expected {expected}"
    );
}

#[test]
fn an_explicitly_checked_memory_reserves_the_engine_reservation_and_grows_within_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let loaded = load_wat_with(GROWING, &explicit());
    let mut config = Config::new();
    config.memory_reservation(4 << 20);
    let engine = Engine::with_config(&config);
    let mut store = Store::with_engine(&engine, ());
    let (instance, reserved) =
        reserved_by(|| Instance::new(&mut store, &loaded.artifact, &[]).unwrap());
    assert_about(reserved, 4 << 20);
    let grow = instance
        .get_typed_func::<i32, i32>(&mut store, "grow")
        .unwrap();
    let load = instance
        .get_typed_func::<i32, i32>(&mut store, "load")
        .unwrap();
    let store_ = instance
        .get_typed_func::<(i32, i32), ()>(&mut store, "store")
        .unwrap();
    // 64 pages fit in 4 MiB: growing to them works, one more page does not.
    assert_eq!(grow.call(&mut store, 63).unwrap(), 1);
    assert_eq!(grow.call(&mut store, 1).unwrap(), -1);
    store_.call(&mut store, ((4 << 20) - 4, 7)).unwrap();
    assert_eq!(load.call(&mut store, (4 << 20) - 4).unwrap(), 7);
    // Just past the end, and an access straddling it, trap as out of bounds.
    for at in [4 << 20, (4 << 20) - 2] {
        let err = load.call(&mut store, at).unwrap_err();
        assert_eq!(err.as_trap().unwrap().kind, TrapKind::MemoryOutOfBounds);
    }
}

#[test]
fn without_a_reservation_an_explicitly_checked_memory_reserves_its_maximum() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let wat = r#"(module (memory (export "memory") 1 3))"#;
    let loaded = load_wat_with(wat, &explicit());
    let guarded = load_wat(wat);
    let mut store = Store::new(());
    let (_, reserved) = reserved_by(|| Instance::new(&mut store, &loaded.artifact, &[]).unwrap());
    assert_about(reserved, 3 << 16);
    // The same module with guard pages reserves 4 GiB and the guard region.
    let (_, reserved) = reserved_by(|| Instance::new(&mut store, &guarded.artifact, &[]).unwrap());
    assert_about(reserved, 6 << 30);
}

#[test]
fn a_memory_larger_than_the_reservation_is_a_clear_instantiation_error() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let wat = r#"(module (memory 20))"#;
    let loaded = load_wat_with(wat, &explicit());
    let mut config = Config::new();
    config.memory_reservation(1 << 20);
    let mut store = Store::with_engine(&Engine::with_config(&config), ());
    let err = Instance::new(&mut store, &loaded.artifact, &[]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("20 pages") && msg.contains("memory_reservation"),
        "{msg}"
    );
    // A guard-page memory ignores the setting.
    let guarded = load_wat(wat);
    Instance::new(&mut store, &guarded.artifact, &[]).unwrap();
}

#[test]
fn many_small_explicitly_checked_memories_fit_where_guard_pages_would_not() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 30,000 guard-page memories would reserve 180 TiB, more than x86_64's 128 TiB of user
    // address space; with explicit checks and a 1 MiB reservation they take 30 GiB.
    let loaded = load_wat_with(GROWING, &explicit());
    let mut config = Config::new();
    config.memory_reservation(1 << 20);
    let engine = Engine::with_config(&config);
    // A store holds at most 10,000 instances by default.
    let mut stores: Vec<Store<()>> = (0..30).map(|_| Store::with_engine(&engine, ())).collect();
    let mut instances = Vec::new();
    for store in &mut stores {
        for _ in 0..1000 {
            instances.push(Instance::new(&mut *store, &loaded.artifact, &[]).unwrap());
        }
    }
    let last = instances.last().unwrap();
    let store = stores.last_mut().unwrap();
    let result = last.call(&mut *store, "grow", &[Val::I32(1)]).unwrap();
    assert_eq!(result, vec![Val::I32(1)]);
}
