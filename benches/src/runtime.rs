//! The runtimes under test behind one interface, so that every measurement runs the same loop for
//! each of them: Kiln here, Wasmtime in `wasmtime_rt` (feature `wasmtime`).

use crate::modules::Kernel;
use anyhow::{bail, Context, Result};
use kiln_compiler::CompileOptions;
use kiln_loader::{
    Artifact, Extern, Func, FuncType, HostError, Imports, Instance, Store, TypedFunc, ValType,
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

/// Runs kernels in one instance of [`crate::modules::KERNELS_WAT`].
pub trait KernelRunner {
    /// Runs `kernel` once; returns the time and the result.
    fn run(&mut self, kernel: &Kernel) -> Result<(Duration, i64)>;
}

/// A WebAssembly runtime under test.
pub trait Runtime {
    /// Its name in tables.
    fn name(&self) -> &'static str;
    /// File extension of its artifacts.
    fn extension(&self) -> &'static str;
    /// Compiles `wasm` into the bytes of an artifact.
    fn compile(&self, wasm: &[u8], threads: Threads) -> Result<Vec<u8>>;
    /// Loads every artifact in `paths`, in order; everything stays loaded until the result is
    /// dropped (dropping it unloads them, in order).
    fn load_all(&self, paths: &[PathBuf]) -> Result<Held>;
    /// Prepares instantiation of the artifact at `path`, compiled from `wasm`.
    fn instance_factory(&self, path: &Path, wasm: &[u8]) -> Result<Box<dyn InstanceFactory>>;
    /// Instantiates the artifact of [`crate::modules::CALLS_WAT`] at `path` for calls.
    fn call_runner(&self, path: &Path) -> Result<Box<dyn CallRunner>>;
    /// Instantiates the artifact of [`crate::modules::KERNELS_WAT`] at `path`.
    fn kernel_runner(&self, path: &Path) -> Result<Box<dyn KernelRunner>>;
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
        wasmparser::ValType::Ref(r) if r.is_func_ref() => ValType::FuncRef,
        wasmparser::ValType::Ref(r) if r.is_extern_ref() => ValType::ExternRef,
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

    fn compile(&self, wasm: &[u8], threads: Threads) -> Result<Vec<u8>> {
        let options = CompileOptions {
            threads: match threads {
                Threads::One => Some(1),
                Threads::All => None,
            },
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
        // Host functions that belong to no store, linked once: Kiln's counterpart of Wasmtime's
        // `InstancePre` (each instantiation then only creates a store and an instance).
        let mut imports = Imports::new();
        for i in func_imports(wasm)? {
            let params = i.params.into_iter().map(kiln_type);
            let results = i.results.into_iter().map(kiln_type);
            let ty = FuncType::new(
                params.collect::<Result<Vec<_>>>()?,
                results.collect::<Result<Vec<_>>>()?,
            );
            let f = Func::host(ty, |_, _| {
                Err(HostError::new("not provided by the benchmark"))
            });
            imports.define(&i.module, &i.name, Extern::Func(f));
        }
        Ok(Box::new(KilnFactory {
            artifact: Artifact::open(path)?,
            imports,
        }))
    }

    fn call_runner(&self, path: &Path) -> Result<Box<dyn CallRunner>> {
        let artifact = Artifact::open(path)?;
        let mut store = Store::new();
        let instance = Instance::new(&mut store, &artifact, &Imports::new())?;
        Ok(Box::new(KilnCalls {
            nop: instance.get_typed_func::<(), ()>("nop")?,
            add: instance.get_typed_func::<(i32, i32), i32>("add")?,
            nop_func: instance.get_func("nop").context("no nop export")?,
            store,
            instance,
        }))
    }

    fn kernel_runner(&self, path: &Path) -> Result<Box<dyn KernelRunner>> {
        let artifact = Artifact::open(path)?;
        let mut store = Store::new();
        let instance = Instance::new(&mut store, &artifact, &Imports::new())?;
        Ok(Box::new(KilnKernels { store, instance }))
    }
}

struct KilnFactory {
    artifact: Artifact,
    imports: Imports,
}

impl InstanceFactory for KilnFactory {
    fn instantiate(&mut self) -> Result<Held> {
        let mut store = Store::new();
        let instance = Instance::new(&mut store, &self.artifact, &self.imports)?;
        Ok(Box::new((store, instance)))
    }
}

struct KilnCalls {
    store: Store,
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
                    self.nop.call(store, ())?;
                }
            }
            CallKind::DynamicByName => {
                for _ in 0..iters {
                    black_box(self.instance.call(store, black_box("nop"), &[])?);
                }
            }
            CallKind::DynamicFunc => {
                for _ in 0..iters {
                    black_box(self.nop_func.call(store, &[])?);
                }
            }
            CallKind::TypedAdd => {
                let mut acc = 0i32;
                for i in 0..iters {
                    acc = self.add.call(store, (acc, i as i32))?;
                }
                black_box(acc);
            }
        }
        Ok(start.elapsed())
    }
}

struct KilnKernels {
    store: Store,
    instance: Instance,
}

impl KernelRunner for KilnKernels {
    fn run(&mut self, kernel: &Kernel) -> Result<(Duration, i64)> {
        let (x, y) = kernel.args;
        if kernel.two_args {
            let f = self
                .instance
                .get_typed_func::<(i32, i32), i64>(kernel.export)?;
            let start = Instant::now();
            let r = f.call(&mut self.store, (x, y))?;
            Ok((start.elapsed(), r))
        } else {
            let f = self.instance.get_typed_func::<i32, i64>(kernel.export)?;
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
