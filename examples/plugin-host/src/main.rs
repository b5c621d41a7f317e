//! A plugin host on Kiln: it loads every artifact (`.kiln`) of a directory and runs each plugin's
//! `run` export in a store of its own, with
//!
//! - a memory limit (`StoreLimits`: the plugin's `memory.grow` fails past it),
//! - a fuel budget and a wall-clock deadline (epochs, ticked by a thread of the host),
//! - host functions the plugin imports: `host.log(ptr, len)` reads a string from the plugin's
//!   memory, and `host.greeting() -> (ptr, len)` calls back into the plugin's `alloc` export to
//!   place a string there.
//!
//! A plugin that loops forever, grows without bound or traps is stopped and reported; the host
//! and the other plugins carry on. Build the example plugins with `./build-plugins.sh DIR`, then
//! `cargo run -p plugin-host -- DIR`.

use anyhow::{bail, Context, Result};
use kiln_loader::{
    Artifact, Caller, Engine, Error, Linker, Store, StoreLimits, StoreLimitsBuilder, TrapKind,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What each plugin's store holds for the host functions.
struct PluginState {
    limits: StoreLimits,
    log: Vec<String>,
}

/// The limits every plugin runs under.
#[derive(Clone, Copy, Debug)]
struct Budget {
    /// Bytes per linear memory.
    memory: usize,
    /// Fuel per run.
    fuel: u64,
    /// Wall-clock time per run, in epoch ticks.
    ticks: u64,
}

/// How often the host's clock thread advances the epoch.
const TICK: Duration = Duration::from_millis(10);

const BUDGET: Budget = Budget {
    memory: 16 << 20,
    fuel: 50_000_000,
    ticks: 50,
};

const GREETING: &str = "hello from the host";

/// The host functions every plugin may import, linked once for all plugins.
fn linker() -> Result<Linker<PluginState>> {
    let mut linker = Linker::new();
    linker.func_wrap(
        "host",
        "log",
        |mut caller: Caller<'_, PluginState>, ptr: u32, len: u32| -> Result<(), Error> {
            let memory = caller
                .memory(0)
                .ok_or_else(|| Error::Type("a plugin that logs needs a memory".into()))?;
            let mut bytes = vec![0u8; len as usize];
            memory.read(&caller, ptr as usize, &mut bytes)?;
            let line = String::from_utf8_lossy(&bytes).into_owned();
            caller.data_mut().log.push(line);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "host",
        "greeting",
        |mut caller: Caller<'_, PluginState>| -> Result<(u32, u32), Error> {
            // Back into the guest: its allocator decides where the string goes.
            let alloc = caller
                .get_export("alloc")
                .and_then(|e| e.into_func())
                .ok_or_else(|| {
                    Error::Type("a plugin that asks for a greeting exports `alloc`".into())
                })?
                .typed::<u32, u32>(&caller)?;
            let len = GREETING.len() as u32;
            let ptr = alloc.call(&mut caller, len)?;
            let memory = caller
                .memory(0)
                .ok_or_else(|| Error::Type("a plugin needs a memory".into()))?;
            memory.write(&mut caller, ptr as usize, GREETING.as_bytes())?;
            Ok((ptr, len))
        },
    )?;
    Ok(linker)
}

/// How one plugin's run ended.
fn describe(result: Result<i32, Error>, store: &Store<PluginState>) -> String {
    match result {
        Ok(code) => {
            let log = &store.data().log;
            if log.is_empty() {
                format!("ok: returned {code}")
            } else {
                format!("ok: returned {code}, logged {log:?}")
            }
        }
        Err(Error::Trap(t)) => match t.kind {
            TrapKind::Interrupt => "stopped: deadline passed".to_string(),
            TrapKind::OutOfFuel => "stopped: out of fuel".to_string(),
            _ => format!("trapped: {t}"),
        },
        Err(e) => format!("failed: {e}"),
    }
}

/// Runs one plugin in a store of its own.
fn run_plugin(
    engine: &Engine,
    linker: &Linker<PluginState>,
    path: &Path,
    budget: Budget,
) -> Result<String> {
    let artifact = Artifact::open(path)?;
    let state = PluginState {
        limits: StoreLimitsBuilder::new()
            .memory_size(budget.memory)
            .instances(1)
            .build(),
        log: Vec::new(),
    };
    let mut store = Store::with_engine(engine, state);
    store.limiter(|s| &mut s.limits);
    store.set_fuel(budget.fuel)?;
    store.set_epoch_deadline(budget.ticks)?;
    let instance = linker.instantiate(&mut store, &artifact)?;
    let run = instance.get_typed_func::<(), i32>(&mut store, "run")?;
    let result = run.call(&mut store, ());
    Ok(describe(result, &store))
}

/// The artifacts of `dir`, in name order.
fn plugins(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "kiln"))
        .collect();
    paths.sort();
    Ok(paths)
}

fn main() -> Result<()> {
    let Some(dir) = std::env::args_os().nth(1) else {
        bail!("usage: plugin-host DIR (a directory of .kiln plugins; see build-plugins.sh)");
    };
    let engine = Engine::new();
    // The host's clock: every tick moves every store's epoch on.
    let stop = Arc::new(AtomicBool::new(false));
    let clock = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                engine.increment_epoch();
            }
        })
    };
    let linker = linker()?;
    for path in plugins(Path::new(&dir))? {
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let outcome = run_plugin(&engine, &linker, &path, BUDGET)
            .unwrap_or_else(|e| format!("failed: {e:#}"));
        println!("{name}: {outcome}");
    }
    stop.store(true, Ordering::Relaxed);
    let _ = clock.join();
    Ok(())
}
