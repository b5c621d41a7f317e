//! Wasmtime behind the same interface as Kiln, configured like Kiln (feature `wasmtime`).

use crate::modules::Kernel;
use crate::runtime::{CallKind, CallRunner, Held, InstanceFactory, KernelRunner, Runtime, Threads};
use anyhow::{Context, Result};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasmtime::{
    Config, Engine, Func, Instance, InstancePre, Linker, Module, OptLevel, Store, Strategy,
    TypedFunc,
};

/// The settings that differ from Wasmtime's defaults or matter for the comparison, for the
/// report.
pub const SETTINGS: &str = "Wasmtime 48.0.8: Cranelift, opt level speed (as Kiln), 4 GiB memory \
reservation + 2 GiB guard (as Kiln; static bounds, no bounds checks), signals-based traps (as \
Kiln), native unwind info off (Kiln artifacts have none by default), parallel compilation on \
(off for the 1-thread figures), default copy-on-write memory images (memory_init_cow) and \
on-demand instance allocator; modules are precompiled with Engine::precompile_module and loaded \
with Module::deserialize_file; instances are created through an InstancePre";

/// Wasmtime with the settings of [`SETTINGS`].
pub struct Wasmtime {
    engine: Engine,
    serial: Engine,
}

fn config(parallel: bool) -> Config {
    let mut c = Config::new();
    c.strategy(Strategy::Cranelift)
        .cranelift_opt_level(OptLevel::Speed)
        .memory_reservation(1 << 32)
        .memory_guard_size(2 << 30)
        .signals_based_traps(true)
        .native_unwind_info(false)
        .parallel_compilation(parallel);
    c
}

impl Wasmtime {
    /// Engines for parallel and single-threaded compilation.
    pub fn new() -> Result<Wasmtime> {
        Ok(Wasmtime {
            engine: Engine::new(&config(true))?,
            serial: Engine::new(&config(false))?,
        })
    }

    fn load(&self, path: &Path) -> Result<Module> {
        // SAFETY: the file was written by `Engine::precompile_module` of an engine with the same
        // settings in this process, and nothing modifies it while it is loaded.
        unsafe { Module::deserialize_file(&self.engine, path) }
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{}", path.display()))
    }
}

impl Runtime for Wasmtime {
    fn name(&self) -> &'static str {
        "Wasmtime"
    }

    fn extension(&self) -> &'static str {
        "cwasm"
    }

    fn compile(&self, wasm: &[u8], threads: Threads) -> Result<Vec<u8>> {
        let engine = match threads {
            Threads::One => &self.serial,
            Threads::All => &self.engine,
        };
        Ok(engine.precompile_module(wasm)?)
    }

    fn load_all(&self, paths: &[PathBuf]) -> Result<Held> {
        let mut loaded = Vec::with_capacity(paths.len());
        for p in paths {
            loaded.push(self.load(p)?);
        }
        Ok(Box::new(loaded))
    }

    fn instance_factory(&self, path: &Path, _wasm: &[u8]) -> Result<Box<dyn InstanceFactory>> {
        let module = self.load(path)?;
        let mut linker = Linker::new(&self.engine);
        linker.define_unknown_imports_as_traps(&module)?;
        let pre = linker.instantiate_pre(&module)?;
        Ok(Box::new(WasmtimeFactory {
            engine: self.engine.clone(),
            pre,
        }))
    }

    fn call_runner(&self, path: &Path) -> Result<Box<dyn CallRunner>> {
        let module = self.load(path)?;
        let mut store = Store::new(&self.engine, ());
        let instance = Instance::new(&mut store, &module, &[])?;
        Ok(Box::new(WasmtimeCalls {
            nop: instance.get_typed_func::<(), ()>(&mut store, "nop")?,
            add: instance.get_typed_func::<(i32, i32), i32>(&mut store, "add")?,
            nop_func: instance.get_func(&mut store, "nop").context("no nop")?,
            store,
            instance,
        }))
    }

    fn kernel_runner(&self, path: &Path) -> Result<Box<dyn KernelRunner>> {
        let module = self.load(path)?;
        let mut store = Store::new(&self.engine, ());
        let instance = Instance::new(&mut store, &module, &[])?;
        Ok(Box::new(WasmtimeKernels { store, instance }))
    }
}

struct WasmtimeFactory {
    engine: Engine,
    pre: InstancePre<()>,
}

impl InstanceFactory for WasmtimeFactory {
    fn instantiate(&mut self) -> Result<Held> {
        let mut store = Store::new(&self.engine, ());
        let instance = self.pre.instantiate(&mut store)?;
        Ok(Box::new((store, instance)))
    }
}

struct WasmtimeCalls {
    store: Store<()>,
    instance: Instance,
    nop: TypedFunc<(), ()>,
    add: TypedFunc<(i32, i32), i32>,
    nop_func: Func,
}

impl CallRunner for WasmtimeCalls {
    fn run(&mut self, kind: CallKind, iters: u64) -> Result<Duration> {
        let store = &mut self.store;
        let start = Instant::now();
        match kind {
            CallKind::TypedNop => {
                for _ in 0..iters {
                    self.nop.call(&mut *store, ())?;
                }
            }
            CallKind::DynamicByName => {
                for _ in 0..iters {
                    let f = self
                        .instance
                        .get_func(&mut *store, black_box("nop"))
                        .context("no nop")?;
                    f.call(&mut *store, &[], &mut [])?;
                }
            }
            CallKind::DynamicFunc => {
                for _ in 0..iters {
                    self.nop_func.call(&mut *store, &[], &mut [])?;
                }
            }
            CallKind::TypedAdd => {
                let mut acc = 0i32;
                for i in 0..iters {
                    acc = self.add.call(&mut *store, (acc, i as i32))?;
                }
                black_box(acc);
            }
        }
        Ok(start.elapsed())
    }
}

struct WasmtimeKernels {
    store: Store<()>,
    instance: Instance,
}

impl KernelRunner for WasmtimeKernels {
    fn run(&mut self, kernel: &Kernel) -> Result<(Duration, i64)> {
        let (x, y) = kernel.args;
        if kernel.two_args {
            let f = self
                .instance
                .get_typed_func::<(i32, i32), i64>(&mut self.store, kernel.export)?;
            let start = Instant::now();
            let r = f.call(&mut self.store, (x, y))?;
            Ok((start.elapsed(), r))
        } else {
            let f = self
                .instance
                .get_typed_func::<i32, i64>(&mut self.store, kernel.export)?;
            let start = Instant::now();
            let r = f.call(&mut self.store, x)?;
            Ok((start.elapsed(), r))
        }
    }
}
