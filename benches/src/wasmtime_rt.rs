//! Wasmtime behind the same interface as Kiln, configured like Kiln (feature `wasmtime`).

use crate::modules::Kernel;
use crate::runtime::{
    CallKind, CallRunner, Held, HostCallKind, HostCallRunner, HostState, InstanceFactory,
    Interrupt, KernelRunner, Program, ProgramRun, ProgramRunner, Runtime, Threads, EPOCH_DEADLINE,
    FUEL, WASI_ARGS, WASI_ENV,
};
use anyhow::{Context, Result};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasmtime::{
    Caller, Config, Engine, Func, Instance, InstancePre, Linker, Module, OptLevel, Store, Strategy,
    TypedFunc,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::WasiCtxBuilder;

/// The settings that differ from Wasmtime's defaults or matter for the comparison, for the
/// report.
pub const SETTINGS: &str = "Wasmtime 48.0.8: Cranelift, opt level speed (as Kiln), 4 GiB memory \
reservation + 2 GiB guard (as Kiln; static bounds, no bounds checks), signals-based traps (as \
Kiln), native unwind info off (Kiln artifacts have none by default), parallel compilation on \
(off for the 1-thread figures), default copy-on-write memory images (memory_init_cow) and \
on-demand instance allocator; modules are precompiled with Engine::precompile_module and loaded \
with Module::deserialize_file; instances are created through an InstancePre; WASI is \
wasmtime-wasi 48.0.8's preview 1 (p1::add_to_linker_sync, WasiCtxBuilder::build_p1); fuel and \
epochs: Config::consume_fuel / Config::epoch_interruption, Store::set_fuel(2^62) / \
Store::set_epoch_deadline(2^62); built with its gc and gc-drc features, which its exception \
handling needs (exnref objects live in its GC heap)";

/// Wasmtime with the settings of [`SETTINGS`].
pub struct Wasmtime {
    /// Parallel compilation, by [`Interrupt`] (in [`Interrupt::ALL`] order): fuel and epoch
    /// checks are engine settings, and an artifact loads only into an engine with its settings.
    engines: [Engine; Interrupt::ALL.len()],
    /// Single-threaded compilation, likewise.
    serial: [Engine; Interrupt::ALL.len()],
}

fn config(parallel: bool, interrupt: Interrupt) -> Config {
    let mut c = Config::new();
    c.strategy(Strategy::Cranelift)
        .cranelift_opt_level(OptLevel::Speed)
        .memory_reservation(1 << 32)
        .memory_guard_size(2 << 30)
        .signals_based_traps(true)
        .native_unwind_info(false)
        .parallel_compilation(parallel)
        .consume_fuel(interrupt == Interrupt::Fuel)
        .epoch_interruption(interrupt == Interrupt::Epochs);
    if interrupt == Interrupt::ExplicitBounds {
        // Below 4 GiB and without a guard, Wasmtime checks every access explicitly.
        c.memory_reservation(1 << 30)
            .memory_guard_size(0)
            .memory_reservation_for_growth(0)
            .memory_may_move(false);
    }
    c
}

impl Wasmtime {
    /// Engines for parallel and single-threaded compilation, in each [`Interrupt`] way.
    pub fn new() -> Result<Wasmtime> {
        let engines = |parallel| -> Result<[Engine; Interrupt::ALL.len()]> {
            let [a, b, c, d] = Interrupt::ALL.map(|i| Engine::new(&config(parallel, i)));
            Ok([a?, b?, c?, d?])
        };
        Ok(Wasmtime {
            engines: engines(true)?,
            serial: engines(false)?,
        })
    }

    /// The engine of plain code.
    fn engine(&self) -> &Engine {
        self.engine_for(Interrupt::None)
    }

    /// The engine of code compiled with `interrupt`.
    fn engine_for(&self, interrupt: Interrupt) -> &Engine {
        &self.engines[interrupt as usize]
    }

    fn load(&self, path: &Path) -> Result<Module> {
        self.load_for(path, Interrupt::None)
    }

    /// Loads an artifact compiled with `interrupt`.
    fn load_for(&self, path: &Path, interrupt: Interrupt) -> Result<Module> {
        // SAFETY: the file was written by `Engine::precompile_module` of an engine with the same
        // settings in this process, and nothing modifies it while it is loaded.
        unsafe { Module::deserialize_file(self.engine_for(interrupt), path) }
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

    fn compile(&self, wasm: &[u8], threads: Threads, interrupt: Interrupt) -> Result<Vec<u8>> {
        let engines = match threads {
            Threads::One => &self.serial,
            Threads::All => &self.engines,
        };
        Ok(engines[interrupt as usize].precompile_module(wasm)?)
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
        let mut linker = Linker::new(self.engine());
        linker.define_unknown_imports_as_traps(&module)?;
        let pre = linker.instantiate_pre(&module)?;
        Ok(Box::new(WasmtimeFactory {
            engine: self.engine().clone(),
            pre,
        }))
    }

    fn wasi_factory(&self, path: &Path) -> Result<Box<dyn InstanceFactory>> {
        let module = self.load(path)?;
        let mut linker = Linker::<WasiP1Ctx>::new(self.engine());
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx)?;
        let pre = linker.instantiate_pre(&module)?;
        Ok(Box::new(WasmtimeWasi {
            engine: self.engine().clone(),
            pre,
        }))
    }

    fn call_runner(&self, path: &Path) -> Result<Box<dyn CallRunner>> {
        let module = self.load(path)?;
        let mut store = Store::new(self.engine(), ());
        let instance = Instance::new(&mut store, &module, &[])?;
        Ok(Box::new(WasmtimeCalls {
            nop: instance.get_typed_func::<(), ()>(&mut store, "nop")?,
            add: instance.get_typed_func::<(i32, i32), i32>(&mut store, "add")?,
            nop_func: instance.get_func(&mut store, "nop").context("no nop")?,
            store,
            instance,
        }))
    }

    fn host_call_runner(&self, path: &Path) -> Result<Box<dyn HostCallRunner>> {
        let module = self.load(path)?;
        let mut store = Store::new(self.engine(), HostState::default());
        let inc = Func::wrap(&mut store, |x: i32| x.wrapping_add(1));
        let inc_caller = Func::wrap(&mut store, |caller: Caller<'_, HostState>, x: i32| {
            x.wrapping_add(caller.data().step)
        });
        let instance = Instance::new(&mut store, &module, &[inc.into(), inc_caller.into()])?;
        Ok(Box::new(WasmtimeHostCalls {
            guest_loop: instance.get_typed_func::<i32, i32>(&mut store, "loop")?,
            guest_loop_caller: instance.get_typed_func::<i32, i32>(&mut store, "loop_caller")?,
            once: instance.get_typed_func::<i32, i32>(&mut store, "once")?,
            store,
        }))
    }

    fn kernel_runner(&self, path: &Path, interrupt: Interrupt) -> Result<Box<dyn KernelRunner>> {
        let module = self.load_for(path, interrupt)?;
        let mut store = Store::new(self.engine_for(interrupt), ());
        match interrupt {
            Interrupt::None | Interrupt::ExplicitBounds => {}
            Interrupt::Fuel => store.set_fuel(FUEL)?,
            Interrupt::Epochs => store.set_epoch_deadline(EPOCH_DEADLINE),
        }
        let instance = Instance::new(&mut store, &module, &[])?;
        Ok(Box::new(WasmtimeKernels {
            store,
            instance,
            interrupt,
        }))
    }

    fn program_runner(&self, path: &Path, interrupt: Interrupt) -> Result<Box<dyn ProgramRunner>> {
        let module = self.load_for(path, interrupt)?;
        let engine = self.engine_for(interrupt).clone();
        let mut linker = Linker::<WasiP1Ctx>::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx)?;
        let pre = linker.instantiate_pre(&module)?;
        Ok(Box::new(WasmtimeProgram {
            engine,
            pre,
            interrupt,
        }))
    }
}

struct WasmtimeProgram {
    engine: Engine,
    pre: InstancePre<WasiP1Ctx>,
    interrupt: Interrupt,
}

impl ProgramRunner for WasmtimeProgram {
    fn run(&mut self, program: &Program, dir: &Path) -> Result<ProgramRun> {
        use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
        let stdout = MemoryOutputPipe::new(1 << 24);
        let wasi = WasiCtxBuilder::new()
            .args(&program.args)
            .stdin(MemoryInputPipe::new(program.stdin.clone()))
            .stdout(stdout.clone())
            .preopened_dir(dir, "/out", wasmtime_wasi::FsPerms::ReadWrite)?
            .build_p1();
        let mut store = Store::new(&self.engine, wasi);
        match self.interrupt {
            Interrupt::None | Interrupt::ExplicitBounds => {}
            Interrupt::Fuel => store.set_fuel(FUEL)?,
            Interrupt::Epochs => store.set_epoch_deadline(EPOCH_DEADLINE),
        }
        let instance = self.pre.instantiate(&mut store)?;
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        let t = Instant::now();
        let result = start.call(&mut store, ());
        let time = t.elapsed();
        if let Err(e) = result {
            match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(wasmtime_wasi::I32Exit(0)) => {}
                _ => anyhow::bail!("{}: {e:?}", program.label),
            }
        }
        let fuel = match self.interrupt {
            Interrupt::Fuel => Some(FUEL - store.get_fuel()?),
            Interrupt::None | Interrupt::Epochs | Interrupt::ExplicitBounds => None,
        };
        drop(store);
        Ok(ProgramRun {
            time,
            stdout: stdout.contents().to_vec(),
            fuel,
        })
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

struct WasmtimeWasi {
    engine: Engine,
    pre: InstancePre<WasiP1Ctx>,
}

impl InstanceFactory for WasmtimeWasi {
    fn instantiate(&mut self) -> Result<Held> {
        let wasi = WasiCtxBuilder::new()
            .args(WASI_ARGS)
            .envs(WASI_ENV)
            .build_p1();
        let mut store = Store::new(&self.engine, wasi);
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

struct WasmtimeHostCalls {
    store: Store<HostState>,
    guest_loop: TypedFunc<i32, i32>,
    guest_loop_caller: TypedFunc<i32, i32>,
    once: TypedFunc<i32, i32>,
}

impl HostCallRunner for WasmtimeHostCalls {
    fn run(&mut self, kind: HostCallKind, iters: u64) -> Result<(Duration, i32)> {
        let store = &mut self.store;
        let n = i32::try_from(iters).context("too many host calls for an i32 counter")?;
        let start = Instant::now();
        let result = match kind {
            HostCallKind::GuestToHost => self.guest_loop.call(&mut *store, black_box(n))?,
            HostCallKind::GuestToHostCaller => {
                self.guest_loop_caller.call(&mut *store, black_box(n))?
            }
            HostCallKind::RoundTrip => {
                let mut acc = 0i32;
                for _ in 0..n {
                    acc = self.once.call(&mut *store, acc)?;
                }
                acc
            }
        };
        Ok((start.elapsed(), result))
    }
}

struct WasmtimeKernels {
    store: Store<()>,
    instance: Instance,
    interrupt: Interrupt,
}

impl KernelRunner for WasmtimeKernels {
    fn fuel_consumed(&self) -> Result<Option<u64>> {
        Ok(match self.interrupt {
            Interrupt::Fuel => Some(FUEL - self.store.get_fuel()?),
            Interrupt::None | Interrupt::Epochs | Interrupt::ExplicitBounds => None,
        })
    }

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
