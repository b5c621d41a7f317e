//! memory64 and table64: accesses past 4 GiB of a grown 64-bit memory, explicit bounds checks at
//! the exact edge and with offsets that overflow 64 bits, i64 table indices in `call_indirect`,
//! linking by index type and bounds-check strategy, and a limiter that sees 64-bit sizes.

mod common;

use common::{instantiate, load_bytes, load_wat};
use kiln_loader::{
    BoxError, Error, Extern, Instance, Memory, MemoryType, ResourceLimiter, Store, Table,
    TableType, TrapKind, Val, ValType,
};

const PAGE: u64 = 65536;
const FOUR_GIB_PAGES: u64 = 1 << 16;

/// A 64-bit memory with loads, stores, size and grow at i64 addresses.
const MEM64: &str = r#"
(module
  (memory (export "mem") i64 1)
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
  (func (export "size") (result i64) (memory.size))
  (func (export "store64") (param i64 i64) (i64.store (local.get 0) (local.get 1)))
  (func (export "load64") (param i64) (result i64) (i64.load (local.get 0)))
  (func (export "load8") (param i64) (result i32) (i32.load8_u (local.get 0)))
  ;; An offset past the minimum size: checked as index + offset + size.
  (func (export "load_far") (param i64) (result i64) (i64.load offset=0x1_0000_0000 (local.get 0)))
  (func (export "load_off") (param i64) (result i32)
    (i32.load offset=0xffff_ffff_ffff_fff0 (local.get 0)))
  (func (export "load_off1") (param i64) (result i32) (i32.load8_u offset=1 (local.get 0)))
  (func (export "v128_lane") (param i64) (result i64)
    (i64x2.extract_lane 1 (v128.load64_lane 1 (local.get 0) (v128.const i64x2 0 0))))
  (func (export "fill") (param i64 i32 i64) (memory.fill (local.get 0) (local.get 1) (local.get 2))))
"#;

fn call(
    store: &mut Store<impl Send + 'static>,
    i: &Instance,
    name: &str,
    args: &[Val],
) -> Vec<Val> {
    i.call(&mut *store, name, args)
        .unwrap_or_else(|e| panic!("{name}{args:?}: {e}"))
}

fn trap_of(
    store: &mut Store<impl Send + 'static>,
    i: &Instance,
    name: &str,
    args: &[Val],
) -> TrapKind {
    match i.call(&mut *store, name, args) {
        Err(Error::Trap(t)) => t.kind,
        other => panic!("{name}{args:?}: expected a trap, got {other:?}"),
    }
}

#[test]
fn a_64_bit_memory_grows_past_4_gib_and_is_accessed_there() {
    let (mut store, i, _loaded) = instantiate(MEM64);
    let grown = call(&mut store, &i, "grow", &[Val::I64(FOUR_GIB_PAGES as i64)]);
    if grown == [Val::I64(-1)] {
        eprintln!("skipped: this host refuses to commit 4 GiB of address space");
        return;
    }
    assert_eq!(grown, [Val::I64(1)]);
    let pages = FOUR_GIB_PAGES + 1;
    assert_eq!(call(&mut store, &i, "size", &[]), [Val::I64(pages as i64)]);
    // 2^32 + 8: a 32-bit index would wrap to 8.
    let at = (1i64 << 32) + 8;
    call(
        &mut store,
        &i,
        "store64",
        &[Val::I64(at), Val::I64(0x1122_3344_5566_7788)],
    );
    assert_eq!(
        call(&mut store, &i, "load64", &[Val::I64(at)]),
        [Val::I64(0x1122_3344_5566_7788)]
    );
    assert_eq!(
        call(&mut store, &i, "load64", &[Val::I64(8)]),
        [Val::I64(0)]
    );
    assert_eq!(
        call(&mut store, &i, "load_far", &[Val::I64(8)]),
        [Val::I64(0x1122_3344_5566_7788)]
    );
    assert_eq!(
        call(&mut store, &i, "v128_lane", &[Val::I64(at)]),
        [Val::I64(0x1122_3344_5566_7788)]
    );
    // The host sees the same bytes and size.
    let mem = i.get_memory(&mut store, "mem").unwrap();
    assert_eq!(mem.size(&store), pages);
    assert_eq!(mem.data_size(&store) as u64, pages * PAGE);
    assert_eq!(mem.data(&store)[at as usize], 0x88);
    assert!(mem.ty(&store).is_64());
    // The last byte is in bounds, the next one is not.
    let len = (pages * PAGE) as i64;
    call(
        &mut store,
        &i,
        "fill",
        &[Val::I64(len - 1), Val::I32(7), Val::I64(1)],
    );
    assert_eq!(
        call(&mut store, &i, "load8", &[Val::I64(len - 1)]),
        [Val::I32(7)]
    );
    assert_eq!(
        trap_of(&mut store, &i, "load8", &[Val::I64(len)]),
        TrapKind::MemoryOutOfBounds
    );
}

#[test]
fn explicit_checks_trap_at_the_exact_edge_and_on_offset_overflow() {
    let (mut store, i, _loaded) = instantiate(MEM64);
    let len = PAGE as i64;
    let oob = TrapKind::MemoryOutOfBounds;
    assert_eq!(
        call(&mut store, &i, "load64", &[Val::I64(len - 8)]),
        [Val::I64(0)]
    );
    for at in [len - 7, len, 1 << 32, (1 << 32) - 8, i64::MAX, -1, -8] {
        assert_eq!(
            trap_of(&mut store, &i, "load64", &[Val::I64(at)]),
            oob,
            "{at}"
        );
    }
    assert_eq!(trap_of(&mut store, &i, "load_far", &[Val::I64(0)]), oob);
    assert_eq!(trap_of(&mut store, &i, "load_far", &[Val::I64(-1)]), oob);
    // `index + offset` overflows 64 bits: out of bounds, not a wrapped address near 0.
    for at in [0x10, 0x20, -1] {
        assert_eq!(
            trap_of(&mut store, &i, "load_off", &[Val::I64(at)]),
            oob,
            "{at}"
        );
    }
    // `index + offset + size` overflows only with the size.
    assert_eq!(trap_of(&mut store, &i, "load_off1", &[Val::I64(-2)]), oob);
    assert_eq!(
        call(&mut store, &i, "load_off1", &[Val::I64(len - 2)]),
        [Val::I32(0)]
    );
    assert_eq!(
        trap_of(&mut store, &i, "load_off1", &[Val::I64(len - 1)]),
        oob
    );
    // Bulk operations take i64 operands and check them too.
    assert_eq!(
        trap_of(
            &mut store,
            &i,
            "fill",
            &[Val::I64(len), Val::I32(1), Val::I64(1)]
        ),
        oob
    );
    assert_eq!(
        trap_of(
            &mut store,
            &i,
            "fill",
            &[Val::I64(1), Val::I32(1), Val::I64(-1)]
        ),
        oob
    );
    // A huge grow fails with -1, as an i64.
    assert_eq!(
        call(&mut store, &i, "grow", &[Val::I64(1 << 48)]),
        [Val::I64(-1)]
    );
    assert_eq!(
        call(&mut store, &i, "grow", &[Val::I64(-1)]),
        [Val::I64(-1)]
    );
    assert_eq!(call(&mut store, &i, "size", &[]), [Val::I64(1)]);
}

#[test]
fn call_indirect_through_a_64_bit_table() {
    let (mut store, i, _loaded) = instantiate(
        r#"(module
          (type $t (func (result i32)))
          (table $tab i64 3 funcref)
          (elem (table $tab) (i64.const 1) func $a $b)
          (func $a (result i32) (i32.const 10))
          (func $b (result i32) (i32.const 20))
          (func (export "call") (param i64) (result i32) (call_indirect $tab (type $t) (local.get 0)))
          (func (export "size") (result i64) (table.size $tab))
          (func (export "grow") (param i64) (result i64) (table.grow $tab (ref.null func) (local.get 0))))"#,
    );
    assert_eq!(call(&mut store, &i, "call", &[Val::I64(1)]), [Val::I32(10)]);
    assert_eq!(call(&mut store, &i, "call", &[Val::I64(2)]), [Val::I32(20)]);
    assert_eq!(
        trap_of(&mut store, &i, "call", &[Val::I64(0)]),
        TrapKind::IndirectCallToNull
    );
    // 2^32 + 1 would be element 1 if the index were truncated.
    for at in [3, (1 << 32) + 1, -1] {
        assert_eq!(
            trap_of(&mut store, &i, "call", &[Val::I64(at)]),
            TrapKind::TableOutOfBounds,
            "{at}"
        );
    }
    assert_eq!(call(&mut store, &i, "size", &[]), [Val::I64(3)]);
    assert_eq!(call(&mut store, &i, "grow", &[Val::I64(2)]), [Val::I64(3)]);
    assert_eq!(
        call(&mut store, &i, "grow", &[Val::I64(-1)]),
        [Val::I64(-1)]
    );
    assert_eq!(call(&mut store, &i, "size", &[]), [Val::I64(5)]);
}

#[test]
fn imports_link_only_with_the_same_index_type() {
    let importer = load_wat(
        r#"(module
          (import "env" "mem" (memory i64 1))
          (import "env" "tab" (table i64 1 funcref))
          (func (export "size") (result i64) (memory.size)))"#,
    );
    let mut store = Store::new(());
    let mem32 = Memory::new(&mut store, MemoryType::new(1, None)).unwrap();
    let mem64 = Memory::new(&mut store, MemoryType::new64(1, None)).unwrap();
    let tab32 = Table::new(
        &mut store,
        TableType::new(ValType::FUNCREF, 1, None),
        Val::FuncRef(None),
    )
    .unwrap();
    let tab64 = Table::new(
        &mut store,
        TableType::new64(ValType::FUNCREF, 1, None),
        Val::FuncRef(None),
    )
    .unwrap();
    assert!(mem64.ty(&store).is_64() && !mem32.ty(&store).is_64());
    assert!(tab64.ty(&store).is_64() && !tab32.ty(&store).is_64());
    // The artifact says what it expects.
    let imports = importer.artifact.imports().unwrap();
    assert_eq!(imports[0].ty().to_string(), "(memory i64 1)");
    assert_eq!(imports[1].ty().to_string(), "(table i64 1 funcref)");

    let link = |store: &mut Store<()>, m: Memory, t: Table| {
        Instance::new(
            store,
            &importer.artifact,
            &[Extern::Memory(m), Extern::Table(t)],
        )
    };
    let e = link(&mut store, mem32, tab64).expect_err("a 32-bit memory is refused");
    assert!(
        e.to_string().contains(
            "incompatible import type for env.mem: a memory of type (memory 1) does not fit"
        ),
        "{e}"
    );
    let e = link(&mut store, mem64, tab32).expect_err("a 32-bit table is refused");
    assert!(
        e.to_string()
            .contains("incompatible import type for env.tab: a table of type (table 1 funcref)"),
        "{e}"
    );
    let i = link(&mut store, mem64, tab64).unwrap();
    assert_eq!(call(&mut store, &i, "size", &[]), [Val::I64(1)]);

    // And a 32-bit import refuses 64-bit entities.
    let importer32 = load_wat(r#"(module (import "env" "mem" (memory 1)))"#);
    let e = Instance::new(&mut store, &importer32.artifact, &[Extern::Memory(mem64)])
        .expect_err("a 64-bit memory is refused");
    assert!(e.to_string().contains("(memory i64 1) does not fit"), "{e}");
}

/// Patches the `bounds_check` byte of memory 0 of an artifact (resealing its checksums, as a
/// faulty compiler would write it).
fn with_bounds_check(artifact: &[u8], strategy: u8) -> Vec<u8> {
    use kiln_format::tables::{MemoryEntry, MetaDirectory, TableId};
    use kiln_format::ArtifactView;
    use zerocopy::FromBytes;
    let mut b = artifact.to_vec();
    let meta = ArtifactView::parse(&b).unwrap().header().meta.offset.get() as usize;
    let dir = MetaDirectory::ref_from_prefix(&b[meta..]).unwrap().0;
    let at = meta + dir.tables[TableId::Memories as usize].offset.get() as usize;
    MemoryEntry::mut_from_prefix(&mut b[at..])
        .unwrap()
        .0
        .bounds_check = strategy;
    kiln_format::header::seal(&mut b).unwrap();
    b
}

#[test]
fn the_loader_checks_each_memory_bounds_check_strategy() {
    use kiln_format::tables::bounds_check;
    let compile = |wat: &str| common::compile_wat(wat);
    let mem64 = compile(r#"(module (memory (export "mem") i64 1))"#);
    let mem32 = compile(r#"(module (memory (export "mem") 1))"#);
    // The compiler records explicit checks for 64-bit memories, guard pages for 32-bit ones.
    for (bytes, want) in [
        (&mem64, bounds_check::EXPLICIT),
        (&mem32, bounds_check::GUARD_PAGES),
    ] {
        let view = kiln_format::ArtifactView::parse(bytes).unwrap();
        assert_eq!(view.memories()[0].bounds_check, want);
    }
    // Guard pages cannot cover a 64-bit memory, and unknown strategies are corrupt.
    for (strategy, why) in [
        (bounds_check::GUARD_PAGES, "guard pages for a 64-bit memory"),
        (7, "unknown strategy"),
    ] {
        let loaded = load_bytes(&with_bounds_check(&mem64, strategy));
        let mut store = Store::new(());
        let e = Instance::new(&mut store, &loaded.artifact, &[]).expect_err("refused");
        let msg = e.to_string();
        assert!(
            msg.contains("corrupt")
                && msg.contains("Memories[0].bounds_check")
                && msg.contains(why),
            "{msg}"
        );
    }
    // A 32-bit memory set up for explicit checks (smaller than 4 GiB + guard) may not be given
    // to code that relies on guard pages.
    let explicit = load_bytes(&with_bounds_check(&mem32, bounds_check::EXPLICIT));
    let mut store = Store::new(());
    let exporter = Instance::new(&mut store, &explicit.artifact, &[]).unwrap();
    let mem = exporter.get_memory(&mut store, "mem").unwrap();
    let guarded = load_wat(r#"(module (import "env" "mem" (memory 1)))"#);
    let e =
        Instance::new(&mut store, &guarded.artifact, &[Extern::Memory(mem)]).expect_err("refused");
    assert!(
        e.to_string()
            .contains("relies on guard pages the memory does not have"),
        "{e}"
    );
}

/// Records every size the limiter is asked about and allows up to `max` bytes.
struct Budget {
    max: usize,
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
        Ok(desired <= self.max)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, BoxError> {
        Ok(true)
    }
}

#[test]
fn the_limiter_sees_and_denies_64_bit_sizes() {
    let loaded = load_wat(MEM64);
    let five_gib = 5usize << 30;
    let mut store = Store::new(Budget {
        max: five_gib,
        asked: Vec::new(),
    });
    store.limiter(|b| b);
    let i = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    // Past 5 GiB: refused by the limiter, -1 to the guest.
    let delta = (five_gib as u64 / PAGE) as i64;
    assert_eq!(
        call(&mut store, &i, "grow", &[Val::I64(delta)]),
        [Val::I64(-1)]
    );
    assert_eq!(
        store.data().asked.last(),
        Some(&(PAGE as usize, PAGE as usize + five_gib))
    );
    // Up to 5 GiB: allowed (if the host commits it), and the limiter saw the 64-bit size.
    let grown = call(&mut store, &i, "grow", &[Val::I64(delta - 1)]);
    assert_eq!(store.data().asked.last(), Some(&(PAGE as usize, five_gib)));
    if grown == [Val::I64(-1)] {
        eprintln!("skipped the allowed grow: this host refuses to commit 5 GiB of address space");
        return;
    }
    assert_eq!(grown, [Val::I64(1)]);
    assert_eq!(call(&mut store, &i, "grow", &[Val::I64(1)]), [Val::I64(-1)]);
    assert_eq!(
        call(&mut store, &i, "size", &[]),
        [Val::I64((five_gib as u64 / PAGE) as i64)]
    );
}

/// The byte `tests/programs/bigmem64.c` stores at address `a`.
fn pattern(a: u64) -> u8 {
    let x = a.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((x >> 56) as u8) ^ ((a >> 16) as u8)
}

/// The checksum `run(pages, stride)` of `bigmem64.c` returns, computed here.
fn bigmem_checksum(heap_base: u64, pages: u64, stride: u64) -> u64 {
    let start = heap_base.div_ceil(stride) * stride;
    let end = pages * PAGE;
    let mut sum: u64 = 0;
    let mut a = (end - 1 - start) / stride * stride + start;
    loop {
        sum = sum.wrapping_mul(31).wrapping_add(u64::from(pattern(a)));
        if a == start {
            break;
        }
        a -= stride;
    }
    for edge in [0xffff_ffff, 0x1_0000_0000, end - 1] {
        if edge < end && edge >= start {
            sum = sum.wrapping_mul(31).wrapping_add(u64::from(pattern(edge)));
        }
    }
    sum
}

/// A freestanding C program built with `--target=wasm64-unknown-unknown` (build.sh) grows its
/// memory to 5 GiB, writes a byte every MiB and reads them back.
#[test]
fn a_wasm64_c_program_uses_more_than_4_gib() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/programs/bigmem64.wasm"
    );
    let wasm = std::fs::read(path).unwrap();
    let loaded = load_bytes(&kiln_compiler::compile(&wasm, &Default::default()).unwrap());
    let mut store = Store::new(());
    let i = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let [Val::I64(heap_base)] = call(&mut store, &i, "heap_base", &[])[..] else {
        panic!("heap_base returns an i64");
    };
    let (pages, stride) = (5 * FOUR_GIB_PAGES / 4, 1 << 20);
    let got = call(
        &mut store,
        &i,
        "run",
        &[Val::I64(pages as i64), Val::I64(stride as i64)],
    );
    if got == [Val::I64(-1)] {
        eprintln!("skipped: this host refuses to commit 5 GiB of address space");
        return;
    }
    let want = bigmem_checksum(heap_base as u64, pages, stride);
    assert_eq!(got, [Val::I64(want as i64)]);
    assert_eq!(
        call(&mut store, &i, "memory_pages", &[]),
        [Val::I64(pages as i64)]
    );
    // The memory is 5 GiB, of which only the touched pages are resident.
    let mem = i.get_memory(&mut store, "memory").unwrap();
    assert_eq!(mem.data_size(&store) as u64, pages * PAGE);
    assert_eq!(mem.data(&store)[1 << 32], pattern(1 << 32));
}
