//! Resource hardening: what a long-running host that loads, instantiates, calls and traps a great
//! deal must be able to count on. Every test is bounded in time.
//!
//! - **Traps leak nothing**: 1,000,000 `unreachable` traps in a loop (after a warm-up of 10,000)
//!   grow the resident set by less than 1 MiB.
//! - **Loading is cheap to hold and gives everything back**: 10,000 artifacts loaded at once, from
//!   10,000 distinct files and from one file opened 10,000 times, a few hundred of them
//!   instantiated and called, then all dropped: the resident set is back within 1 MiB of where it
//!   was, loading holds no file descriptor, and instantiation holds at most one per file (the
//!   loader shares one descriptor per file for data images) and no more than its budget (a
//!   sixteenth of the descriptor limit), none after the artifacts are gone.
//! - **Concurrency**: 8 threads load, instantiate, call (through a host function) and trap at once
//!   for `KILN_STRESS_SECS` seconds (default 30, the figure of the hardening issue), each
//!   checking every result.
//! - **Memory growth to the maximum** in 64 instances (defined and imported memories, grown from
//!   wasm and from the host, one of them to the full 4 GiB): growth beyond the maximum is -1 or an
//!   error and changes nothing, contents survive every growth.
//! - **Stack overflow** is a trap after which the same thread calls on normally, repeatedly, also
//!   across a host function, with a small and a large stack budget, and on a thread with a 256 KiB
//!   stack.
//! - **Signal handler chaining**, in child processes (re-executing this binary) so that a crash
//!   cannot take the test runner down: a host `SIGSEGV` handler installed before Kiln's (Kiln
//!   installs its handlers at the first `Store::new`) and one installed after Kiln's both keep
//!   receiving the faults of host code (including host code called from guest code), guest traps
//!   keep working, and a real segfault in host code still kills the process with `SIGSEGV`.
//!
//! What Kiln requires of a handler installed *after* its own (checked by
//! `a_signal_handler_installed_after_kilns_chains_to_it`): it must pass every fault it does not
//! own to the handler it replaced, as a three-argument `SA_SIGINFO` call with the same
//! `(signum, info, ucontext)`, and should be installed with `SA_ONSTACK` (as Kiln's own handlers
//! are, so that a guest stack overflow can be handled). `SA_NODEFER` is not required: Kiln leaves a
//! guest trap by a jump that does not restore the signal mask, and unblocks the fault signals
//! after every trap (tested with and without the flag).
//!
//! The tests that measure the resident set or count descriptors run alone (a write lock); the
//! others share the process (read locks).

mod common;

use kiln_loader::{
    Artifact, Caller, Error, Extern, Func, Instance, Linker, Memory, MemoryType, Store, Trap,
    TrapKind, TypedFunc,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// Held for writing by the tests that measure process-wide figures (resident set, descriptors),
/// for reading by the others.
static PROCESS: RwLock<()> = RwLock::new(());

/// Runs the calling test alone in this process.
fn alone() -> RwLockWriteGuard<'static, ()> {
    PROCESS.write().unwrap_or_else(PoisonError::into_inner)
}

/// Lets the calling test share the process with the others, but not with one that runs alone.
fn shared() -> RwLockReadGuard<'static, ()> {
    PROCESS.read().unwrap_or_else(PoisonError::into_inner)
}

/// The resident set of this process, in bytes (`VmRSS` of /proc/self/status).
fn rss() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kb: i64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kb * 1024
}

/// Open file descriptors of this process (entries of /proc/self/fd, less the one reading it).
fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
        .saturating_sub(1)
}

const MIB: i64 = 1 << 20;

fn mib(bytes: i64) -> f64 {
    bytes as f64 / MIB as f64
}

/// The trap inside `result`, which must be one.
#[track_caller]
fn expect_trap<R: std::fmt::Debug>(result: kiln_loader::Result<R>) -> Trap {
    match result {
        Err(Error::Trap(trap)) => trap,
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// A recognizable page-sized data image, and its WAT string literal.
fn image() -> (Vec<u8>, String) {
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(11))
        .collect();
    let lit = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
    (bytes, lit)
}

/// The little-endian word of the data image at `offset`.
fn image_word(offset: usize) -> i32 {
    let (bytes, _) = image();
    i32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap())
}

// ---------------------------------------------------------------------------------------------
// 1. A million traps, flat resident set
// ---------------------------------------------------------------------------------------------

const TRAP_LOOP: &str = r#"
(module
  (func $inner unreachable)
  (func (export "unreachable") (call $inner))
  (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))
"#;

/// Traps measured after the warm-up. A debug build does 1,000,000 in about 15 s on a 2-core
/// machine (about 67,000 traps/s; the figures are printed with `--nocapture`), under the 20 s
/// allowed for it, so the issue's full count is kept.
const TRAPS: usize = 1_000_000;
const WARM_UP_TRAPS: usize = 10_000;

#[test]
fn a_million_traps_leave_the_resident_set_flat() {
    let _alone = alone();
    let (mut store, instance, _loaded) = common::instantiate(TRAP_LOOP);
    let trap: TypedFunc<(), ()> = instance
        .get_typed_func(&mut store, "unreachable")
        .expect("unreachable export");
    let inc: TypedFunc<i32, i32> = instance.get_typed_func(&mut store, "inc").unwrap();
    let run = |store: &mut Store<()>, n: usize| {
        for i in 0..n {
            match trap.call(&mut *store, ()) {
                Err(Error::Trap(t)) if t.kind == TrapKind::Unreachable => {}
                other => panic!("trap {i}: expected an unreachable trap, got {other:?}"),
            }
            // Now and then, an ordinary call in between: the instance works after every trap.
            if i % 4096 == 0 {
                assert_eq!(inc.call(&mut *store, i as i32).unwrap(), i as i32 + 1);
            }
        }
    };
    run(&mut store, WARM_UP_TRAPS);
    let before = rss();
    let start = Instant::now();
    let mut peak = before;
    for _ in 0..100 {
        run(&mut store, TRAPS / 100);
        peak = peak.max(rss());
    }
    let elapsed = start.elapsed();
    let after = rss();
    println!(
        "{TRAPS} traps in {elapsed:.2?} ({:.0} traps/s); RSS {:.2} MiB -> {:.2} MiB \
         (delta {:+} KiB, peak {:+} KiB)",
        TRAPS as f64 / elapsed.as_secs_f64(),
        mib(before),
        mib(after),
        (after - before) / 1024,
        (peak - before) / 1024,
    );
    assert!(
        after - before < MIB,
        "RSS grew by {} KiB over {TRAPS} traps",
        (after - before) / 1024
    );
}

// ---------------------------------------------------------------------------------------------
// 2. 10,000 artifacts at once
// ---------------------------------------------------------------------------------------------

/// Artifacts loaded at once.
const ARTIFACTS: usize = 10_000;
/// One artifact in this many is instantiated (313 of 10,000).
const INSTANTIATE_EVERY: usize = 32;

/// A small module with a page-aligned data image, which instantiation maps from the file (so it
/// takes the artifact's shared descriptor).
fn small_module() -> String {
    let (_, lit) = image();
    format!(
        r#"(module
          (memory (export "mem") 2)
          (data (i32.const 65536) "{lit}")
          (func (export "f") (param i32) (result i32)
            (i32.add (i32.load (i32.const 65540)) (local.get 0))))"#
    )
}

/// What one round of loading held.
#[derive(Debug)]
struct Round {
    /// Descriptors held with all artifacts loaded, none instantiated (less the baseline).
    fds_loaded: isize,
    /// Descriptors held with some instantiated, stores alive (less the baseline).
    fds_instantiated: isize,
    /// Descriptors held once everything is dropped (less the baseline).
    fds_after: isize,
    /// RSS with everything loaded and instantiated, less before.
    rss_held: i64,
    /// Instances made.
    instances: usize,
}

/// Loads every path at once, instantiates and calls one in [`INSTANTIATE_EVERY`], drops it all.
fn load_round(paths: &[PathBuf]) -> Round {
    let fds = fd_count() as isize;
    let rss_before = rss();
    let artifacts: Vec<Artifact> = paths
        .iter()
        .map(|p| Artifact::open(p).expect("artifact loads"))
        .collect();
    let fds_loaded = fd_count() as isize - fds;
    let word = image_word(4);
    let mut stores = Vec::new();
    for (i, artifact) in artifacts.iter().enumerate().step_by(INSTANTIATE_EVERY) {
        let mut store = Store::new(());
        let instance = Instance::new(&mut store, artifact, &[]).expect("instantiates");
        let f: TypedFunc<i32, i32> = instance.get_typed_func(&mut store, "f").unwrap();
        assert_eq!(
            f.call(&mut store, i as i32).unwrap(),
            word.wrapping_add(i as i32)
        );
        stores.push(store);
    }
    let instances = stores.len();
    let fds_instantiated = fd_count() as isize - fds;
    let rss_held = rss() - rss_before;
    drop(stores);
    drop(artifacts);
    Round {
        fds_loaded,
        fds_instantiated,
        fds_after: fd_count() as isize - fds,
        rss_held,
        instances,
    }
}

/// Runs a warm-up round (so that the allocator's pools exist), then a measured one.
fn load_and_drop(paths: &[PathBuf], what: &str, max_fds_instantiated: isize) {
    let warm_up = load_round(paths);
    let before = rss();
    let round = load_round(paths);
    let after = rss();
    println!(
        "{what}: {ARTIFACTS} loaded, {} instantiated: {} KiB held while loaded (warm-up: {} KiB); \
         descriptors held: {} loaded, {} instantiated, {} after; RSS after dropping \
         {:.2} MiB -> {:.2} MiB (delta {:+} KiB)",
        round.instances,
        round.rss_held / 1024,
        warm_up.rss_held / 1024,
        round.fds_loaded,
        round.fds_instantiated,
        round.fds_after,
        mib(before),
        mib(after),
        (after - before) / 1024
    );
    for r in [&warm_up, &round] {
        assert_eq!(r.fds_loaded, 0, "{what}: loading holds no descriptor");
        assert!(
            (0..=max_fds_instantiated).contains(&r.fds_instantiated),
            "{what}: {} descriptors held by {} instances (at most {max_fds_instantiated})",
            r.fds_instantiated,
            r.instances
        );
        assert_eq!(
            r.fds_after, 0,
            "{what}: descriptors released with the artifacts"
        );
    }
    assert!(
        (after - before).abs() < MIB,
        "{what}: RSS {:+} KiB after loading and dropping {ARTIFACTS} artifacts",
        (after - before) / 1024
    );
}

#[test]
fn ten_thousand_distinct_files_load_at_once_and_give_everything_back() {
    let _alone = alone();
    let bytes = common::compile_wat(&small_module());
    let dir = tempfile::tempdir().expect("temp dir");
    let paths: Vec<PathBuf> = (0..ARTIFACTS)
        .map(|i| {
            let path = dir.path().join(format!("m{i}.kiln"));
            std::fs::write(&path, &bytes).expect("write artifact");
            path
        })
        .collect();
    println!("{ARTIFACTS} copies of a {}-byte artifact", bytes.len());
    // Each instantiated artifact may keep its own file's descriptor, within the loader's budget
    // (see `many_files_instantiated_leave_the_host_its_descriptors`).
    let instantiated = ARTIFACTS.div_ceil(INSTANTIATE_EVERY) as isize;
    load_and_drop(&paths, "distinct files", instantiated);
}

/// Set in the child process of [`many_files_instantiated_leave_the_host_its_descriptors`].
const FD_CHILD_ENV: &str = "KILN_RESOURCES_FD_CHILD";

/// The descriptor limit of that child.
const FD_LIMIT: u64 = 256;

/// Under a limit of 256 descriptors, 1,000 artifacts of distinct files are loaded and each
/// instantiated (its image mapped from its file) and called, all kept loaded: the loader keeps
/// at most a sixteenth of the limit for data images, so the host can still open files. (Before the
/// budget, every instantiated artifact kept its file open and the host ran out.) In a child
/// process, since the budget is read once per process.
#[test]
fn many_files_instantiated_leave_the_host_its_descriptors() {
    if std::env::var(FD_CHILD_ENV).is_ok() {
        let limit = libc::rlimit {
            rlim_cur: FD_LIMIT,
            rlim_max: FD_LIMIT,
        };
        // SAFETY: a valid rlimit for this process, lowered before Kiln reads it.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
        let bytes = common::compile_wat(&small_module());
        let dir = tempfile::tempdir().expect("temp dir");
        let word = image_word(4);
        let fds = fd_count();
        let mut artifacts = Vec::new();
        for i in 0..1000 {
            let path = dir.path().join(format!("m{i}.kiln"));
            std::fs::write(&path, &bytes).expect("write artifact");
            let artifact = Artifact::open(&path).expect("artifact loads");
            let mut store = Store::new(());
            let instance = Instance::new(&mut store, &artifact, &[]).expect("instantiates");
            let f: TypedFunc<i32, i32> = instance.get_typed_func(&mut store, "f").unwrap();
            assert_eq!(f.call(&mut store, i).unwrap(), word.wrapping_add(i));
            artifacts.push(artifact);
        }
        let held = fd_count() - fds;
        assert!(
            held <= (FD_LIMIT / 16) as usize,
            "{held} descriptors kept by 1,000 instantiated artifacts"
        );
        std::fs::File::open("/proc/self/status").expect("the host can still open files");
        println!("kiln-resources: {held} descriptors kept");
        return;
    }
    let _alone = alone();
    let exe = std::env::current_exe().expect("test binary");
    let test = "many_files_instantiated_leave_the_host_its_descriptors";
    let output = std::process::Command::new(&exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(FD_CHILD_ENV, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("descriptors kept"),
        "{:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn one_file_opened_ten_thousand_times_loads_at_once_and_gives_everything_back() {
    let _alone = alone();
    let loaded = common::load_wat(&small_module());
    let paths = vec![loaded.path.clone(); ARTIFACTS];
    drop(loaded.artifact);
    // Every artifact of the one file shares one descriptor.
    load_and_drop(&paths, "one file", 1);
}

// ---------------------------------------------------------------------------------------------
// 3. Eight threads at once
// ---------------------------------------------------------------------------------------------

const STRESS: &str = r#"
(module
  (import "env" "mix" (func $mix (param i32) (result i32)))
  (memory (export "mem") 2)
  (data (i32.const 65536) "IMAGE")
  (func (export "compute") (param i32) (result i32)
    ;; mix(x) ^ image word, plus 3x: a host call, a data image read and arithmetic.
    (i32.add
      (i32.xor (call $mix (local.get 0)) (i32.load (i32.const 65540)))
      (i32.mul (local.get 0) (i32.const 3))))
  (func (export "div") (param i32) (result i32) (i32.div_s (i32.const 1000) (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func $rec (export "recurse") (param i32) (result i32)
    (i32.add (call $rec (local.get 0)) (i32.const 1))))
"#;

/// The host function of [`STRESS`]: depends on the store's data, so a call served by the wrong
/// store shows.
fn mix(tag: u32, x: i32) -> i32 {
    x.wrapping_mul(0x9e37_79b1_u32 as i32) ^ tag as i32
}

fn stress_secs() -> u64 {
    std::env::var("KILN_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
}

#[test]
fn eight_threads_load_instantiate_call_and_trap_at_once() {
    let _shared = shared();
    const THREADS: u32 = 8;
    let (_, lit) = image();
    let bytes = common::compile_wat(&STRESS.replace("IMAGE", &lit));
    let dir = tempfile::tempdir().expect("temp dir");
    // One file all threads load, and one per thread.
    let shared_path = dir.path().join("shared.kiln");
    std::fs::write(&shared_path, &bytes).unwrap();
    let own_paths: Vec<PathBuf> = (0..THREADS)
        .map(|t| {
            let p = dir.path().join(format!("t{t}.kiln"));
            std::fs::write(&p, &bytes).unwrap();
            p
        })
        .collect();
    let mut linker = Linker::<u32>::new();
    linker
        .func_wrap("env", "mix", |caller: Caller<'_, u32>, x: i32| {
            mix(*caller.data(), x)
        })
        .unwrap();
    let word = image_word(4);
    let secs = stress_secs();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (linker, shared_path, own_path) =
                    (&linker, &shared_path, &own_paths[t as usize]);
                s.spawn(move || {
                    let mut iterations = 0u64;
                    while Instant::now() < deadline {
                        let path = if iterations.is_multiple_of(2) {
                            shared_path
                        } else {
                            own_path
                        };
                        let artifact = Artifact::open(path).expect("loads");
                        let tag = t * 1_000_003 + iterations as u32;
                        let mut store = Store::new(tag);
                        let instance = linker
                            .instantiate(&mut store, &artifact)
                            .expect("instantiates");
                        let compute: TypedFunc<i32, i32> =
                            instance.get_typed_func(&mut store, "compute").unwrap();
                        let div: TypedFunc<i32, i32> =
                            instance.get_typed_func(&mut store, "div").unwrap();
                        let load: TypedFunc<i32, i32> =
                            instance.get_typed_func(&mut store, "load").unwrap();
                        for k in 0..8 {
                            let x = (t as i32) << 24 | (iterations as i32 & 0xffff) << 4 | k;
                            let expected = (mix(tag, x) ^ word).wrapping_add(x.wrapping_mul(3));
                            assert_eq!(
                                compute.call(&mut store, x).unwrap(),
                                expected,
                                "thread {t}"
                            );
                            let d = k + 1;
                            assert_eq!(div.call(&mut store, d).unwrap(), 1000 / d);
                        }
                        assert_eq!(
                            expect_trap(div.call(&mut store, 0)).kind,
                            TrapKind::IntegerDivisionByZero
                        );
                        assert_eq!(
                            expect_trap(load.call(&mut store, 2 << 16)).kind,
                            TrapKind::MemoryOutOfBounds
                        );
                        assert_eq!(load.call(&mut store, 65540).unwrap(), word);
                        if iterations.is_multiple_of(16) {
                            let recurse = instance.get_func(&mut store, "recurse").unwrap();
                            let recurse = recurse.typed::<i32, i32>(&store).unwrap();
                            assert_eq!(
                                expect_trap(recurse.call(&mut store, 0)).kind,
                                TrapKind::StackOverflow
                            );
                        }
                        // After the traps, the instance still computes.
                        assert_eq!(
                            compute.call(&mut store, -1).unwrap(),
                            (mix(tag, -1) ^ word).wrapping_add(-3)
                        );
                        iterations += 1;
                    }
                    iterations
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("stress thread ran without a wrong result"))
            .collect()
    });
    println!(
        "{THREADS} threads for {secs} s: {} iterations ({counts:?})",
        counts.iter().sum::<u64>()
    );
    assert!(
        counts.iter().all(|&n| n > 0),
        "every thread ran: {counts:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Memory growth to the maximum
// ---------------------------------------------------------------------------------------------

const GROW_FUNCS: &str = r#"
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
"#;

const PAGE: u64 = 65536;

/// The byte written at the start of page `page` of instance `i`.
fn marker(i: usize, page: u64) -> u8 {
    (i as u8).wrapping_mul(7).wrapping_add(page as u8) | 1
}

/// One instance whose memory is grown.
struct Grown {
    index: usize,
    instance: Instance,
    memory: Memory,
    max: u64,
}

impl Grown {
    fn func<P: kiln_loader::WasmParams, R: kiln_loader::WasmResults>(
        &self,
        store: &mut Store<()>,
        name: &str,
    ) -> TypedFunc<P, R> {
        self.instance.get_typed_func(store, name).unwrap()
    }

    /// Grows one page at a time to the maximum, alternately from wasm and from the host, writing
    /// each new page's marker; then checks that growth beyond fails and changes nothing.
    fn grow_to_max(&self, store: &mut Store<()>) {
        let grow = self.func::<i32, i32>(store, "grow");
        let size = self.func::<(), i32>(store, "size");
        let store8 = self.func::<(i32, i32), ()>(store, "store8");
        let (i, max) = (self.index, self.max);
        // Beyond the maximum in one step: refused, nothing changes.
        assert_eq!(grow.call(&mut *store, max as i32).unwrap(), -1);
        assert_eq!(grow.call(&mut *store, -1).unwrap(), -1);
        assert!(self.memory.grow(&mut *store, max).is_err());
        assert!(self.memory.grow(&mut *store, u64::MAX).is_err());
        assert_eq!(size.call(&mut *store, ()).unwrap(), 1);
        store8.call(&mut *store, (0, marker(i, 0) as i32)).unwrap();
        for pages in 1..max {
            let old = if (pages + i as u64).is_multiple_of(2) {
                grow.call(&mut *store, 1).unwrap() as u64
            } else {
                self.memory.grow(&mut *store, 1).unwrap()
            };
            assert_eq!(old, pages, "instance {i}: old size");
            // The new page is zeroed, and writable from both sides.
            let at = (pages * PAGE) as usize;
            assert_eq!(self.memory.data(&*store)[at], 0);
            if pages % 2 == 0 {
                store8
                    .call(&mut *store, (at as i32, marker(i, pages) as i32))
                    .unwrap();
            } else {
                self.memory.data_mut(&mut *store)[at] = marker(i, pages);
            }
        }
        assert_eq!(size.call(&mut *store, ()).unwrap() as u64, max);
        assert_eq!(self.memory.size(&*store), max);
        // At the maximum: growing by 0 reports the size, growing further is refused.
        assert_eq!(grow.call(&mut *store, 0).unwrap() as u64, max);
        assert_eq!(self.memory.grow(&mut *store, 0).unwrap(), max);
        assert_eq!(grow.call(&mut *store, 1).unwrap(), -1);
        assert!(self.memory.grow(&mut *store, 1).is_err());
        assert_eq!(self.memory.size(&*store), max);
        assert_eq!(self.memory.data_size(&*store) as u64, max * PAGE);
        // The last byte is usable, the next one is out of bounds.
        let last = (max * PAGE - 1) as i32;
        store8.call(&mut *store, (last, 0x5a)).unwrap();
        let load8 = self.func::<i32, i32>(store, "load8");
        assert_eq!(load8.call(&mut *store, last).unwrap(), 0x5a);
        assert_eq!(
            expect_trap(load8.call(&mut *store, last + 1)).kind,
            TrapKind::MemoryOutOfBounds
        );
    }

    /// Every page's marker (seen from wasm and from the host) and the last byte are intact.
    fn check(&self, store: &mut Store<()>) {
        let load8 = self.func::<i32, i32>(store, "load8");
        for page in 0..self.max {
            let at = page * PAGE;
            let want = marker(self.index, page);
            assert_eq!(
                self.memory.data(&*store)[at as usize],
                want,
                "instance {}",
                self.index
            );
            assert_eq!(load8.call(&mut *store, at as i32).unwrap(), want as i32);
        }
        let last = (self.max * PAGE - 1) as usize;
        assert_eq!(self.memory.data(&*store)[last], 0x5a);
    }
}

#[test]
fn sixty_four_memories_grow_to_their_maximum_and_no_further() {
    let _shared = shared();
    let defined = common::load_wat(&format!(
        r#"(module (memory (export "mem") 1 8) {GROW_FUNCS})"#
    ));
    let imported = common::load_wat(&format!(
        r#"(module (import "env" "mem" (memory 1)) (export "mem" (memory 0)) {GROW_FUNCS})"#
    ));
    // 8 stores of 8 instances: even ones define their memory (maximum 8 pages), odd ones import
    // a host memory with a maximum of 2 to 32 pages.
    let mut stores: Vec<(Store<()>, Vec<Grown>)> = Vec::new();
    for s in 0..8 {
        let mut store = Store::new(());
        let mut grown = Vec::new();
        for k in 0..8 {
            let index = s * 8 + k;
            let (instance, max) = if index % 2 == 0 {
                let inst = Instance::new(&mut store, &defined.artifact, &[]).unwrap();
                (inst, 8)
            } else {
                let max = 2 + (index as u64 % 31);
                let mem = Memory::new(&mut store, MemoryType::new(1, Some(max as u32))).unwrap();
                let inst =
                    Instance::new(&mut store, &imported.artifact, &[Extern::Memory(mem)]).unwrap();
                (inst, max)
            };
            let memory = instance.get_memory(&mut store, "mem").unwrap();
            let g = Grown {
                index,
                instance,
                memory,
                max,
            };
            g.grow_to_max(&mut store);
            grown.push(g);
        }
        stores.push((store, grown));
    }
    // All 64 at their maximum at once; each memory's contents are its own.
    for (store, grown) in &mut stores {
        for g in grown.iter() {
            g.check(store);
        }
    }
    drop(stores);

    // The largest memory there is: 65,536 pages (4 GiB), grown once from wasm and once from the
    // host; touched only at page starts near the ends.
    let full = common::load_wat(&format!(
        r#"(module (memory (export "mem") 1) {GROW_FUNCS})"#
    ));
    for from_wasm in [true, false] {
        let mut store = Store::new(());
        let instance = Instance::new(&mut store, &full.artifact, &[]).unwrap();
        let memory = instance.get_memory(&mut store, "mem").unwrap();
        let grow: TypedFunc<i32, i32> = instance.get_typed_func(&mut store, "grow").unwrap();
        let load8: TypedFunc<i32, i32> = instance.get_typed_func(&mut store, "load8").unwrap();
        memory.data_mut(&mut store)[0] = 42;
        assert_eq!(grow.call(&mut store, 65536).unwrap(), -1, "65,537 pages");
        let old = if from_wasm {
            grow.call(&mut store, 65535).unwrap() as u64
        } else {
            memory.grow(&mut store, 65535).unwrap()
        };
        assert_eq!(old, 1);
        assert_eq!(memory.size(&store), 65536);
        assert_eq!(grow.call(&mut store, 1).unwrap(), -1);
        assert!(memory.grow(&mut store, 1).is_err());
        let last = u32::MAX as usize;
        memory.data_mut(&mut store)[last] = 7;
        assert_eq!(load8.call(&mut store, last as i32).unwrap(), 7);
        assert_eq!(
            load8.call(&mut store, 0).unwrap(),
            42,
            "contents survive growth"
        );
        assert_eq!(memory.size(&store), 65536);
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Stack overflow, then normal calls
// ---------------------------------------------------------------------------------------------

const RECURSION: &str = r#"
(module
  (import "host" "reenter" (func $reenter (param i32) (result i32)))
  (func $rec (export "recurse") (param i32) (result i32)
    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $depth (export "depth") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $depth (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
  (func (export "triple") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  ;; Guest -> host -> guest: the host function calls "recurse" (x = 0) or "depth" (x > 0).
  (func (export "via_host") (param i32) (result i32) (call $reenter (local.get 0))))
"#;

/// A store and instance of [`RECURSION`].
fn recursion_instance(loaded: &common::Loaded) -> (Store<()>, Instance) {
    let mut store = Store::new(());
    let reenter = Func::wrap(
        &mut store,
        |mut caller: Caller<'_, ()>, x: i32| -> Result<i32, Error> {
            let name = if x == 0 { "recurse" } else { "depth" };
            let f = match caller.get_export(name) {
                Some(Extern::Func(f)) => f,
                _ => panic!("no export {name}"),
            };
            f.typed::<i32, i32>(&caller)?.call(&mut caller, x)
        },
    );
    let instance = Instance::new(&mut store, &loaded.artifact, &[Extern::Func(reenter)]).unwrap();
    (store, instance)
}

/// Overflows the stack `rounds` times, with ordinary calls (and a recursion `depth` deep, which
/// must fit) after each overflow.
fn overflow_and_recover(store: &mut Store<()>, instance: &Instance, rounds: i32, depth: i32) {
    let recurse: TypedFunc<i32, i32> = instance.get_typed_func(&mut *store, "recurse").unwrap();
    let deep: TypedFunc<i32, i32> = instance.get_typed_func(&mut *store, "depth").unwrap();
    let triple: TypedFunc<i32, i32> = instance.get_typed_func(&mut *store, "triple").unwrap();
    let via_host: TypedFunc<i32, i32> = instance.get_typed_func(&mut *store, "via_host").unwrap();
    for round in 0..rounds {
        let trap = expect_trap(recurse.call(&mut *store, 0));
        assert_eq!(trap.kind, TrapKind::StackOverflow, "round {round}: {trap}");
        assert_eq!(triple.call(&mut *store, round).unwrap(), 3 * round);
        assert_eq!(deep.call(&mut *store, depth).unwrap(), depth);
        // The overflow of a guest called back from a host function: the host function sees the
        // trap, returns it as its error, and the outer call fails with it inside.
        let trap = expect_trap(via_host.call(&mut *store, 0));
        assert_eq!(trap.kind, TrapKind::HostError, "round {round}: {trap}");
        let inner = trap
            .downcast_ref::<Error>()
            .and_then(Error::as_trap)
            .unwrap_or_else(|| panic!("round {round}: the inner trap is the host error: {trap}"));
        assert_eq!(inner.kind, TrapKind::StackOverflow);
        assert_eq!(via_host.call(&mut *store, depth).unwrap(), depth);
        assert_eq!(triple.call(&mut *store, -round).unwrap(), -3 * round);
    }
}

#[test]
fn stack_overflow_then_normal_calls_on_the_same_thread() {
    let _shared = shared();
    let loaded = common::load_wat(RECURSION);
    let (mut store, instance) = recursion_instance(&loaded);
    overflow_and_recover(&mut store, &instance, 20, 2_000);
    // A small budget, then a large one: the limit follows the store's setting at each call.
    store.set_max_wasm_stack(64 << 10);
    overflow_and_recover(&mut store, &instance, 5, 100);
    let deep: TypedFunc<i32, i32> = instance.get_typed_func(&mut store, "depth").unwrap();
    assert_eq!(
        expect_trap(deep.call(&mut store, 1_000_000)).kind,
        TrapKind::StackOverflow,
        "a million frames do not fit in 64 KiB"
    );
    store.set_max_wasm_stack(kiln_loader::DEFAULT_MAX_WASM_STACK);
    overflow_and_recover(&mut store, &instance, 5, 2_000);
}

#[test]
fn stack_overflow_then_normal_calls_on_a_thread_with_a_small_stack() {
    let _shared = shared();
    let loaded = common::load_wat(RECURSION);
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn_scoped(s, || {
                let (mut store, instance) = recursion_instance(&loaded);
                overflow_and_recover(&mut store, &instance, 10, 200);
                // A budget larger than the whole thread's stack: the thread's real bounds still
                // keep the guest from overflowing it.
                store.set_max_wasm_stack(64 << 20);
                overflow_and_recover(&mut store, &instance, 10, 200);
            })
            .expect("spawn a 256 KiB thread")
            .join()
            .expect("the small thread survived its guests' overflows");
    });
}

// ---------------------------------------------------------------------------------------------
// 6. Signal handler chaining, in child processes
// ---------------------------------------------------------------------------------------------

/// Selects the child scenario: `before` or `after` (when the host installs its handler), then
/// `host` or `hostfn` (where the final null write happens: plain host code, or a host function
/// called from guest code).
const CHILD_ENV: &str = "KILN_RESOURCES_SIGNAL_CHILD";

/// What the child prints once every recoverable check passed, just before the real segfault.
const CHECKS_PASSED: &str = "kiln-resources: checks passed, now faulting for real";
/// What the host's handler writes when it sees a fault that is not its own while the child
/// expects the real segfault.
const FOREIGN_SEEN: &[u8] = b"kiln-resources: host handler saw the null write\n";

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// The host's own page: protected, it faults; the host's handler then makes it accessible.
static HOST_PAGE: AtomicUsize = AtomicUsize::new(0);
/// Faults on [`HOST_PAGE`] the host's handler handled.
static HOST_FAULTS: AtomicUsize = AtomicUsize::new(0);
/// Faults the host's handler passed on.
static PASSED_ON: AtomicUsize = AtomicUsize::new(0);
/// Set just before the real segfault.
static CRASH_EXPECTED: AtomicBool = AtomicBool::new(false);
/// The handlers the host's replaced, by index in [`SIGNALS`].
static HOST_PREVIOUS: [OnceLock<libc::sigaction>; 4] = [const { OnceLock::new() }; 4];

type SigInfoHandler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);
type SigHandler = extern "C" fn(libc::c_int);

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).expect("page size")
}

/// The host's fault handler: repairs faults on its own page, passes every other one on.
extern "C" fn host_handler(
    signum: libc::c_int,
    info: *mut libc::siginfo_t,
    ucontext: *mut libc::c_void,
) {
    // SAFETY: `info` is the handler's second argument, valid for a SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = HOST_PAGE.load(Ordering::SeqCst);
    if signum == libc::SIGSEGV && page != 0 && (page..page + page_size()).contains(&addr) {
        HOST_FAULTS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the page is the host's own mapping; making it accessible lets the faulting
        // store complete when the handler returns.
        unsafe {
            libc::mprotect(
                page as *mut libc::c_void,
                page_size(),
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        return;
    }
    PASSED_ON.fetch_add(1, Ordering::SeqCst);
    if CRASH_EXPECTED.load(Ordering::SeqCst) {
        // SAFETY: write(2) is async-signal-safe; the buffer is a static byte string.
        unsafe {
            libc::write(
                libc::STDERR_FILENO,
                FOREIGN_SEEN.as_ptr().cast(),
                FOREIGN_SEEN.len(),
            )
        };
    }
    let index = SIGNALS.iter().position(|&s| s == signum).unwrap_or(0);
    let Some(prev) = HOST_PREVIOUS[index].get() else {
        return;
    };
    // Not ours: to the handler installed before this one, the way Kiln chains to its own
    // predecessor.
    match prev.sa_sigaction {
        libc::SIG_DFL | libc::SIG_IGN => {
            // SAFETY: restores the previous disposition; the faulting instruction then runs
            // again under it.
            unsafe { libc::sigaction(signum, prev, std::ptr::null_mut()) };
        }
        f if prev.sa_flags & libc::SA_SIGINFO != 0 => {
            // SAFETY: a SA_SIGINFO handler's address, called with this handler's own arguments.
            let f = unsafe { std::mem::transmute::<usize, SigInfoHandler>(f) };
            f(signum, info, ucontext);
        }
        f => {
            // SAFETY: a one-argument handler's address.
            let f = unsafe { std::mem::transmute::<usize, SigHandler>(f) };
            f(signum);
        }
    }
}

/// The current handler of `signum`.
fn current_handler(signum: libc::c_int) -> usize {
    // SAFETY: a query only (null new action); `old` is a valid out-pointer.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signum, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

/// Installs [`host_handler`] for the four fault signals, remembering the handlers it replaces;
/// with `SA_NODEFER` unless `defer` (then the signal is blocked while the handler runs).
fn install_host_handler(defer: bool) {
    for (i, &signum) in SIGNALS.iter().enumerate() {
        // SAFETY: a zeroed sigaction is valid; handler, flags and mask are filled in. The old
        // action is stored before this handler can see a fault of this signal that is not its
        // own (the test faults only after this function returns).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = host_handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            if !defer {
                action.sa_flags |= libc::SA_NODEFER;
            }
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            assert_eq!(libc::sigaction(signum, &action, &mut old), 0);
            HOST_PREVIOUS[i].set(old).expect("installed once");
        }
    }
}

/// Maps the host's page, protected.
fn map_host_page() {
    // SAFETY: a fresh anonymous mapping; nothing else is affected.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            page_size(),
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(page, libc::MAP_FAILED);
    HOST_PAGE.store(page as usize, Ordering::SeqCst);
}

/// Protects the host's page again and writes `value` to it: the write faults, the host's handler
/// makes the page accessible, the write completes. Returns what the page then holds.
fn fault_on_host_page(value: u8) -> u8 {
    let page = HOST_PAGE.load(Ordering::SeqCst) as *mut u8;
    // SAFETY: `page` is the host's own one-page mapping, which nothing else uses.
    let protected = unsafe { libc::mprotect(page.cast(), page_size(), libc::PROT_NONE) };
    assert_eq!(protected, 0);
    // SAFETY: the page is mapped; the write faults while it is protected, and the host's handler
    // (reached directly, or through Kiln's) makes it writable, after which the write completes.
    unsafe {
        std::ptr::write_volatile(page, value);
        std::ptr::read_volatile(page)
    }
}

const SIGNAL_GUEST: &str = r#"
(module
  (import "host" "poke" (func $poke (param i32) (result i32)))
  (memory 1)
  (func (export "unreachable") unreachable)
  (func (export "oob") (result i32) (i32.load (i32.const 65536)))
  (func (export "div") (param i32) (result i32) (i32.div_u (i32.const 7) (local.get 0)))
  (func $rec (export "recurse") (param i32) (result i32)
    (i32.add (call $rec (local.get 0)) (i32.const 1)))
  (func (export "poke") (param i32) (result i32) (call $poke (local.get 0))))
"#;

/// The child's side: installs the host's handler before or after Kiln's, checks that host faults
/// reach it and guest traps still work, then writes through a null pointer (in plain host code or
/// in a host function called from guest code), which must kill the process with SIGSEGV.
fn signal_child(scenario: &str) {
    let (order, site) = scenario.split_once(':').expect("order:site");
    // No core file for the deliberate crash.
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid rlimit for this process.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
    map_host_page();
    let loaded = common::load_wat(SIGNAL_GUEST);
    let kiln_before = current_handler(libc::SIGSEGV);
    if order == "before" {
        install_host_handler(false);
    }
    // Kiln installs its handlers here, at its first store.
    let mut store = Store::new(());
    if order == "before" {
        assert_ne!(
            current_handler(libc::SIGSEGV),
            host_handler as *const () as usize,
            "Kiln's handler replaced the host's"
        );
    } else {
        assert_ne!(
            current_handler(libc::SIGSEGV),
            kiln_before,
            "Kiln installed"
        );
        install_host_handler(order == "after-deferring");
    }
    let poke = Func::wrap(&mut store, |x: i32| -> i32 {
        if CRASH_EXPECTED.load(Ordering::SeqCst) {
            // SAFETY: deliberate: a real segfault in a host function called from guest code,
            // which must kill the process (the test checks it dies of SIGSEGV).
            unsafe { std::ptr::write_volatile(std::ptr::null_mut::<u8>(), 1) };
        }
        // A fault in host code while guest code is on the stack: the host's, not a trap.
        i32::from(fault_on_host_page(x as u8))
    });
    let instance = Instance::new(&mut store, &loaded.artifact, &[Extern::Func(poke)]).unwrap();
    let f = |store: &mut Store<()>, name: &str, arg: Option<i32>| {
        let args: Vec<kiln_loader::Val> = arg.map(kiln_loader::Val::I32).into_iter().collect();
        instance.call(store, name, &args)
    };
    for round in 0..200u32 {
        // Guest traps: Kiln's. Before: they never reach the host's handler. After: the host's
        // handler passes each on to Kiln's.
        let passed = PASSED_ON.load(Ordering::SeqCst);
        let oob = expect_trap(f(&mut store, "oob", None));
        assert_eq!(oob.kind, TrapKind::MemoryOutOfBounds, "{oob}");
        let passed_oob = PASSED_ON.load(Ordering::SeqCst) - passed;
        assert_eq!(
            passed_oob,
            usize::from(order != "before"),
            "round {round}: the guest's fault went to the host's handler {passed_oob} times"
        );
        let kinds = [
            ("unreachable", None, TrapKind::Unreachable),
            ("div", Some(0), TrapKind::IntegerDivisionByZero),
            ("recurse", Some(0), TrapKind::StackOverflow),
        ];
        for (name, arg, kind) in kinds {
            if name == "recurse" && round % 20 != 0 {
                continue;
            }
            let trap = expect_trap(f(&mut store, name, arg));
            assert_eq!(trap.kind, kind, "round {round}: {trap}");
        }
        if order == "before" {
            assert_eq!(
                PASSED_ON.load(Ordering::SeqCst),
                0,
                "guest faults stay Kiln's"
            );
        }
        assert_eq!(
            f(&mut store, "div", Some(7)).unwrap(),
            vec![kiln_loader::Val::I32(1)]
        );
        // Host faults: the host's, both in plain host code and under a guest call.
        let faults = HOST_FAULTS.load(Ordering::SeqCst);
        assert_eq!(fault_on_host_page(round as u8 | 1), round as u8 | 1);
        assert_eq!(
            f(&mut store, "poke", Some(round as i32 | 2)).unwrap(),
            vec![kiln_loader::Val::I32(i32::from(round as u8 | 2))]
        );
        assert_eq!(
            HOST_FAULTS.load(Ordering::SeqCst),
            faults + 2,
            "round {round}"
        );
    }
    eprintln!("{CHECKS_PASSED} ({order}, {site})");
    CRASH_EXPECTED.store(true, Ordering::SeqCst);
    match site {
        "host" => {
            // SAFETY: deliberate: a real segfault in host code, which must kill the process (the
            // test checks it dies of SIGSEGV).
            unsafe { std::ptr::write_volatile(std::ptr::null_mut::<u8>(), 1) };
        }
        _ => {
            let _ = f(&mut store, "poke", Some(1));
        }
    }
    eprintln!("kiln-resources: survived a null write");
    std::process::exit(3);
}

/// Runs the scenario `order:site` in a child process running `test`, and checks that it passed
/// every check and then died of SIGSEGV, through the host's handler.
fn run_signal_child(test: &str, order: &str) {
    use std::os::unix::process::ExitStatusExt;
    let exe = std::env::current_exe().expect("test binary");
    for site in ["host", "hostfn"] {
        let output = std::process::Command::new(&exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{order}:{site}"))
            .output()
            .expect("run the child");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let context = format!("{order}:{site}: {:?}\n{stdout}\n{stderr}", output.status);
        assert!(stderr.contains(CHECKS_PASSED), "checks failed: {context}");
        assert!(
            stderr.contains(std::str::from_utf8(FOREIGN_SEEN).unwrap().trim_end()),
            "the host's handler saw the null write: {context}"
        );
        assert_eq!(
            output.status.signal(),
            Some(libc::SIGSEGV),
            "the child died of SIGSEGV: {context}"
        );
    }
}

#[test]
fn a_signal_handler_installed_before_kilns_still_gets_host_faults() {
    if let Ok(scenario) = std::env::var(CHILD_ENV) {
        return signal_child(&scenario);
    }
    let _shared = shared();
    run_signal_child(
        "a_signal_handler_installed_before_kilns_still_gets_host_faults",
        "before",
    );
}

#[test]
fn a_signal_handler_installed_after_kilns_chains_to_it() {
    if let Ok(scenario) = std::env::var(CHILD_ENV) {
        return signal_child(&scenario);
    }
    let _shared = shared();
    run_signal_child(
        "a_signal_handler_installed_after_kilns_chains_to_it",
        "after",
    );
    // Without SA_NODEFER the fault signal is blocked when Kiln's handler jumps out of it; Kiln
    // unblocks it after every trap.
    run_signal_child(
        "a_signal_handler_installed_after_kilns_chains_to_it",
        "after-deferring",
    );
}
