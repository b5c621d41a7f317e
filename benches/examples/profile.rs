//! One Kiln operation in a loop, for `strace -c`, `perf record` or `valgrind --tool=callgrind`:
//!
//! ```text
//! cargo run --release -p kiln-benches --example profile -- load FILE.kiln N REPS
//! cargo run --release -p kiln-benches --example profile -- instantiate FILE.wasm ITERS
//! cargo run --release -p kiln-benches --example profile -- call typed|dynamic|by-name ITERS
//! cargo run --release -p kiln-benches --example profile -- hostcall loop|caller|round-trip ITERS
//! cargo run --release -p kiln-benches --example profile -- kernel fib|sieve|lcg|copy|matmul ARG REPS
//! cargo run --release -p kiln-benches --example profile -- verify FILE.kiln REPS
//! ```
//!
//! `load` loads the artifact N times (the same file) and unloads them, REPS times; `instantiate`
//! compiles the module and instantiates it ITERS times (imports satisfied by failing host
//! functions); `call` calls the empty `nop` export ITERS times; `hostcall` makes ITERS calls of a
//! host function from a guest loop (`loop`, `caller`: with a `Caller`) or ITERS host→guest→host
//! round trips (`round-trip`) in an instance of `HOSTCALLS_WAT`; `kernel` runs a kernel of
//! `KERNELS_WAT` REPS times in each of two instances, alternately, and prints each run's time;
//! `verify` signs the artifact with a fixed key and loads (then drops) it REPS times in each of
//! three ways, interleaved: by default, with `verify_checksum`, and with the key trusted
//! (`trusted_keys`: the signature checked), and prints the median time of each.

use anyhow::{bail, Context, Result};
use kiln_benches::modules::{Kernel, CALLS_WAT, HOSTCALLS_WAT, KERNELS_WAT};
use kiln_benches::runtime::{CallKind, HostCallKind, Interrupt, Kiln, Runtime, Threads};
use std::path::PathBuf;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T> {
    args.get(i)
        .with_context(|| format!("missing {what}"))?
        .parse()
        .map_err(|_| anyhow::anyhow!("bad {what}"))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kiln = Kiln;
    let scratch = kiln_benches::sys::ScratchDir::new(None)?;
    match args.first().map(String::as_str) {
        Some("load") => {
            let path = PathBuf::from(args.get(1).context("missing FILE")?);
            let n: usize = arg(&args, 2, "N")?;
            let reps: usize = arg(&args, 3, "REPS")?;
            let paths = vec![path; n];
            for _ in 0..reps {
                drop(kiln.load_all(&paths)?);
            }
        }
        Some("instantiate") => {
            let wasm = std::fs::read(args.get(1).context("missing FILE.wasm")?)?;
            let iters: usize = arg(&args, 2, "ITERS")?;
            let path = scratch.path().join("module.kiln");
            std::fs::write(&path, kiln.compile(&wasm, Threads::All, Interrupt::None)?)?;
            let mut factory = kiln.instance_factory(&path, &wasm)?;
            for _ in 0..iters {
                drop(factory.instantiate()?);
            }
        }
        Some("call") => {
            let kind = match args.get(1).map(String::as_str) {
                Some("typed") => CallKind::TypedNop,
                Some("dynamic") => CallKind::DynamicFunc,
                Some("by-name") => CallKind::DynamicByName,
                _ => bail!("call typed|dynamic|by-name ITERS"),
            };
            let iters: u64 = arg(&args, 2, "ITERS")?;
            let path = scratch.path().join("calls.kiln");
            let wasm = wat::parse_str(CALLS_WAT)?;
            std::fs::write(&path, kiln.compile(&wasm, Threads::All, Interrupt::None)?)?;
            let mut runner = kiln.call_runner(&path)?;
            let t = runner.run(kind, iters)?;
            eprintln!("{:.1} ns per call", t.as_secs_f64() * 1e9 / iters as f64);
        }
        Some("hostcall") => {
            let kind = match args.get(1).map(String::as_str) {
                Some("loop") => HostCallKind::GuestToHost,
                Some("caller") => HostCallKind::GuestToHostCaller,
                Some("round-trip") => HostCallKind::RoundTrip,
                _ => bail!("hostcall loop|caller|round-trip ITERS"),
            };
            let iters: u64 = arg(&args, 2, "ITERS")?;
            let path = scratch.path().join("hostcalls.kiln");
            let wasm = wat::parse_str(HOSTCALLS_WAT)?;
            std::fs::write(&path, kiln.compile(&wasm, Threads::All, Interrupt::None)?)?;
            let mut runner = kiln.host_call_runner(&path)?;
            let (t, result) = runner.run(kind, iters)?;
            eprintln!(
                "{:.1} ns per call ({result})",
                t.as_secs_f64() * 1e9 / iters as f64
            );
        }
        Some("kernel") => {
            let export = match args.get(1).map(String::as_str) {
                Some("fib") => "fib",
                Some("sieve") => "sieve",
                Some("lcg") => "lcg",
                Some("copy") => "copy",
                Some("matmul") => "matmul",
                _ => bail!("kernel fib|sieve|lcg|copy|matmul ARG REPS"),
            };
            let arg0: i32 = arg(&args, 2, "ARG")?;
            let reps: usize = arg(&args, 3, "REPS")?;
            let kernel = Kernel {
                export,
                label: export,
                args: (arg0, 100),
                two_args: export == "copy",
            };
            let path = scratch.path().join("kernels.kiln");
            let wasm = wat::parse_str(KERNELS_WAT)?;
            std::fs::write(&path, kiln.compile(&wasm, Threads::All, Interrupt::None)?)?;
            let mut runners = [
                kiln.kernel_runner(&path, Interrupt::None)?,
                kiln.kernel_runner(&path, Interrupt::None)?,
            ];
            for _ in 0..reps {
                for (i, r) in runners.iter_mut().enumerate() {
                    let (t, result) = r.run(&kernel)?;
                    eprintln!("instance {i}: {:.2} ms ({result})", t.as_secs_f64() * 1e3);
                }
            }
        }
        Some("verify") => {
            let file = std::fs::read(args.get(1).context("missing FILE.kiln")?)?;
            let reps: usize = arg(&args, 2, "REPS")?;
            verify(&file, reps, &scratch)?;
        }
        _ => bail!(
            "usage: profile load FILE.kiln N REPS | instantiate FILE.wasm ITERS | \
             call typed|dynamic|by-name ITERS | hostcall loop|caller|round-trip ITERS | \
             kernel NAME ARG REPS | verify FILE.kiln REPS"
        ),
    }
    Ok(())
}

/// The `verify` mode: loads of a signed copy of `file` without and with its checks.
fn verify(file: &[u8], reps: usize, scratch: &kiln_benches::sys::ScratchDir) -> Result<()> {
    use ed25519_dalek::{Signer, SigningKey};
    use kiln_loader::{Artifact, LoadOptions};
    let key = SigningKey::from_bytes(&[7; 32]);
    let unsigned = match kiln_format::signature::find(file).map_err(anyhow::Error::msg)? {
        Some(signed) => signed.unsigned,
        None => file,
    };
    let signed =
        kiln_format::signature::append_signature(unsigned, key.verifying_key().to_bytes(), |m| {
            key.sign(m).to_bytes()
        });
    let path = scratch.path().join("signed.kiln");
    std::fs::write(&path, &signed)?;
    let ways = [
        ("default (map only)", LoadOptions::default()),
        (
            "verify_checksum",
            LoadOptions {
                verify_checksum: true,
                ..LoadOptions::default()
            },
        ),
        (
            "trusted_keys (signature)",
            LoadOptions {
                trusted_keys: vec![key.verifying_key().to_bytes()],
                ..LoadOptions::default()
            },
        ),
    ];
    // Wall time, and this thread's CPU time: on a shared machine a load of milliseconds is often
    // preempted, which the CPU time leaves out.
    let (mut wall, mut cpu) = (vec![Vec::new(); ways.len()], vec![Vec::new(); ways.len()]);
    for _ in 0..reps {
        for (i, (_, options)) in ways.iter().enumerate() {
            let (t, c) = (
                std::time::Instant::now(),
                kiln_benches::sys::thread_cpu_time(),
            );
            drop(Artifact::open_with(&path, options)?);
            wall[i].push(t.elapsed().as_secs_f64());
            cpu[i].push(kiln_benches::sys::thread_cpu_time() - c);
        }
    }
    let mb = signed.len() as f64 / 1e6;
    let (base_wall, base_cpu) = (
        kiln_benches::median(&wall[0]),
        kiln_benches::median(&cpu[0]),
    );
    let rate = |extra: f64| if extra > 0.0 { mb / 1e3 / extra } else { 0.0 };
    for (i, (what, _)) in ways.iter().enumerate() {
        let (w, c) = (
            kiln_benches::median(&wall[i]),
            kiln_benches::median(&cpu[i]),
        );
        println!(
            "{what}, {mb:.2} MB: wall {:.1} µs per load + unload ({:.2} GB/s over the default), \
             CPU {:.1} µs ({:.2} GB/s)",
            w * 1e6,
            rate(w - base_wall),
            c * 1e6,
            rate(c - base_cpu)
        );
    }
    Ok(())
}
