//! The Kiln side of a case: compile, write the artifact where the loader can map it, instantiate,
//! call, and read back what the instance exports.

use crate::values::{Exported, ExportedFunc, Outcome, Snapshot, Value};
use kiln_compiler::{compile, CompileOptions};
use kiln_loader::{
    Artifact, Error, Extern, Instance, Linker, Store, StoreLimits, StoreLimitsBuilder, TrapKind,
    Val,
};
use std::path::Path;
use std::sync::OnceLock;

/// The directory the cases' artifacts are written to: `KILN_FUZZ_TMP`, else the system's
/// temporary directory (a tmpfs such as /dev/shm makes cases faster).
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::var_os("KILN_FUZZ_TMP")
            .map(Into::into)
            .unwrap_or_else(std::env::temp_dir);
        tempfile::Builder::new()
            .prefix("kiln-fuzz-")
            .tempdir_in(base)
            .expect("a scratch directory")
    })
    .path()
}

/// An artifact file of one case, removed when dropped. Each case writes a new file (never one a
/// previous case's mapping may still see).
pub struct CaseFile {
    path: tempfile::TempPath,
}

impl CaseFile {
    /// Writes `bytes` to a new file.
    pub fn write(bytes: &[u8]) -> CaseFile {
        use std::io::Write;
        let mut file = tempfile::Builder::new()
            .suffix(".kiln")
            .tempfile_in(scratch())
            .expect("a scratch file");
        file.write_all(bytes).expect("write the artifact");
        CaseFile {
            path: file.into_temp_path(),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The outcome of a Kiln error.
pub fn outcome_of(e: &Error) -> Outcome {
    match e {
        Error::Trap(t) => match t.kind {
            TrapKind::StackOverflow => Outcome::Stop("stack overflow"),
            kind => Outcome::Trapped(kind),
        },
        e => Outcome::Failed(e.to_string()),
    }
}

/// A Kiln instance of a case.
pub struct KilnInstance {
    /// The store, with fuel or an epoch deadline if the artifact needs them.
    pub store: Store<StoreLimits>,
    /// The instance.
    pub instance: Instance,
    _file: CaseFile,
}

/// Compiles `wasm` with `options`; an error is a finding for a valid module.
pub fn compile_module(wasm: &[u8], options: &CompileOptions) -> Result<Vec<u8>, String> {
    compile(wasm, options).map_err(|e| e.to_string())
}

/// Loads and instantiates the artifact `bytes` (no imports), with `fuel` (unlimited if `None`) and
/// no epoch deadline if it was compiled with them.
pub fn instantiate(
    bytes: &[u8],
    options: &CompileOptions,
    fuel: Option<u64>,
) -> (Outcome, Option<KilnInstance>) {
    let file = CaseFile::write(bytes);
    let artifact = match Artifact::open(file.path()) {
        Ok(a) => a,
        Err(e) => return (Outcome::Failed(e.to_string()), None),
    };
    let limits = StoreLimitsBuilder::new()
        .memory_size(crate::values::MAX_MEMORY)
        .table_elements(crate::values::MAX_TABLE_ELEMENTS)
        .build();
    let mut store = Store::new(limits);
    store.limiter(|l| l);
    if options.fuel {
        store
            .set_fuel(fuel.unwrap_or(u64::MAX))
            .expect("an artifact with fuel");
    }
    if options.epoch_interruption {
        store
            .set_epoch_deadline(u64::MAX / 2)
            .expect("an artifact with epochs");
    }
    let linker = Linker::<StoreLimits>::new();
    match linker.instantiate(&mut store, &artifact) {
        Ok(instance) => (
            Outcome::Returned(Vec::new()),
            Some(KilnInstance {
                store,
                instance,
                _file: file,
            }),
        ),
        Err(e) => (outcome_of(&e), None),
    }
}

fn to_kiln(v: Value) -> Val {
    match v {
        Value::I32(x) => Val::I32(x),
        Value::I64(x) => Val::I64(x),
        Value::F32(x) => Val::F32(x),
        Value::F64(x) => Val::F64(x),
        Value::V128(x) => Val::V128(x),
        Value::FuncRef { .. } => Val::FuncRef(None),
        Value::ExternRef { .. } => Val::ExternRef(None),
    }
}

/// A Kiln value as compared.
pub fn from_kiln(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(*x),
        Val::I64(x) => Value::I64(*x),
        Val::F32(x) => Value::F32(*x),
        Val::F64(x) => Value::F64(*x),
        Val::V128(x) => Value::V128(*x),
        Val::FuncRef(r) => Value::FuncRef { null: r.is_none() },
        Val::ExternRef(r) => Value::ExternRef { null: r.is_none() },
        // The generators make no GC types, so this is never compared; only null exists.
        Val::AnyRef(None) => Value::ExternRef { null: true },
        Val::AnyRef(Some(never)) => match *never {},
        // As the Wasmtime side maps references the comparison has no kind for (the generators
        // make no exception-handling modules).
        Val::ExnRef(_) => Value::ExternRef { null: false },
    }
}

impl KilnInstance {
    /// The exported functions, by name.
    pub fn funcs(&mut self) -> Vec<ExportedFunc> {
        let exports = self.instance.exports(&mut self.store);
        exports
            .into_iter()
            .filter_map(|(name, e)| {
                let ty = e.into_func()?.ty(&self.store);
                Some(ExportedFunc {
                    name,
                    params: ty.params().to_vec(),
                })
            })
            .collect()
    }

    /// Sets the fuel left (for an artifact compiled with fuel).
    pub fn set_fuel(&mut self, fuel: u64) {
        self.store.set_fuel(fuel).expect("an artifact with fuel");
    }

    /// The fuel left (for an artifact compiled with fuel).
    pub fn fuel(&self) -> u64 {
        self.store.get_fuel().expect("an artifact with fuel")
    }

    /// Calls export `name` with `args`.
    pub fn call(&mut self, name: &str, args: &[Value]) -> Outcome {
        let Some(func) = self.instance.get_func(&mut self.store, name) else {
            return Outcome::Failed(format!("no function export {name:?}"));
        };
        let args: Vec<Val> = args.iter().copied().map(to_kiln).collect();
        let ty = func.ty(&self.store);
        let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
        match func.call(&mut self.store, &args, &mut results) {
            Ok(()) => Outcome::Returned(results.iter().map(from_kiln).collect()),
            Err(e) => outcome_of(&e),
        }
    }

    /// Everything the instance exports, now, sorted by name.
    pub fn snapshot(&mut self) -> Snapshot {
        let mut snap: Snapshot = self
            .instance
            .exports(&mut self.store)
            .into_iter()
            .map(|(name, e)| {
                let what = match e {
                    Extern::Global(g) => Exported::Global(from_kiln(&g.get(&mut self.store))),
                    Extern::Memory(m) => Exported::memory(m.data(&self.store)),
                    Extern::Table(t) => Exported::Table(
                        (0..t.size(&self.store))
                            .map(|i| {
                                !matches!(
                                    t.get(&mut self.store, i),
                                    Some(Val::FuncRef(Some(_)) | Val::ExternRef(Some(_)))
                                )
                            })
                            .collect(),
                    ),
                    // Tags, like functions, have nothing to compare beyond their presence.
                    Extern::Func(_) | Extern::Tag(_) => Exported::Func,
                };
                (name, what)
            })
            .collect();
        snap.sort_by(|a, b| a.0.cmp(&b.0));
        snap
    }
}
