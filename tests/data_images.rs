//! Data segments: large page-aligned images are mapped copy-on-write from the artifact (no copy
//! at instantiation), everything else is copied, and the result is what the specification says.

mod common;

use kiln_loader::{
    Extern, Global, GlobalType, Instance, Memory, MemoryType, Mutability, Store, Val, ValType,
};

/// A WAT string literal of `len` bytes of a recognizable pattern.
fn pattern(len: usize, seed: u8) -> (Vec<u8>, String) {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    let lit = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
    (bytes, lit)
}

/// Bytes of the memory at `addr` that are mapped from a file (smaps: the mapping's path).
fn backing_path(addr: usize) -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let range = parts.next().unwrap();
        let (lo, hi) = range.split_once('-').unwrap();
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).unwrap(),
            usize::from_str_radix(hi, 16).unwrap(),
        );
        if (lo..hi).contains(&addr) {
            return parts.nth(4).unwrap_or("").to_string();
        }
    }
    String::new()
}

#[test]
fn large_aligned_segments_are_mapped_and_copy_on_write() {
    let (big, big_lit) = pattern(1 << 20, 7);
    let (small, small_lit) = pattern(100, 99);
    let wat = format!(
        r#"(module
          (memory (export "mem") 20)
          (data (i32.const 65536) "{big_lit}")
          (data (i32.const 3) "{small_lit}")
          (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))"#
    );
    let loaded = common::load_wat(&wat);
    let file_before = std::fs::read(&loaded.path).unwrap();
    let mut store = Store::new(());
    let inst = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let mem = inst.get_memory(&mut store, "mem").unwrap();
    let data = mem.data(&store);
    assert_eq!(&data[65536..65536 + big.len()], &big[..]);
    assert_eq!(&data[3..103], &small[..]);
    assert!(data[..3].iter().all(|&b| b == 0));
    assert!(data[65536 + big.len()..].iter().all(|&b| b == 0));
    let image_addr = data.as_ptr() as usize + 65536 + 4096;
    assert_eq!(
        std::path::Path::new(&backing_path(image_addr)),
        loaded.path.as_path(),
        "the big segment's pages come from the artifact file"
    );
    // Writes go to private copies: the guest sees them, the file does not change, and a second
    // instance still sees the original bytes.
    inst.call(&mut store, "poke", &[Val::I32(65536 + 10), Val::I32(0xab)])
        .unwrap();
    assert_eq!(mem.data(&store)[65536 + 10], 0xab);
    let second = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let second_mem = second.get_memory(&mut store, "mem").unwrap();
    assert_eq!(second_mem.data(&store)[65536 + 10], big[10]);
    assert_eq!(std::fs::read(&loaded.path).unwrap(), file_before);
}

#[test]
fn overlapping_segments_apply_in_order() {
    let (a, a_lit) = pattern(3 * 4096, 1);
    let (b, b_lit) = pattern(2 * 4096, 2);
    // `b` starts on a page inside `a`'s range: it must not be mapped over `a`'s bytes, and where
    // they overlap `b` wins.
    let wat = format!(
        r#"(module (memory (export "mem") 1)
          (data (i32.const 0) "{a_lit}")
          (data (i32.const 4096) "{b_lit}"))"#
    );
    let (mut store, inst, _l) = common::instantiate(&wat);
    let mem = inst.get_memory(&mut store, "mem").unwrap();
    let data = mem.data(&store);
    assert_eq!(&data[..4096], &a[..4096]);
    assert_eq!(&data[4096..3 * 4096], &b[..]);
    assert!(data[3 * 4096..].iter().all(|&x| x == 0));
}

#[test]
fn a_replaced_file_is_not_mapped() {
    let (big, big_lit) = pattern(8192, 3);
    let wat = format!(r#"(module (memory (export "mem") 1) (data (i32.const 8192) "{big_lit}"))"#);
    let loaded = common::load_wat(&wat);
    // Replace the file (by rename, as builds do) with another artifact: the loader must notice
    // and copy from its own mapping.
    let other = common::compile_wat(r#"(module (memory 1))"#);
    let tmp = loaded.path.with_extension("tmp");
    std::fs::write(&tmp, other).unwrap();
    std::fs::rename(&tmp, &loaded.path).unwrap();
    let mut store = Store::new(());
    let inst = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let mem = inst.get_memory(&mut store, "mem").unwrap();
    assert_eq!(&mem.data(&store)[8192..8192 + 8192], &big[..]);
}

#[test]
fn unaligned_segments_are_merged_into_one_mapped_image() {
    // Where wasm-ld puts data: offset 1024, not page-aligned. The compiler merges the segments into
    // one page-aligned image that the loader maps.
    let (a, a_lit) = pattern(20_000, 5);
    let (b, b_lit) = pattern(3000, 6);
    let wat = format!(
        r#"(module (memory (export "mem") 2)
          (data (i32.const 1024) "{a_lit}")
          (data (i32.const 30000) "{b_lit}"))"#
    );
    let loaded = common::load_wat(&wat);
    assert_eq!(loaded.artifact.view().unwrap().memory_images().len(), 1);
    let mut store = Store::new(());
    let inst = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let mem = inst.get_memory(&mut store, "mem").unwrap();
    let data = mem.data(&store);
    assert!(data[..1024].iter().all(|&x| x == 0));
    assert_eq!(&data[1024..21_024], &a[..]);
    assert!(data[21_024..30_000].iter().all(|&x| x == 0));
    assert_eq!(&data[30_000..33_000], &b[..]);
    assert!(data[33_000..].iter().all(|&x| x == 0));
    assert_eq!(
        std::path::Path::new(&backing_path(data.as_ptr() as usize + 8192)),
        loaded.path.as_path()
    );
}

#[test]
fn segments_that_cannot_be_merged_are_applied_one_by_one() {
    // An imported memory, a non-constant offset and a segment past the initial size: no image; the
    // second segment traps at instantiation after the first was written (observable through the
    // imported memory).
    let (a, a_lit) = pattern(100, 8);
    let wat = format!(
        r#"(module (import "env" "mem" (memory 1)) (import "env" "g" (global $g i32))
          (data (global.get $g) "{a_lit}")
          (data (i32.const 65530) "0123456789"))"#
    );
    let loaded = common::load_wat(&wat);
    assert!(loaded.artifact.view().unwrap().memory_images().is_empty());
    let mut store = Store::new(());
    let mem = Memory::new(&mut store, MemoryType::new(1, None)).unwrap();
    let g = Global::new(
        &mut store,
        GlobalType::new(ValType::I32, Mutability::Const),
        Val::I32(4096),
    )
    .unwrap();
    // In the artifact's import order: `env.mem`, then `env.g`.
    let imports = [Extern::Memory(mem), Extern::Global(g)];
    let err = Instance::new(&mut store, &loaded.artifact, &imports)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("out of bounds memory access"),
        "{err}"
    );
    assert_eq!(&mem.data(&store)[4096..4196], &a[..]);
}

/// Open descriptors of this process that refer to `path`. Only those count: the other tests of
/// this binary run in parallel and open files of their own. `path` is canonicalized because the
/// links in `/proc/self/fd` are, so a differently spelled path cannot make every count zero.
fn open_fds_of(path: &std::path::Path) -> usize {
    let path = std::fs::canonicalize(path).unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| *target == path)
        .count()
}

/// A corruption probe found one descriptor kept per instantiated artifact: 10,000 loads of one
/// file took every free descriptor. Artifacts of one file now share one.
#[test]
fn artifacts_of_one_file_share_one_descriptor() {
    let (_, lit) = pattern(8192, 3);
    let wat = format!(r#"(module (memory (export "mem") 1) (data (i32.const 0) "{lit}"))"#);
    let loaded = common::load_wat(&wat);
    let before = open_fds_of(&loaded.path);
    let mut held = Vec::new();
    for i in 0..1000 {
        let artifact = kiln_loader::Artifact::open(&loaded.path).unwrap();
        let mut store = Store::new(());
        let inst = Instance::new(&mut store, &artifact, &[]).unwrap();
        if i == 0 {
            // The image is mapped from the file, so the file had to be opened again.
            let mem = inst.get_memory(&mut store, "mem").unwrap();
            let page = mem.data(&store).as_ptr() as usize;
            assert_eq!(
                std::path::Path::new(&backing_path(page)),
                loaded.path.as_path()
            );
        }
        held.push((artifact, store));
    }
    let during = open_fds_of(&loaded.path);
    assert!(
        during <= before + 1,
        "{before} descriptors before, {during} with 1000 artifacts"
    );
    drop(held);
    assert_eq!(open_fds_of(&loaded.path), before);
}

/// Multiple memories (WebAssembly 3.0): each defined memory gets its own copy-on-write image
/// from the artifact, segments go to the memory they name, and `memory.copy` moves bytes between
/// two memories.
#[test]
fn each_of_several_memories_maps_its_own_image() {
    let (a, a_lit) = pattern(70_000, 1);
    let (b, b_lit) = pattern(80_000, 2);
    let wat = format!(
        r#"(module
          (memory $m0 (export "m0") 3)
          (memory $m1 (export "m1") 4)
          (memory $m2 (export "m2") 1)
          (data (memory $m0) (i32.const 1024) "{a_lit}")
          (data (memory $m1) (i32.const 4096) "{b_lit}")
          (data (memory $m2) (i32.const 8) "m2")
          (func (export "copy_1_to_2") (param $dst i32) (param $src i32) (param $n i32)
            (memory.copy $m2 $m1 (local.get $dst) (local.get $src) (local.get $n)))
          (func (export "load_1") (param i32) (result i32) (i32.load8_u $m1 (local.get 0)))
          (func (export "store_0") (param i32 i32) (i32.store8 $m0 (local.get 0) (local.get 1))))"#
    );
    let loaded = common::load_wat(&wat);
    assert_eq!(loaded.artifact.view().unwrap().memory_images().len(), 3);
    let mut store = Store::new(());
    let inst = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let m: Vec<Memory> = ["m0", "m1", "m2"]
        .iter()
        .map(|n| inst.get_memory(&mut store, n).unwrap())
        .collect();
    assert_eq!(
        m.iter().map(|m| m.size(&store)).collect::<Vec<_>>(),
        [3, 4, 1]
    );
    assert_eq!(&m[0].data(&store)[1024..71_024], &a[..]);
    assert_eq!(&m[1].data(&store)[4096..84_096], &b[..]);
    assert_eq!(&m[2].data(&store)[8..10], b"m2");
    for (memory, page) in [(m[0], 8192), (m[1], 8192)] {
        assert_eq!(
            std::path::Path::new(&backing_path(memory.data(&store).as_ptr() as usize + page)),
            loaded.path.as_path(),
            "each large image comes from the artifact file"
        );
    }
    assert_eq!(
        inst.call(&mut store, "load_1", &[Val::I32(4096 + 5)])
            .unwrap(),
        [Val::I32(b[5] as i32)]
    );
    inst.call(
        &mut store,
        "copy_1_to_2",
        &[Val::I32(100), Val::I32(4096), Val::I32(1000)],
    )
    .unwrap();
    assert_eq!(&m[2].data(&store)[100..1100], &b[..1000]);
    // A write to one memory's private copy changes neither the others nor the file.
    let file_before = std::fs::read(&loaded.path).unwrap();
    inst.call(&mut store, "store_0", &[Val::I32(1024), Val::I32(0xee)])
        .unwrap();
    assert_eq!(m[0].data(&store)[1024], 0xee);
    assert_eq!(m[1].data(&store)[4096], b[0]);
    assert_eq!(std::fs::read(&loaded.path).unwrap(), file_before);
    // Out of bounds in the second memory traps, whatever the first one's size.
    let e = inst
        .call(
            &mut store,
            "copy_1_to_2",
            &[Val::I32(65_000), Val::I32(0), Val::I32(1000)],
        )
        .unwrap_err();
    assert_eq!(
        e.as_trap().unwrap().kind,
        kiln_loader::TrapKind::MemoryOutOfBounds
    );
}
