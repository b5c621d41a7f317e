//! The runtimes under test behind one interface, so that every measurement runs the same loop for
//! each of them: Kiln here, Wasmtime in `wasmtime_rt` (feature `wasmtime`).

use crate::modules::Kernel;
use anyhow::{bail, Context, Result};
use kiln_compiler::CompileOptions;
use kiln_loader::{
    Artifact, Caller, Func, FuncType, Instance, InstancePre, Linker, Store, TypedFunc, ValType,
};
use std::any::Any;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How many threads a compilation may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// One.
    One,
    /// All cores.
    All,
}

/// The host→guest calls measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// Typed call of the empty `nop` (`TypedFunc::call`).
    TypedNop,
    /// Dynamic call of `nop` by name (Kiln: `Instance::call`; Wasmtime: `get_func` + `Func::call`).
    DynamicByName,
    /// Dynamic call of `nop` through a function handle looked up once (`Func::call`).
    DynamicFunc,
    /// Typed call of `add: [i32 i32] -> [i32]`.
    TypedAdd,
}

impl CallKind {
    /// Every kind, in table order.
    pub const ALL: [CallKind; 4] = [
        CallKind::TypedNop,
        CallKind::DynamicByName,
        CallKind::DynamicFunc,
        CallKind::TypedAdd,
    ];
}

/// How compiled code can be interrupted (the `interrupt` section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// Not at all: neither fuel nor epoch checks (both runtimes' default).
    None,
    /// Fuel metering (Kiln `CompileOptions::fuel`, Wasmtime `Config::consume_fuel`); every store
    /// is given [`FUEL`].
    Fuel,
    /// Epoch deadline checks (`epoch_interruption` in both); every store's deadline is
    /// [`EPOCH_DEADLINE`] ticks away, and the epoch never advances.
    Epochs,
    /// Not an interruption, but measured the same way: every 32-bit memory access checked
    /// explicitly against the memory's length instead of by guard pages (Kiln
    /// `CompileOptions::explicit_bounds_checks`; Wasmtime a 1 GiB `memory_reservation` with no
    /// guard region, whose memories do not move, as Kiln's).
    ExplicitBounds,
}

impl Interrupt {
    /// Every way, in declaration order (`way as usize` is its index), plain first: the others'
    /// overheads are relative to it.
    pub const ALL: [Interrupt; 4] = [
        Interrupt::None,
        Interrupt::Fuel,
        Interrupt::Epochs,
        Interrupt::ExplicitBounds,
    ];

    /// Its name in tables and file names.
    pub fn label(self) -> &'static str {
        match self {
            Interrupt::None => "plain",
            Interrupt::Fuel => "fuel",
            Interrupt::Epochs => "epochs",
            Interrupt::ExplicitBounds => "explicit-bounds",
        }
    }
}

/// The fuel of a store running code compiled with [`Interrupt::Fuel`]: far more than any kernel
/// consumes, and less than `i64::MAX` (both runtimes keep fuel as an `i64`).
pub const FUEL: u64 = 1 << 62;

/// The epoch deadline of a store running code compiled with [`Interrupt::Epochs`], in ticks
/// beyond the current epoch: never reached (Wasmtime adds it to the current epoch unchecked).
pub const EPOCH_DEADLINE: u64 = 1 << 62;

/// The guest→host calls measured, in one instance of [`crate::modules::HOSTCALLS_WAT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostCallKind {
    /// The export `loop` calls the import `host.inc: (i32) -> i32` N times; `inc` is a closure
    /// without [`Caller`] (`Func::wrap`).
    GuestToHost,
    /// The host calls the export `once` (`TypedFunc::call`), which calls `host.inc` once.
    RoundTrip,
    /// As [`HostCallKind::GuestToHost`], with `host.inc_caller`: a closure that takes a
    /// [`Caller`] and reads the step it adds from `caller.data()` ([`HostState`]).
    GuestToHostCaller,
}

impl HostCallKind {
    /// Every kind, in table order.
    pub const ALL: [HostCallKind; 3] = [
        HostCallKind::GuestToHost,
        HostCallKind::RoundTrip,
        HostCallKind::GuestToHostCaller,
    ];
}

/// The host data of the host-call benchmark's store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostState {
    /// What `host.inc_caller` adds to its argument: 1, so that every kind computes N.
    pub step: i32,
}

impl Default for HostState {
    fn default() -> HostState {
        HostState { step: 1 }
    }
}

/// What each instantiation of a WASI program is given, as a request would be: its arguments
/// (the first is the program's name) and environment. No preopened directory; standard input
/// empty, output and error discarded (both runtimes' defaults).
pub const WASI_ARGS: &[&str] = &["program.wasm", "--top", "10", "/data/request-3f2a9c.txt"];

/// The environment of [`WASI_ARGS`].
pub const WASI_ENV: &[(&str, &str)] = &[
    ("REQUEST_ID", "3f2a9c"),
    ("REQUEST_METHOD", "POST"),
    ("PATH_INFO", "/count"),
    ("QUERY_STRING", "top=10&lang=en"),
    ("LANG", "C.UTF-8"),
];

/// Something instantiated (a store with its instance), kept until dropped.
pub type Held = Box<dyn Any>;

/// Creates instances of one module again and again.
pub trait InstanceFactory {
    /// A new store with a new instance of the module (imports satisfied by host functions that
    /// fail if called).
    fn instantiate(&mut self) -> Result<Held>;
}

/// Calls into one instance of [`crate::modules::CALLS_WAT`].
pub trait CallRunner {
    /// Makes `iters` calls of `kind`; returns the time they took.
    fn run(&mut self, kind: CallKind, iters: u64) -> Result<Duration>;
}

/// Calls between host and guest in one instance of [`crate::modules::HOSTCALLS_WAT`].
pub trait HostCallRunner {
    /// Makes `iters` calls of `kind`; returns the time they took and the guest's result, which
    /// is `iters` (every call adds 1).
    fn run(&mut self, kind: HostCallKind, iters: u64) -> Result<(Duration, i32)>;
}

/// Runs kernels in one instance of [`crate::modules::KERNELS_WAT`].
pub trait KernelRunner {
    /// Runs `kernel` once; returns the time and the result.
    fn run(&mut self, kernel: &Kernel) -> Result<(Duration, i64)>;
    /// The fuel consumed since the store was made (of [`FUEL`]); `None` unless the code was
    /// compiled with [`Interrupt::Fuel`].
    fn fuel_consumed(&self) -> Result<Option<u64>>;
}

/// A WASI program of the test suite (`tests/programs`), run from `_start`.
pub struct Program {
    /// Its label in tables.
    pub label: &'static str,
    /// Its arguments (its name first).
    pub args: Vec<String>,
    /// Its standard input.
    pub stdin: Vec<u8>,
}

/// One run of a [`Program`].
pub struct ProgramRun {
    /// How long `_start` took (instantiation excluded).
    pub time: Duration,
    /// What it wrote to standard output.
    pub stdout: Vec<u8>,
    /// The fuel it consumed; `None` unless compiled with [`Interrupt::Fuel`].
    pub fuel: Option<u64>,
}

/// Runs one WASI program again and again, each time in a fresh store.
pub trait ProgramRunner {
    /// Runs `program` with the host directory `dir` preopened as `/out`; it must exit with 0.
    fn run(&mut self, program: &Program, dir: &Path) -> Result<ProgramRun>;
}

/// A WebAssembly runtime under test.
pub trait Runtime {
    /// Its name in tables.
    fn name(&self) -> &'static str;
    /// File extension of its artifacts.
    fn extension(&self) -> &'static str;
    /// Compiles `wasm` into the bytes of an artifact, interruptible as `interrupt` says.
    fn compile(&self, wasm: &[u8], threads: Threads, interrupt: Interrupt) -> Result<Vec<u8>>;
    /// Loads every artifact in `paths`, in order; everything stays loaded until the result is
    /// dropped (dropping it unloads them, in order).
    fn load_all(&self, paths: &[PathBuf]) -> Result<Held>;
    /// Prepares instantiation of the artifact at `path`, compiled from `wasm`.
    fn instance_factory(&self, path: &Path, wasm: &[u8]) -> Result<Box<dyn InstanceFactory>>;
    /// Prepares per-request instantiation of the WASI program whose artifact is at `path`: WASI
    /// is added to a linker and the imports resolved once (`InstancePre`); each instantiation
    /// then builds a WASI context from [`WASI_ARGS`] and [`WASI_ENV`], a store holding it, and an
    /// instance.
    fn wasi_factory(&self, path: &Path) -> Result<Box<dyn InstanceFactory>>;
    /// Instantiates the artifact of [`crate::modules::CALLS_WAT`] at `path` for calls.
    fn call_runner(&self, path: &Path) -> Result<Box<dyn CallRunner>>;
    /// Instantiates the artifact of [`crate::modules::HOSTCALLS_WAT`] at `path`, its imports
    /// defined with `Func::wrap` in a store holding a [`HostState`].
    fn host_call_runner(&self, path: &Path) -> Result<Box<dyn HostCallRunner>>;
    /// Instantiates the artifact of [`crate::modules::KERNELS_WAT`] at `path`, compiled with
    /// `interrupt`, in a store given the fuel or the deadline that needs.
    fn kernel_runner(&self, path: &Path, interrupt: Interrupt) -> Result<Box<dyn KernelRunner>>;
    /// Prepares runs of the WASI program whose artifact, compiled with `interrupt`, is at `path`
    /// (WASI linked and imports resolved once); each run gets a store with the fuel or the
    /// deadline `interrupt` needs.
    fn program_runner(&self, path: &Path, interrupt: Interrupt) -> Result<Box<dyn ProgramRunner>>;
}

/// A function import of a module: module name, field name, parameter and result types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncImport {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// Parameter types.
    pub params: Vec<wasmparser::ValType>,
    /// Result types.
    pub results: Vec<wasmparser::ValType>,
}

/// The function imports of `wasm`; an error if it imports anything else (the benchmark satisfies
/// imports with host functions only).
pub fn func_imports(wasm: &[u8]) -> Result<Vec<FuncImport>> {
    let mut types = Vec::new();
    let mut imports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload? {
            wasmparser::Payload::TypeSection(section) => {
                for group in section {
                    for sub in group?.into_types() {
                        match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => {
                                types.push(Some((f.params().to_vec(), f.results().to_vec())))
                            }
                            _ => types.push(None),
                        }
                    }
                }
            }
            wasmparser::Payload::ImportSection(section) => {
                for imp in section.into_imports() {
                    let imp = imp?;
                    let wasmparser::TypeRef::Func(ti) = imp.ty else {
                        bail!(
                            "import {}.{} is not a function: not supported by the benchmark",
                            imp.module,
                            imp.name
                        );
                    };
                    let (params, results) = types
                        .get(ti as usize)
                        .cloned()
                        .flatten()
                        .context("import of a non-function type")?;
                    imports.push(FuncImport {
                        module: imp.module.to_string(),
                        name: imp.name.to_string(),
                        params,
                        results,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(imports)
}

/// Kiln: `kiln_compiler` and `kiln_loader`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kiln;

fn kiln_type(t: wasmparser::ValType) -> Result<ValType> {
    Ok(match t {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) if r.is_func_ref() => ValType::FUNCREF,
        wasmparser::ValType::Ref(r) if r.is_extern_ref() => ValType::EXTERNREF,
        other => bail!("value type {other} is not supported by the benchmark"),
    })
}

impl Runtime for Kiln {
    fn name(&self) -> &'static str {
        "Kiln"
    }

    fn extension(&self) -> &'static str {
        "kiln"
    }

    fn compile(&self, wasm: &[u8], threads: Threads, interrupt: Interrupt) -> Result<Vec<u8>> {
        let options = CompileOptions {
            threads: match threads {
                Threads::One => Some(1),
                Threads::All => None,
            },
            fuel: interrupt == Interrupt::Fuel,
            epoch_interruption: interrupt == Interrupt::Epochs,
            explicit_bounds_checks: interrupt == Interrupt::ExplicitBounds,
            ..CompileOptions::default()
        };
        Ok(kiln_compiler::compile(wasm, &options)?)
    }

    fn load_all(&self, paths: &[PathBuf]) -> Result<Held> {
        let mut loaded = Vec::with_capacity(paths.len());
        for p in paths {
            loaded.push(Artifact::open(p)?);
        }
        Ok(Box::new(loaded))
    }

    fn instance_factory(&self, path: &Path, wasm: &[u8]) -> Result<Box<dyn InstanceFactory>> {
        // Host functions linked once, imports resolved once (`InstancePre`, as for Wasmtime):
        // each instantiation then only creates a store and an instance.
        let mut linker = Linker::<()>::new();
        for i in func_imports(wasm)? {
            let params = i.params.into_iter().map(kiln_type);
            let results = i.results.into_iter().map(kiln_type);
            let ty = FuncType::new(
                params.collect::<Result<Vec<_>>>()?,
                results.collect::<Result<Vec<_>>>()?,
            );
            linker.func_new(&i.module, &i.name, ty, |_, _, _| {
                Err("not provided by the benchmark".into())
            })?;
        }
        let pre = linker.instantiate_pre(&Artifact::open(path)?)?;
        Ok(Box::new(KilnFactory { pre }))
    }

    fn wasi_factory(&self, path: &Path) -> Result<Box<dyn InstanceFactory>> {
        let mut linker = Linker::<WasiHost>::new();
        kiln_wasi::add_to_linker(&mut linker, |host: &mut WasiHost| &mut host.wasi)?;
        let pre = linker.instantiate_pre(&Artifact::open(path)?)?;
        Ok(Box::new(KilnWasi { pre }))
    }

    fn call_runner(&self, path: &Path) -> Result<Box<dyn CallRunner>> {
        let artifact = Artifact::open(path)?;
        let mut store = Store::new(());
        let instance = Instance::new(&mut store, &artifact, &[])?;
        Ok(Box::new(KilnCalls {
            nop: instance.get_typed_func::<(), ()>(&mut store, "nop")?,
            add: instance.get_typed_func::<(i32, i32), i32>(&mut store, "add")?,
            nop_func: instance
                .get_func(&mut store, "nop")
                .context("no nop export")?,
            store,
            instance,
        }))
    }

    fn host_call_runner(&self, path: &Path) -> Result<Box<dyn HostCallRunner>> {
        let artifact = Artifact::open(path)?;
        let mut store = Store::new(HostState::default());
        let inc = Func::wrap(&mut store, |x: i32| x.wrapping_add(1));
        let inc_caller = Func::wrap(&mut store, |caller: Caller<'_, HostState>, x: i32| {
            x.wrapping_add(caller.data().step)
        });
        let instance = Instance::new(&mut store, &artifact, &[inc.into(), inc_caller.into()])?;
        Ok(Box::new(KilnHostCalls {
            guest_loop: instance.get_typed_func::<i32, i32>(&mut store, "loop")?,
            guest_loop_caller: instance.get_typed_func::<i32, i32>(&mut store, "loop_caller")?,
            once: instance.get_typed_func::<i32, i32>(&mut store, "once")?,
            store,
        }))
    }

    fn kernel_runner(&self, path: &Path, interrupt: Interrupt) -> Result<Box<dyn KernelRunner>> {
        let artifact = Artifact::open(path)?;
        let mut store = Store::new(());
        match interrupt {
            Interrupt::None | Interrupt::ExplicitBounds => {}
            Interrupt::Fuel => store.set_fuel(FUEL)?,
            Interrupt::Epochs => store.set_epoch_deadline(EPOCH_DEADLINE)?,
        }
        let instance = Instance::new(&mut store, &artifact, &[])?;
        Ok(Box::new(KilnKernels {
            store,
            instance,
            interrupt,
        }))
    }

    fn program_runner(&self, path: &Path, interrupt: Interrupt) -> Result<Box<dyn ProgramRunner>> {
        let mut linker = Linker::<WasiHost>::new();
        kiln_wasi::add_to_linker(&mut linker, |host: &mut WasiHost| &mut host.wasi)?;
        let pre = linker.instantiate_pre(&Artifact::open(path)?)?;
        Ok(Box::new(KilnProgram { pre, interrupt }))
    }
}

struct KilnFactory {
    pre: InstancePre<()>,
}

struct KilnProgram {
    pre: InstancePre<WasiHost>,
    interrupt: Interrupt,
}

impl ProgramRunner for KilnProgram {
    fn run(&mut self, program: &Program, dir: &Path) -> Result<ProgramRun> {
        let stdout = kiln_wasi::OutputBuffer::new();
        let wasi = kiln_wasi::WasiCtx::builder()
            .args(program.args.iter().cloned())
            .stdin(kiln_wasi::Input::Bytes(program.stdin.clone().into()))
            .stdout(kiln_wasi::Output::Buffer(stdout.clone()))
            .preopen_dir(dir, "/out")
            .build()?;
        let mut store = Store::new(WasiHost { wasi });
        match self.interrupt {
            Interrupt::None | Interrupt::ExplicitBounds => {}
            Interrupt::Fuel => store.set_fuel(FUEL)?,
            Interrupt::Epochs => store.set_epoch_deadline(EPOCH_DEADLINE)?,
        }
        let instance = self.pre.instantiate(&mut store)?;
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        let t = Instant::now();
        let result = start.call(&mut store, ());
        let time = t.elapsed();
        if let Err(e) = result {
            match e.downcast_ref::<kiln_wasi::I32Exit>() {
                Some(kiln_wasi::I32Exit(0)) => {}
                _ => bail!("{}: {e}", program.label),
            }
        }
        let fuel = match self.interrupt {
            Interrupt::Fuel => Some(FUEL - store.get_fuel()?),
            Interrupt::None | Interrupt::Epochs | Interrupt::ExplicitBounds => None,
        };
        Ok(ProgramRun {
            time,
            stdout: stdout.contents(),
            fuel,
        })
    }
}

impl InstanceFactory for KilnFactory {
    fn instantiate(&mut self) -> Result<Held> {
        let mut store = Store::new(());
        let instance = self.pre.instantiate(&mut store)?;
        Ok(Box::new((store, instance)))
    }
}

/// The host data of a WASI program's store.
struct WasiHost {
    wasi: kiln_wasi::WasiCtx,
}

struct KilnWasi {
    pre: InstancePre<WasiHost>,
}

impl InstanceFactory for KilnWasi {
    fn instantiate(&mut self) -> Result<Held> {
        let wasi = kiln_wasi::WasiCtx::builder()
            .args(WASI_ARGS.iter().copied())
            .envs(WASI_ENV.iter().copied())
            .build()?;
        let mut store = Store::new(WasiHost { wasi });
        let instance = self.pre.instantiate(&mut store)?;
        Ok(Box::new((store, instance)))
    }
}

struct KilnCalls {
    store: Store<()>,
    instance: Instance,
    nop: TypedFunc<(), ()>,
    add: TypedFunc<(i32, i32), i32>,
    nop_func: Func,
}

impl CallRunner for KilnCalls {
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
                    black_box(self.instance.call(&mut *store, black_box("nop"), &[])?);
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

struct KilnHostCalls {
    store: Store<HostState>,
    guest_loop: TypedFunc<i32, i32>,
    guest_loop_caller: TypedFunc<i32, i32>,
    once: TypedFunc<i32, i32>,
}

impl HostCallRunner for KilnHostCalls {
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

struct KilnKernels {
    store: Store<()>,
    instance: Instance,
    interrupt: Interrupt,
}

impl KernelRunner for KilnKernels {
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

/// The native baseline of the call benchmark: an empty function called through a pointer the
/// optimizer cannot see through.
pub fn native_calls(iters: u64) -> Duration {
    #[inline(never)]
    extern "C" fn nop() {}
    let f: extern "C" fn() = black_box(nop);
    let start = Instant::now();
    for _ in 0..iters {
        black_box(f)();
    }
    start.elapsed()
}
