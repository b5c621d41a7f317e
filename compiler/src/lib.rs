//! The Kiln compiler: WebAssembly → Kiln artifact.
//!
//! The pipeline, one module per stage: [`parse`] validates and collects the module's facts,
//! [`translate`] turns each function body into Cranelift IR, [`codegen`] compiles the functions and
//! trampolines in parallel, and [`emit`] lays out and writes the artifact.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cache;
pub mod codegen;
pub mod demangle;
pub mod emit;
pub mod error;
pub mod options;
pub mod parse;
pub mod translate;
pub mod trap_codes;
pub mod unwind;

pub use error::CompileError;
pub use options::{CompileOptions, OptLevel, WasmFeatures};

/// Compiles a WebAssembly binary into the bytes of a Kiln artifact.
pub fn compile(wasm: &[u8], options: &CompileOptions) -> Result<Vec<u8>, CompileError> {
    let module = parse::ModuleInfo::parse_with_features(wasm, options.features)?;
    let compiled = codegen::compile_module(&module, options)?;
    emit::write_artifact(wasm, &module, &compiled, options)
}

/// The compatibility key of the artifacts `compile` writes with `options` on this machine
/// (`kiln_format::compat`): equal to `kiln_loader::Artifact::compatibility_key` of each of them,
/// so a cache or a build system can tell, without compiling, whether an artifact it holds is the
/// one these options would give (with the same wasm) and would be accepted. It builds the target
/// ISA, as compiling does, to learn the CPU features the code would use.
pub fn compatibility_key(options: &CompileOptions) -> Result<String, CompileError> {
    let (_, arch, cpu_features) = codegen::build_isa(options)?;
    let settings = emit::code_settings(options, arch, cpu_features);
    Ok(kiln_format::compat::compatibility_key_of_settings(
        &settings,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_format::Arch;

    fn key_of_artifact(options: &CompileOptions) -> String {
        let wasm =
            wat::parse_str(r#"(module (func (export "f") (param i32) (result i32) local.get 0))"#)
                .unwrap();
        let bytes = compile(&wasm, options).unwrap();
        let view = kiln_format::ArtifactView::parse(&bytes).unwrap();
        kiln_format::compat::compatibility_key(view.header())
    }

    /// Every option that changes the header changes the key; the key is the one the compiled
    /// artifact's header has; and the options that change neither (threads) leave it alone.
    #[test]
    fn the_key_follows_every_option_and_matches_the_artifact() {
        let base = CompileOptions::default();
        let variants = [
            CompileOptions {
                target: Some(Arch::X86_64),
                ..base.clone()
            },
            CompileOptions {
                target: Some(Arch::Aarch64),
                ..base.clone()
            },
            CompileOptions {
                target: Some(Arch::Riscv64),
                ..base.clone()
            },
            CompileOptions {
                target: Some(Arch::S390x),
                ..base.clone()
            },
            CompileOptions {
                opt_level: OptLevel::None,
                ..base.clone()
            },
            CompileOptions {
                opt_level: OptLevel::Size,
                ..base.clone()
            },
            CompileOptions {
                unwind_info: true,
                ..base.clone()
            },
            CompileOptions {
                strip: true,
                ..base.clone()
            },
            CompileOptions {
                fuel: true,
                ..base.clone()
            },
            CompileOptions {
                epoch_interruption: true,
                ..base.clone()
            },
        ];
        let mut keys = vec![compatibility_key(&base).unwrap()];
        assert_eq!(keys[0], key_of_artifact(&base));
        for options in &variants {
            let key = compatibility_key(options).unwrap();
            assert_eq!(key, key_of_artifact(options), "{options:?}");
            keys.push(key);
        }
        let count = keys.len();
        keys.sort();
        keys.dedup();
        // The host's own features and x86-64-v2 could coincide on an old CPU: then one fewer.
        let host_is_baseline =
            compatibility_key(&base).unwrap() == compatibility_key(&variants[0]).unwrap();
        assert_eq!(
            keys.len() + usize::from(host_is_baseline),
            count,
            "{keys:#?}"
        );

        let same = CompileOptions {
            threads: Some(1),
            features: WasmFeatures::WASM2,
            ..base.clone()
        };
        assert_eq!(
            compatibility_key(&same).unwrap(),
            compatibility_key(&base).unwrap()
        );
        let prefix = format!("kiln{}-", kiln_format::FORMAT_MAJOR);
        assert!(keys.iter().all(|k| k.starts_with(&prefix)), "{keys:?}");
    }
}
