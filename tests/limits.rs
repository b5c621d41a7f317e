//! Resource limits: a store's limiter vetoes memory and table growth by the guest and the host,
//! initial sizes at instantiation, and instance, memory and table counts; a refused
//! instantiation leaves nothing behind.

mod common;

use common::load_wat;
use kiln_loader::{
    BoxError, Error, Instance, LimitError, Memory, MemoryType, ResourceLimiter, Store, StoreLimits,
    StoreLimitsBuilder, TrapKind, Val,
};

const GROWER: &str = r#"
(module
  (memory (export "mem") 1)
  (table (export "tab") 1 funcref)
  (func (export "grow_mem") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "grow_tab") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))
"#;

fn store_with(limits: StoreLimits) -> Store<StoreLimits> {
    let mut store = Store::new(limits);
    store.limiter(|l| l);
    store
}

fn call_i32(
    store: &mut Store<StoreLimits>,
    i: Instance,
    name: &str,
    arg: i32,
) -> Result<i32, Error> {
    let f = i.get_typed_func::<i32, i32>(&mut *store, name)?;
    f.call(&mut *store, arg)
}

#[test]
fn a_denied_grow_returns_minus_one_to_the_guest() {
    let loaded = load_wat(GROWER);
    let mut store = store_with(
        StoreLimitsBuilder::new()
            .memory_size(4 << 16)
            .table_elements(10)
            .build(),
    );
    let i = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    assert_eq!(call_i32(&mut store, i, "grow_mem", 3).unwrap(), 1);
    assert_eq!(call_i32(&mut store, i, "grow_mem", 1).unwrap(), -1);
    assert_eq!(call_i32(&mut store, i, "grow_tab", 9).unwrap(), 1);
    assert_eq!(call_i32(&mut store, i, "grow_tab", 1).unwrap(), -1);
    // From the host too.
    let mem = i.get_memory(&mut store, "mem").unwrap();
    assert!(mem.grow(&mut store, 1).is_err());
    assert_eq!(mem.size(&store), 4);
    let tab = i.get_table(&mut store, "tab").unwrap();
    assert!(tab.grow(&mut store, 1, Val::FuncRef(None)).is_err());
    // Without limits, a module's own memory grows to its maximum (4 GiB here is 65536 pages;
    // far less is enough to show the veto is the limiter's).
    let mut free = Store::new(());
    let i = Instance::new(&mut free, &loaded.artifact, &[]).unwrap();
    let f = i.get_typed_func::<i32, i32>(&mut free, "grow_mem").unwrap();
    assert_eq!(f.call(&mut free, 100).unwrap(), 1);
}

#[test]
fn trap_on_grow_failure_turns_a_refusal_into_a_trap() {
    let loaded = load_wat(GROWER);
    let mut store = store_with(
        StoreLimitsBuilder::new()
            .memory_size(2 << 16)
            .trap_on_grow_failure(true)
            .build(),
    );
    let i = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    assert_eq!(call_i32(&mut store, i, "grow_mem", 1).unwrap(), 1);
    let err = call_i32(&mut store, i, "grow_mem", 1).unwrap_err();
    let trap = err.as_trap().unwrap();
    assert_eq!(trap.kind, TrapKind::HostError);
    assert!(matches!(
        trap.downcast_ref::<LimitError>(),
        Some(LimitError::Memory { desired }) if *desired == 3 << 16
    ));
    // The store carries on.
    assert_eq!(call_i32(&mut store, i, "grow_mem", 0).unwrap(), 2);
}

#[test]
fn initial_sizes_over_the_limit_refuse_instantiation_and_leave_nothing() {
    let big = load_wat(r#"(module (memory 8) (table 4 funcref))"#);
    let mut store = store_with(StoreLimitsBuilder::new().memory_size(4 << 16).build());
    let e = Instance::new(&mut store, &big.artifact, &[]).err().unwrap();
    assert!(
        e.to_string()
            .contains("memory minimum size of 8 pages exceeds the store's memory limits"),
        "{e}"
    );
    assert_eq!(store.instance_count(), 0);
    let mut store = store_with(StoreLimitsBuilder::new().table_elements(2).build());
    let e = Instance::new(&mut store, &big.artifact, &[]).err().unwrap();
    assert!(
        e.to_string().contains("table minimum size of 4 elements"),
        "{e}"
    );
    assert_eq!(store.instance_count(), 0);
    // The memory the failed instantiation had created was released: the count limit is free.
    let mut store = store_with(
        StoreLimitsBuilder::new()
            .table_elements(2)
            .memories(1)
            .build(),
    );
    assert!(Instance::new(&mut store, &big.artifact, &[]).is_err());
    let ok = load_wat(r#"(module (memory 8))"#);
    Instance::new(&mut store, &ok.artifact, &[]).unwrap();
    // Host memories are subject to the limits too.
    let mut store = store_with(StoreLimitsBuilder::new().memory_size(1 << 16).build());
    assert!(Memory::new(&mut store, MemoryType::new(2, None)).is_err());
}

#[test]
fn counts_of_instances_memories_and_tables_are_limited() {
    let loaded = load_wat(GROWER);
    let mut store = store_with(StoreLimitsBuilder::new().instances(2).build());
    Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let e = Instance::new(&mut store, &loaded.artifact, &[])
        .err()
        .unwrap();
    assert!(e.to_string().contains("instance count limit of 2"), "{e}");
    let mut store = store_with(StoreLimitsBuilder::new().memories(1).build());
    Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let e = Instance::new(&mut store, &loaded.artifact, &[])
        .err()
        .unwrap();
    assert!(e.to_string().contains("memory count limit of 1"), "{e}");
    let mut store = store_with(StoreLimitsBuilder::new().tables(1).build());
    Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let e = Instance::new(&mut store, &loaded.artifact, &[])
        .err()
        .unwrap();
    assert!(e.to_string().contains("table count limit of 1"), "{e}");
}

/// A limiter of the host's own.
struct Budget {
    bytes_left: usize,
    asked: Vec<(usize, usize)>,
}

impl ResourceLimiter for Budget {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, BoxError> {
        self.asked.push((current, desired));
        if desired - current > self.bytes_left {
            return Err("over budget".into());
        }
        self.bytes_left -= desired - current;
        Ok(true)
    }

    fn table_growing(&mut self, _: usize, _: usize, _: Option<usize>) -> Result<bool, BoxError> {
        Ok(true)
    }
}

#[test]
fn a_host_limiter_sees_every_growth_and_its_errors_become_traps() {
    let loaded = load_wat(GROWER);
    let mut store = Store::new(Budget {
        bytes_left: 3 << 16,
        asked: Vec::new(),
    });
    store.limiter(|b| b);
    let i = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let grow = i
        .get_typed_func::<i32, i32>(&mut store, "grow_mem")
        .unwrap();
    assert_eq!(grow.call(&mut store, 2).unwrap(), 1);
    let err = grow.call(&mut store, 1).unwrap_err();
    assert_eq!(err.as_trap().unwrap().kind, TrapKind::HostError);
    let why = err
        .as_trap()
        .and_then(|t| t.host_error())
        .unwrap()
        .to_string();
    assert_eq!(why, "over budget");
    // Asked at instantiation (from 0 to the initial page), then for each grow.
    assert_eq!(
        store.data().asked,
        [(0, 1 << 16), (1 << 16, 3 << 16), (3 << 16, 4 << 16)]
    );
}
