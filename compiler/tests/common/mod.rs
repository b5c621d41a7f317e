//! Helpers shared by the translation tests: the spec suite's modules, the ISAs the compiler
//! targets, and compiling one module for each with only colocated calls allowed.

#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary uses a different part"
)]

pub use cranelift_codegen::control::ControlPlane;
pub use cranelift_codegen::ir::{self, ExternalName, UserFuncName};
pub use cranelift_codegen::isa::{self, OwnedTargetIsa};
pub use cranelift_codegen::settings::{self, Configurable};
pub use cranelift_codegen::{Context, FinalizedRelocTarget};
pub use kiln_compiler::parse::ModuleInfo;
pub use kiln_compiler::translate::{translate_function, wasm_signature};
pub use kiln_compiler::CompileOptions;
pub use rayon::prelude::*;
pub use std::path::{Path, PathBuf};
pub use wast::lexer::Lexer;
pub use wast::parser::{self, ParseBuffer};
pub use wast::{QuoteWat, Wast, WastDirective, WastExecute, Wat};

/// Shared flags: those the compiler uses. `enable_multi_ret_implicit_sret` is required by
/// multi-value functions: the `tail` convention returns only a few values in registers (two per
/// class on riscv64), and without the flag Cranelift rejects signatures with more results.
pub fn shared_flags() -> settings::Flags {
    let mut flags = settings::builder();
    for (name, value) in [
        ("opt_level", "speed"),
        ("preserve_frame_pointers", "true"),
        ("enable_verifier", "true"),
        ("enable_probestack", "false"),
        ("unwind_info", "false"),
        ("is_pic", "true"),
        ("enable_multi_ret_implicit_sret", "true"),
    ] {
        flags.set(name, value).unwrap();
    }
    settings::Flags::new(flags)
}

/// The host ISA with all its features, then every other architecture Kiln targets at its baseline
/// (x86-64-v2 for x86_64), so that lowering failures and libcalls show up on all of them.
pub fn target_isas() -> Vec<(&'static str, OwnedTargetIsa)> {
    let mut isas = vec![(
        "host",
        cranelift_native::builder()
            .unwrap()
            .finish(shared_flags())
            .unwrap(),
    )];
    let cross: [(&str, &[&str]); 4] = [
        (
            "x86_64-unknown-linux-gnu",
            &[
                "has_sse3",
                "has_ssse3",
                "has_sse41",
                "has_sse42",
                "has_popcnt",
            ],
        ),
        ("aarch64-unknown-linux-gnu", &[]),
        ("riscv64gc-unknown-linux-gnu", &[]),
        ("s390x-unknown-linux-gnu", &[]),
    ];
    for (triple, features) in cross {
        let mut builder = isa::lookup(triple.parse().unwrap()).unwrap();
        for feature in features {
            builder.enable(feature).unwrap();
        }
        isas.push((triple, builder.finish(shared_flags()).unwrap()));
    }
    isas
}

pub fn testsuite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testsuite/wasm-2.0")
}

/// The binaries of the valid modules of a `.wast` script: `(module ...)` directives (text or
/// binary, not `module quote`), plus modules of `assert_unlinkable`/`assert_trap`/`assert_return`
/// that are valid but fail later.
pub fn wast_modules(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lexer = Lexer::new(&text);
    // Why: names.wast deliberately uses bidirectional-override characters in export names.
    lexer.allow_confusing_unicode(true);
    let buf = ParseBuffer::new_with_lexer(lexer).unwrap();
    let wast: Wast = parser::parse(&buf).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut modules = Vec::new();
    for directive in wast.directives {
        let mut wat = match directive {
            WastDirective::Module(QuoteWat::Wat(wat))
            | WastDirective::ModuleDefinition(QuoteWat::Wat(wat))
            | WastDirective::AssertUnlinkable { module: wat, .. }
            | WastDirective::AssertTrap {
                exec: WastExecute::Wat(wat),
                ..
            }
            | WastDirective::AssertReturn {
                exec: WastExecute::Wat(wat),
                ..
            } => wat,
            _ => continue,
        };
        if matches!(wat, Wat::Component(_)) {
            continue;
        }
        modules.push(
            wat.encode()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        );
    }
    modules
}

/// Compiles every defined function of `wasm` for every ISA; returns the number of functions, or
/// the failures.
pub fn compile_module(
    isas: &[(&'static str, OwnedTargetIsa)],
    wasm: &[u8],
) -> Result<usize, Vec<String>> {
    let module = ModuleInfo::parse(wasm).map_err(|e| vec![format!("parse: {e}")])?;
    let mut failures = Vec::new();
    for (target, isa) in isas {
        compile_for(&module, target, isa, &mut failures);
    }
    if failures.is_empty() {
        Ok(module.bodies.len())
    } else {
        Err(failures)
    }
}

/// Compiles every defined function of `module` for `isa`, recording failures.
pub fn compile_for(
    module: &ModuleInfo,
    target: &str,
    isa: &OwnedTargetIsa,
    failures: &mut Vec<String>,
) {
    compile_with_options(module, target, isa, &CompileOptions::default(), failures);
}

/// [`compile_for`], translating with the instrumentation `options` ask for (fuel, epochs).
pub fn compile_with_options(
    module: &ModuleInfo,
    target: &str,
    isa: &OwnedTargetIsa,
    options: &CompileOptions,
    failures: &mut Vec<String>,
) {
    for (i, body) in module.bodies.iter().enumerate() {
        let index = module.imported_funcs + i as u32;
        let sig = wasm_signature(module.func_type(index));
        let mut func = ir::Function::with_name_signature(UserFuncName::user(0, index), sig);
        if let Err(e) = translate_function(module, &**isa, options, index, body, &mut func) {
            failures.push(format!("{target}: function {index}: translate: {e}"));
            continue;
        }
        let mut ctx = Context::for_function(func);
        let result = ctx.compile(&**isa, &mut ControlPlane::default());
        let compiled = match result {
            Ok(compiled) => compiled,
            Err(e) => {
                let message = cranelift_codegen::print_errors::pretty_error(e.func, e.inner);
                failures.push(format!("{target}: function {index}: compile: {message}"));
                continue;
            }
        };
        let relocs = compiled.buffer.relocs().to_vec();
        for reloc in &relocs {
            let ok = match &reloc.target {
                FinalizedRelocTarget::ExternalName(ExternalName::User(name)) => {
                    ctx.func.params.user_named_funcs()[*name].namespace == 0
                }
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{target}: function {index}: forbidden relocation {:?} to {:?}",
                    reloc.kind, reloc.target
                ));
            }
        }
    }
}

/// Compiles every module of every file for every ISA (files in parallel), prints a line per file
/// and a total, and fails if any function failed to translate or compile.
pub fn compile_files_and_report(isas: &[(&'static str, OwnedTargetIsa)], files: &[PathBuf]) {
    let results: Vec<(String, usize, usize, Vec<String>)> = files
        .par_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let modules = wast_modules(path);
            let mut funcs = 0;
            let mut failures = Vec::new();
            for (m, wasm) in modules.iter().enumerate() {
                match compile_module(isas, wasm) {
                    Ok(n) => funcs += n,
                    Err(f) => failures.extend(f.into_iter().map(|f| format!("module {m}: {f}"))),
                }
            }
            (name, modules.len(), funcs, failures)
        })
        .collect();
    let (mut total_modules, mut total_funcs, mut failed) = (0, 0, 0);
    for (name, modules, funcs, failures) in &results {
        total_modules += modules;
        total_funcs += funcs;
        let status = if failures.is_empty() { "ok" } else { "FAILED" };
        println!("{name:40} {modules:4} modules {funcs:6} functions  {status}");
        for f in failures.iter().take(5) {
            println!("    {f}");
        }
        if failures.len() > 5 {
            println!("    ... {} more", failures.len() - 5);
        }
        failed += failures.len();
    }
    let targets: Vec<&str> = isas.iter().map(|(name, _)| *name).collect();
    println!(
        "total: {} files, {total_modules} modules, {total_funcs} functions, each compiled for {}; \
         {failed} failures",
        results.len(),
        targets.join(", ")
    );
    assert_eq!(failed, 0, "some functions failed to translate or compile");
}
