//! Loading copies nothing: code runs from the file mapping, which stays clean and file-backed.

mod common;

use kiln_loader::{Instance, Store, Val};

/// The smaps entry of the mapping that contains `addr`: (path, private dirty kB, anonymous kB).
fn smaps_entry(addr: usize) -> Option<(String, u64, u64)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut current: Option<(String, u64, u64)> = None;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = first.split_once('-') {
            if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                if current.is_some() {
                    return current;
                }
                if (lo..hi).contains(&addr) {
                    let path = line.split_whitespace().nth(5).unwrap_or("").to_string();
                    current = Some((path, 0, 0));
                }
                continue;
            }
        }
        if let Some(c) = current.as_mut() {
            let kb = |l: &str| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            if line.starts_with("Private_Dirty:") {
                c.1 = kb(line);
            } else if line.starts_with("Anonymous:") {
                c.2 = kb(line);
            }
        }
    }
    current
}

#[test]
fn exported_code_runs_from_the_clean_file_mapping() {
    let (mut store, instance, loaded) =
        common::instantiate(r#"(module (func (export "answer") (result i32) i32.const 42))"#);
    assert_eq!(
        instance.call(&mut store, "answer", &[]).unwrap(),
        vec![Val::I32(42)]
    );
    let code = loaded.artifact.code_range().unwrap();
    let map = loaded.artifact.bytes().as_ptr_range();
    assert!(map.start as usize <= code.start && code.end <= map.end as usize);
    let (path, private_dirty, anon) = smaps_entry(code.start).expect("code is mapped");
    assert_eq!(
        std::path::Path::new(&path),
        loaded.path.as_path(),
        "code mapping is the file"
    );
    assert_eq!(private_dirty, 0, "no page of the code mapping was written");
    assert_eq!(anon, 0, "no page of the code mapping was copied");
}

#[test]
fn instances_share_one_mapping() {
    let loaded = common::load_wat(r#"(module (func (export "f") (result i32) i32.const 7))"#);
    let mut store = Store::new(());
    let a = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    let b = Instance::new(&mut store, &loaded.artifact, &[]).unwrap();
    assert_eq!(a.call(&mut store, "f", &[]).unwrap(), vec![Val::I32(7)]);
    assert_eq!(b.call(&mut store, "f", &[]).unwrap(), vec![Val::I32(7)]);
    assert!(a.artifact(&store).ptr_eq(&b.artifact(&store)));
}

#[test]
fn globals_and_data_are_initialized() {
    let (mut store, instance, _l) = common::instantiate(
        r#"(module (memory (export "mem") 1) (data (i32.const 8) "hello")
                   (global (export "g") i32 (i32.const 42)))"#,
    );
    let g = instance.get_global(&mut store, "g").unwrap();
    assert_eq!(g.get(&mut store), Val::I32(42));
    let mem = instance.get_memory(&mut store, "mem").unwrap();
    assert_eq!(&mem.data(&store)[8..13], b"hello");
    assert_eq!(mem.size(&store), 1);
}

#[test]
fn one_artifact_serves_many_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<kiln_loader::Artifact>();
    assert_send_sync::<Store<()>>();
    let loaded = common::load_wat(
        r#"(module (func (export "sq") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0))))"#,
    );
    std::thread::scope(|s| {
        for t in 0..4 {
            let artifact = loaded.artifact.clone();
            s.spawn(move || {
                let mut store = Store::new(());
                let inst = Instance::new(&mut store, &artifact, &[]).unwrap();
                let sq = inst.get_typed_func::<i32, i32>(&mut store, "sq").unwrap();
                for i in 0..1000 {
                    assert_eq!(sq.call(&mut store, i + t).unwrap(), (i + t) * (i + t));
                }
            });
        }
    });
}
