//! WASI: generated sequences of WASI calls, with generated arguments (descriptors, paths from a
//! vocabulary of escapes, flags, rights, pointers and lengths, some out of bounds), made by a guest
//! whose exports forward to every WASI import, in a preopened directory. The directory sits next
//! to a secret file and holds symbolic links that lead out of it (`..`, an absolute path to the
//! secret, a loop). After every call: the result is a WASI errno (or the guest's clean trap), the
//! secret never appears in guest memory, and nothing outside the preopen changed: no file there
//! was created, removed, renamed, written or had its times or size changed.
//!
//! It checks the sandbox and the host's robustness, not the results' agreement with a model of
//! the file system: that is left to the WASI tests of the suite (`tests/wasi.rs`, real programs).

use crate::{stats, Finding};
use arbitrary::{Result as ArbResult, Unstructured};
use kiln_loader::{Artifact, Linker, Store, Val, ValType};
use kiln_wasi::{Output, OutputBuffer, WasiCtx};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::SystemTime;

/// The secret outside the preopen; guest memory must never hold it.
const SECRET: &[u8] = b"kiln-fuzz-SECRET-0f9e8d7c";
/// Guest memory: 4 pages.
const MEMORY: u32 = 4 * 65536;
/// Where generated strings go in guest memory.
const STRINGS: u32 = 4096;
/// Where generated iovecs go.
const IOVECS: u32 = 8192;
/// The buffers the iovecs point to.
const BUFFERS: u32 = 16384;
/// Calls per case, at most.
const MAX_CALLS: usize = 32;

/// Paths a guest tries: ordinary ones, and every way out.
const PATHS: &[&str] = &[
    "a.txt",
    "secret.txt",
    "d",
    "d/b.txt",
    "new",
    "new/x",
    ".",
    "",
    "..",
    "../secret.txt",
    "d/../../secret.txt",
    "/secret.txt",
    "up",
    "up/secret.txt",
    "abs",
    "loop",
    "loop/x",
    "d/../a.txt",
    "a.txt/",
    "d//b.txt",
    "./././a.txt",
    "up/sandbox/a.txt",
    "nul\0byte",
    "\u{fffd}bad",
];

/// The guest: memory, and one export per WASI function that forwards its arguments.
fn guest() -> &'static Artifact {
    static GUEST: OnceLock<(crate::kiln::CaseFile, Artifact)> = OnceLock::new();
    &GUEST
        .get_or_init(|| {
            let mut wat = String::from("(module\n");
            for (i, (name, ty)) in kiln_wasi::functions().iter().enumerate() {
                let params: Vec<&str> = ty.params().iter().map(|t| type_name(*t)).collect();
                let result = if ty.results().is_empty() {
                    ""
                } else {
                    "(result i32)"
                };
                wat += &format!(
                    "(import \"{}\" \"{name}\" (func $f{i} (param {}) {result}))\n",
                    kiln_wasi::MODULE,
                    params.join(" ")
                );
            }
            wat += "(memory (export \"memory\") 4)\n";
            for (i, (name, ty)) in kiln_wasi::functions().iter().enumerate() {
                let params: Vec<&str> = ty.params().iter().map(|t| type_name(*t)).collect();
                let result = if ty.results().is_empty() {
                    ""
                } else {
                    "(result i32)"
                };
                let args: String = (0..params.len())
                    .map(|p| format!("(local.get {p})"))
                    .collect();
                wat += &format!(
                    "(func (export \"{name}\") (param {}) {result} (call $f{i} {args}))\n",
                    params.join(" ")
                );
            }
            wat += ")";
            let wasm = wat::parse_str(&wat).expect("the WASI guest");
            let bytes =
                kiln_compiler::compile(&wasm, &Default::default()).expect("the guest compiles");
            let file = crate::kiln::CaseFile::write(&bytes);
            let artifact = Artifact::open(file.path()).expect("the guest loads");
            (file, artifact)
        })
        .1
}

/// Whether `bytes` hold the secret (a vectorized search: a naive scan of 256 KiB after every
/// call took 70% of the target's time).
fn secret_in(bytes: &[u8]) -> bool {
    static FINDER: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    FINDER
        .get_or_init(|| memchr::memmem::Finder::new(SECRET))
        .find(bytes)
        .is_some()
}

fn type_name(t: ValType) -> &'static str {
    match t {
        ValType::I64 => "i64",
        _ => "i32",
    }
}

/// A fresh world for one case: `root/secret.txt`, `root/outside/`, and the preopen
/// `root/sandbox/` with `a.txt`, `d/b.txt`, and links `up -> ..`, `abs -> root/secret.txt`,
/// `loop -> loop`.
struct World {
    root: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let root = tempfile::Builder::new()
            .prefix("kiln-fuzz-wasi-")
            .tempdir()
            .expect("a temp dir");
        let r = root.path();
        std::fs::write(r.join("secret.txt"), SECRET).unwrap();
        std::fs::create_dir(r.join("outside")).unwrap();
        std::fs::write(r.join("outside/o.txt"), SECRET).unwrap();
        let s = r.join("sandbox");
        std::fs::create_dir(&s).unwrap();
        std::fs::write(s.join("a.txt"), b"alpha").unwrap();
        std::fs::create_dir(s.join("d")).unwrap();
        std::fs::write(s.join("d/b.txt"), b"beta").unwrap();
        std::os::unix::fs::symlink("..", s.join("up")).unwrap();
        std::os::unix::fs::symlink(r.join("secret.txt"), s.join("abs")).unwrap();
        std::os::unix::fs::symlink("loop", s.join("loop")).unwrap();
        World { root }
    }

    fn sandbox(&self) -> PathBuf {
        self.root.path().join("sandbox")
    }

    /// Everything outside the sandbox: path → (size, modified time, contents' first bytes).
    fn outside(&self) -> BTreeMap<PathBuf, (u64, Option<SystemTime>, Vec<u8>)> {
        let mut seen = BTreeMap::new();
        let mut stack = vec![self.root.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path == self.sandbox() {
                    continue;
                }
                let meta = std::fs::symlink_metadata(&path).ok();
                let size = meta.as_ref().map_or(0, |m| m.len());
                let mtime = meta.as_ref().and_then(|m| m.modified().ok());
                if meta.as_ref().is_some_and(|m| m.is_dir()) {
                    stack.push(path.clone());
                }
                let head = std::fs::read(&path).unwrap_or_default();
                seen.insert(path, (size, mtime, head));
            }
        }
        // The root itself: nothing may be created or removed in it.
        let meta = std::fs::metadata(self.root.path()).ok();
        seen.insert(
            self.root.path().to_path_buf(),
            (0, meta.and_then(|m| m.modified().ok()), Vec::new()),
        );
        seen
    }
}

/// A generated argument of type `ty` for parameter `i` of `name`.
fn argument(u: &mut Unstructured<'_>, ty: ValType, paths: &[(u32, u32)]) -> ArbResult<Val> {
    if ty == ValType::I64 {
        let v = *u.choose(&[0i64, 1, 5, -1, i64::MAX, 1 << 32, 4096])?;
        return Ok(Val::I64(if u.ratio(1, 4)? { u.arbitrary()? } else { v }));
    }
    let choice = u.int_in_range(0..=9)?;
    let v: i32 = match choice {
        // A descriptor: stdio, the preopen, ones a call may have opened, or nonsense.
        0 | 1 => *u.choose(&[0, 1, 2, 3, 4, 5, 6, 7, 100, -1])?,
        // A path's address or length.
        2 => u.choose(paths)?.0 as i32,
        3 => u.choose(paths)?.1 as i32,
        // Memory: iovecs, buffers, scratch, the end, beyond it.
        4 => *u.choose(&[
            IOVECS as i32,
            BUFFERS as i32,
            0,
            64,
            (MEMORY - 4) as i32,
            MEMORY as i32,
            -16,
        ])?,
        // Small counts and flags.
        5 | 6 => u.int_in_range(0..=16)?,
        7 => 1 << u.int_in_range(0..=30)?,
        _ => u.arbitrary()?,
    };
    Ok(Val::I32(v))
}

/// Generated arguments for parameters `params`: a descriptor first (most WASI functions take one
/// there), and often an address and a length that belong together (a path, or an iovec array).
fn arguments(
    u: &mut Unstructured<'_>,
    params: &[ValType],
    paths: &[(u32, u32)],
) -> ArbResult<Vec<Val>> {
    let mut args = Vec::with_capacity(params.len());
    let mut i = 0;
    while i < params.len() {
        if i == 0 && params[0] == ValType::I32 && u.ratio(3, 4)? {
            args.push(Val::I32(*u.choose(&[3, 3, 3, 4, 5, 1, 0])?));
            i += 1;
            continue;
        }
        let pair = params.get(i..i + 2) == Some(&[ValType::I32, ValType::I32][..]);
        if pair && u.ratio(1, 2)? {
            let (at, len) = if u.ratio(2, 3)? {
                *u.choose(paths)?
            } else {
                (IOVECS + 8 * u.int_in_range(0..=4)?, u.int_in_range(0..=3)?)
            };
            args.extend([Val::I32(at as i32), Val::I32(len as i32)]);
            i += 2;
            continue;
        }
        args.push(argument(u, params[i], paths)?);
        i += 1;
    }
    Ok(args)
}

/// Runs one case.
pub fn run(data: &[u8]) -> Result<(), Finding> {
    let mut u = Unstructured::new(data);
    let artifact = guest();
    let world = World::new();
    let before = world.outside();
    let stdout = OutputBuffer::new();
    let wasi = WasiCtx::builder()
        .args(["fuzz"])
        .env("K", "V")
        .preopen_dir(world.sandbox(), "/")
        .stdout(Output::Buffer(stdout.clone()))
        .stderr(Output::Buffer(stdout.clone()))
        .build()
        .map_err(|e| Finding::new(format!("building the WASI context: {e}")))?;
    struct Host {
        wasi: WasiCtx,
    }
    let mut store = Store::new(Host { wasi });
    let mut linker = Linker::<Host>::new();
    kiln_wasi::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi)
        .map_err(|e| Finding::new(e.to_string()))?;
    let instance = linker
        .instantiate(&mut store, artifact)
        .map_err(|e| Finding::new(format!("instantiating the guest: {e}")))?;
    let memory = instance.get_memory(&mut store, "memory").expect("memory");
    // Paths in memory, each with its length; iovecs pointing at buffers.
    let mut paths = Vec::new();
    let mut at = STRINGS;
    for p in PATHS {
        memory
            .write(&mut store, at as usize, p.as_bytes())
            .expect("in bounds");
        paths.push((at, p.len() as u32));
        at += p.len() as u32 + 1;
    }
    for i in 0..8u32 {
        let iov = [BUFFERS + i * 256, 16 * (i + 1)];
        let bytes: Vec<u8> = iov.iter().flat_map(|v| v.to_le_bytes()).collect();
        memory
            .write(&mut store, (IOVECS + i * 8) as usize, &bytes)
            .expect("in bounds");
    }
    let funcs = kiln_wasi::functions();
    for call in 0..MAX_CALLS {
        let Ok((name, ty)) = u.choose(&funcs) else {
            break;
        };
        if matches!(*name, "proc_exit" | "poll_oneoff") {
            // proc_exit ends the guest; poll_oneoff would sleep as long as a generated clock
            // subscription says.
            continue;
        }
        let Ok(args) = arguments(&mut u, ty.params(), &paths) else {
            break;
        };
        let func = instance.get_func(&mut store, name).expect("the export");
        let mut results = vec![Val::I32(0); ty.results().len()];
        let shown = || format!("call {call}: {name}({args:?})");
        match func.call(&mut store, &args, &mut results) {
            Ok(()) => {
                let errno = results[0].i32().unwrap_or(-1);
                if !(0..=76).contains(&errno) {
                    return Err(Finding::new(format!("{}: errno {errno}", shown())));
                }
                stats::CALLS.bump();
            }
            Err(e) => {
                // A clean trap (for example a host error the guest cannot see as an errno); the
                // instance is done.
                if e.as_trap().is_none() {
                    return Err(Finding::new(format!("{}: {e}", shown())));
                }
                stats::TRAPS.bump();
                break;
            }
        }
        if secret_in(memory.data(&store)) {
            return Err(Finding::new(format!(
                "{}: the secret outside the preopen is in guest memory",
                shown()
            )));
        }
        let after = world.outside();
        if after != before {
            let changed: Vec<&PathBuf> = after
                .keys()
                .chain(before.keys())
                .filter(|k| after.get(*k) != before.get(*k))
                .collect();
            return Err(Finding::new(format!(
                "{}: changed outside the preopen: {changed:?}",
                shown()
            )));
        }
    }
    if secret_in(&stdout.contents()) {
        return Err(Finding::new("the secret was written to stdout"));
    }
    Ok(())
}
