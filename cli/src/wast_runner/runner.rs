//! Executes the directives of one `.wast` script against one [`Store`].

use super::spectest;
use super::values::{arg_to_val, check_result, show};
use kiln_compiler::{CompileError, CompileOptions, WasmFeatures};
use kiln_loader::{Artifact, Error, Instance, Linker, Store, Trap, TrapKind, Val};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use wast::token::Id;
use wast::{QuoteWat, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

/// Why a module did not become a loaded artifact.
#[derive(Debug)]
pub enum LoadFailure {
    /// The compiler rejected it.
    Compile(CompileError),
    /// The artifact could not be written or loaded.
    Load(String),
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadFailure::Compile(e) => write!(f, "compilation failed: {e}"),
            LoadFailure::Load(e) => write!(f, "loading the artifact failed: {e}"),
        }
    }
}

/// Removes a temporary file when dropped, so that no exit path (errors, panics) leaves it behind.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Compiles `wasm` with `options`, writes the artifact to a fresh file in the temp
/// directory and loads it from there, so that every script module exercises the artifact file
/// and the loader rather than an in-memory shortcut.
pub fn load_artifact(wasm: &[u8], options: &CompileOptions) -> Result<Artifact, LoadFailure> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let bytes = kiln_compiler::compile(wasm, options).map_err(LoadFailure::Compile)?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let file =
        TempFile(std::env::temp_dir().join(format!("kiln-wast-{}-{n}.kiln", std::process::id())));
    std::fs::write(&file.0, &bytes)
        .map_err(|e| LoadFailure::Load(format!("{}: {e}", file.0.display())))?;
    // The file is removed when `file` drops, right after loading: the mapping stays valid once
    // the file is unlinked.
    Artifact::open(&file.0).map_err(|e| LoadFailure::Load(e.to_string()))
}

/// The options a script's modules are compiled with by default: only their features chosen.
pub fn options(features: WasmFeatures) -> CompileOptions {
    CompileOptions {
        features,
        ..CompileOptions::default()
    }
}

/// Encodes a text, binary or quoted module to bytes. Components are not supported.
fn encode(module: &mut QuoteWat<'_>) -> Result<Vec<u8>, Encode> {
    match module {
        QuoteWat::Wat(Wat::Component(_)) | QuoteWat::QuoteComponent(..) => Err(Encode::Unsupported),
        _ => module.encode().map_err(|e| Encode::Failed(e.message())),
    }
}

/// Why [`encode`] produced no bytes.
enum Encode {
    Unsupported,
    Failed(String),
}

impl Encode {
    fn into_message(self) -> String {
        match self {
            Encode::Unsupported => unsupported("component"),
            Encode::Failed(m) => format!("module text did not parse: {m}"),
        }
    }
}

/// The failure message of directives this runner cannot execute.
pub fn unsupported(what: &str) -> String {
    format!("unsupported directive: {what}")
}

/// The outcome of an invocation that got as far as running: results or a trap.
type Outcome = Result<Vec<Val>, Trap>;

/// The state of one script: its store, the instances it named and the names it registered.
pub struct Runner {
    store: Store<()>,
    /// Everything modules may import: `spectest` and every `register`ed instance.
    linker: Linker<()>,
    instances: HashMap<String, Instance>,
    definitions: HashMap<String, Artifact>,
    last_definition: Option<Artifact>,
    /// The target of `invoke`/`get` without a module name: the last module instantiated.
    current: Option<Instance>,
    /// Why `spectest` is missing, to explain the link errors that follow.
    spectest_error: Option<String>,
    /// What the script's modules are compiled with (the features they may use, ...).
    options: CompileOptions,
}

impl Runner {
    /// A runner with a fresh store and the `spectest` module registered, whose modules are
    /// compiled with `options`.
    pub fn new(options: CompileOptions) -> Runner {
        let mut store = Store::new(());
        let mut linker = Linker::new();
        // A `register` under a name already used replaces the earlier definitions.
        linker.allow_shadowing(true);
        let spectest_error = spectest::define(&mut store, &mut linker).err();
        Runner {
            store,
            linker,
            instances: HashMap::new(),
            definitions: HashMap::new(),
            last_definition: None,
            current: None,
            spectest_error,
            options,
        }
    }

    /// Executes one directive; `Err` is the failure message.
    pub fn run(&mut self, directive: WastDirective<'_>) -> Result<(), String> {
        match directive {
            WastDirective::Module(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                // A failed module must not leave later invokes aimed at its predecessor.
                self.current = None;
                if let Some(name) = &name {
                    self.instances.remove(name);
                }
                let wasm = encode(&mut module).map_err(Encode::into_message)?;
                let artifact = load_artifact(&wasm, &self.options).map_err(|e| e.to_string())?;
                let instance = self.instantiate(&artifact)?;
                self.set_current(instance, name);
                Ok(())
            }
            WastDirective::ModuleDefinition(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                self.last_definition = None;
                let wasm = encode(&mut module).map_err(Encode::into_message)?;
                let artifact = load_artifact(&wasm, &self.options).map_err(|e| e.to_string())?;
                if let Some(name) = name {
                    self.definitions.insert(name, artifact.clone());
                }
                self.last_definition = Some(artifact);
                Ok(())
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let artifact = match module {
                    Some(id) => self.definitions.get(id.name()).cloned(),
                    None => self.last_definition.clone(),
                }
                .ok_or("no such module definition")?;
                let name = instance.map(|id| id.name().to_string());
                self.current = None;
                let instance = self.instantiate(&artifact)?;
                self.set_current(instance, name);
                Ok(())
            }
            WastDirective::AssertMalformed {
                module, message, ..
            } => self.expect_rejection(module, "malformed", message),
            WastDirective::AssertInvalid {
                module, message, ..
            } => self.expect_rejection(module, "invalid", message),
            WastDirective::Register { name, module, .. } => {
                let instance = *self.instance(module)?;
                self.linker
                    .instance(&mut self.store, name, instance)
                    .map_err(|e| e.to_string())?;
                Ok(())
            }
            WastDirective::Invoke(invoke) => match self.invoke(&invoke)? {
                Ok(_) => Ok(()),
                Err(trap) => Err(format!("unexpected trap: {trap}")),
            },
            WastDirective::AssertTrap { exec, message, .. } => self.assert_trap(exec, message),
            WastDirective::AssertReturn { exec, results, .. } => self.assert_return(exec, &results),
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call)? {
                Err(trap) if trap.kind == TrapKind::StackOverflow => Ok(()),
                Err(trap) => Err(format!("expected \"{message}\", got trap: {trap}")),
                Ok(vals) => Err(format!("expected \"{message}\", got {}", show_all(&vals))),
            },
            WastDirective::AssertUnlinkable {
                module, message, ..
            } => {
                let mut module = QuoteWat::Wat(module);
                let wasm = encode(&mut module).map_err(Encode::into_message)?;
                let artifact = load_artifact(&wasm, &self.options).map_err(|e| e.to_string())?;
                match self.linker.instantiate(&mut self.store, &artifact) {
                    Err(Error::Link(_)) => Ok(()),
                    Err(e) => Err(format!("expected link error \"{message}\", got: {e}")),
                    Ok(_) => Err(format!("expected link error \"{message}\", but it linked")),
                }
            }
            WastDirective::AssertInvalidCustom { .. } => Err(unsupported("assert_invalid_custom")),
            WastDirective::AssertMalformedCustom { .. } => {
                Err(unsupported("assert_malformed_custom"))
            }
            WastDirective::AssertException { exec, .. } => self.assert_exception(exec),
            WastDirective::AssertSuspension { .. } => Err(unsupported("assert_suspension")),
            WastDirective::Thread(_) => Err(unsupported("thread")),
            WastDirective::Wait { .. } => Err(unsupported("wait")),
        }
    }

    fn set_current(&mut self, instance: Instance, name: Option<String>) {
        if let Some(name) = name {
            self.instances.insert(name, instance);
        }
        self.current = Some(instance);
    }

    /// Instantiates with everything registered so far.
    fn instantiate(&mut self, artifact: &Artifact) -> Result<Instance, String> {
        self.linker
            .instantiate(&mut self.store, artifact)
            .map_err(|e| {
                let mut msg = format!("instantiation failed: {e}");
                if let (Error::Link(_), Some(why)) = (&e, &self.spectest_error) {
                    msg.push_str(&format!(" (spectest is unavailable: {why})"));
                }
                msg
            })
    }

    /// The instance a directive names, or the current one.
    fn instance(&self, id: Option<Id<'_>>) -> Result<&Instance, String> {
        match id {
            Some(id) => self.instances.get(id.name()).ok_or_else(|| {
                format!(
                    "unknown module ${} (never defined, or it failed)",
                    id.name()
                )
            }),
            None => self
                .current
                .as_ref()
                .ok_or_else(|| "no current module (the last one failed)".to_string()),
        }
    }

    /// Calls an invocation's export with its arguments. The outer `Err` means it could not be
    /// called at all (an argument or the module is missing).
    fn call(&mut self, invoke: &WastInvoke<'_>) -> Result<Result<Vec<Val>, Error>, String> {
        let args = invoke
            .args
            .iter()
            .map(|a| arg_to_val(&mut self.store, a))
            .collect::<Result<Vec<Val>, String>>()?;
        let instance = *self.instance(invoke.module)?;
        Ok(instance.call(&mut self.store, invoke.name, &args))
    }

    /// Runs an invocation. The outer `Err` means it could not be run at all.
    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Outcome, String> {
        match self.call(invoke)? {
            Ok(vals) => Ok(Ok(vals)),
            Err(Error::Trap(trap)) => Ok(Err(trap)),
            Err(e) => Err(format!("invoke \"{}\": {e}", invoke.name)),
        }
    }

    /// `assert_malformed`/`assert_invalid`: the text must not parse, or the compiler must reject
    /// the binary as invalid WebAssembly (not for some other reason, such as an unsupported
    /// feature, which would hide a missing check).
    fn expect_rejection(
        &mut self,
        mut module: QuoteWat<'_>,
        what: &str,
        message: &str,
    ) -> Result<(), String> {
        let wasm = match encode(&mut module) {
            Ok(wasm) => wasm,
            Err(Encode::Unsupported) => return Err(unsupported("component")),
            Err(Encode::Failed(_)) => return Ok(()),
        };
        match kiln_compiler::compile(&wasm, &self.options) {
            Err(CompileError::Wasm(_)) => Ok(()),
            Err(e) => Err(format!(
                "expected {what} module (\"{message}\"), but it was rejected for another reason: {e}"
            )),
            Ok(_) => Err(format!(
                "expected {what} module (\"{message}\"), but it compiled"
            )),
        }
    }

    /// `assert_exception`: the invocation must end with an uncaught exception.
    fn assert_exception(&mut self, exec: WastExecute<'_>) -> Result<(), String> {
        let WastExecute::Invoke(invoke) = exec else {
            return Err(unsupported("assert_exception on a module"));
        };
        match self.call(&invoke)? {
            Err(Error::Exception(_)) => Ok(()),
            Err(e) => Err(format!("expected an exception, got: {e}")),
            Ok(vals) => Err(format!("expected an exception, got {}", show_all(&vals))),
        }
    }

    fn assert_trap(&mut self, exec: WastExecute<'_>, message: &str) -> Result<(), String> {
        match exec {
            WastExecute::Invoke(invoke) => match self.invoke(&invoke)? {
                Err(trap) if trap_matches(trap.kind, message) => Ok(()),
                Err(trap) => Err(format!("expected trap \"{message}\", got trap: {trap}")),
                Ok(vals) => Err(format!(
                    "expected trap \"{message}\", got {}",
                    show_all(&vals)
                )),
            },
            WastExecute::Wat(module) => {
                let mut module = QuoteWat::Wat(module);
                let wasm = encode(&mut module).map_err(Encode::into_message)?;
                let artifact = load_artifact(&wasm, &self.options).map_err(|e| e.to_string())?;
                match self.linker.instantiate(&mut self.store, &artifact) {
                    Err(Error::Trap(trap)) if trap_matches(trap.kind, message) => Ok(()),
                    Err(e) => Err(format!(
                        "expected instantiation to trap with \"{message}\", got: {e}"
                    )),
                    Ok(_) => Err(format!(
                        "expected instantiation to trap with \"{message}\", but it succeeded"
                    )),
                }
            }
            WastExecute::Get { .. } => Err(format!(
                "expected trap \"{message}\" from a global read, which cannot trap"
            )),
        }
    }

    fn assert_return(
        &mut self,
        exec: WastExecute<'_>,
        expected: &[WastRet<'_>],
    ) -> Result<(), String> {
        let actual = match exec {
            WastExecute::Invoke(invoke) => match self.invoke(&invoke)? {
                Ok(vals) => vals,
                Err(trap) => return Err(format!("unexpected trap: {trap}")),
            },
            WastExecute::Get { module, global, .. } => {
                let instance = *self.instance(module)?;
                let g = instance
                    .get_global(&mut self.store, global)
                    .ok_or_else(|| format!("no exported global named \"{global}\""))?;
                vec![g.get(&mut self.store)]
            }
            WastExecute::Wat(module) => {
                let mut module = QuoteWat::Wat(module);
                let wasm = encode(&mut module).map_err(Encode::into_message)?;
                let artifact = load_artifact(&wasm, &self.options).map_err(|e| e.to_string())?;
                self.instantiate(&artifact)?;
                Vec::new()
            }
        };
        if actual.len() != expected.len() {
            return Err(format!(
                "expected {} results, got {}",
                expected.len(),
                show_all(&actual)
            ));
        }
        for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
            check_result(&self.store, e, a).map_err(|why| format!("result {i}: {why}"))?;
        }
        Ok(())
    }
}

/// Whether a trap of `kind` satisfies an expected message. Like the reference interpreter's
/// prefix matching: the expected text may be a prefix of ours or extend it ("uninitialized
/// element 2"). The spec's "undefined element" (call_indirect past the table end) is Kiln's
/// table bounds trap.
pub fn trap_matches(kind: TrapKind, expected: &str) -> bool {
    let actual = kind.message();
    actual.contains(expected)
        || expected.starts_with(actual)
        || (kind == TrapKind::TableOutOfBounds && expected.starts_with("undefined element"))
        || (kind == TrapKind::NullReference && expected.starts_with("null"))
}

fn show_all(vals: &[Val]) -> String {
    let vals: Vec<String> = vals.iter().map(show).collect();
    format!("({})", vals.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_messages() {
        assert!(trap_matches(TrapKind::Unreachable, "unreachable"));
        assert!(trap_matches(TrapKind::Unreachable, "unreachable executed"));
        assert!(trap_matches(
            TrapKind::IndirectCallToNull,
            "uninitialized element 2"
        ));
        assert!(trap_matches(
            TrapKind::TableOutOfBounds,
            "undefined element"
        ));
        assert!(trap_matches(TrapKind::MemoryOutOfBounds, "out of bounds"));
        assert!(!trap_matches(
            TrapKind::MemoryOutOfBounds,
            "out of bounds table access"
        ));
        assert!(!trap_matches(
            TrapKind::IntegerOverflow,
            "integer divide by zero"
        ));
    }
}
