//! The compatibility key: one short string that names everything in an artifact's header that
//! decides whether a loader accepts it (SPEC.md §2, "Compatibility key").
//!
//! Two artifacts with the same key are interchangeable for a loader: on any machine, one is
//! accepted exactly when the other is. So a compiler can tell, before compiling, which key its
//! output will have (`kiln_compiler::compatibility_key`), a loader can tell which key a file has
//! (`kiln_loader::Artifact::compatibility_key`), and a cache keyed by the module's hash and this
//! key never serves an artifact that the loader would refuse, or one built with other settings.
//!
//! Defined here, once, from the header, so that the compiler (which builds the header it would
//! write from its options) and the loader (which reads the mapped header) cannot disagree.

use crate::header::{ArtifactHeader, CodeSettings, Regions, OS_LINUX};
use crate::target::Arch;

/// Names the encoding of the ingredients: changed if the list of ingredients ever changes, so
/// that an old key can never equal a new one by accident.
const DOMAIN: &[u8] = b"kiln-compatibility-key-1\0";

/// The compatibility key of an artifact with header `h`: `kiln{major}-{arch}-{os}-{hash}`, e.g.
/// `kiln5-x86_64-linux-3f0c9d5e1a2b4c6d`, where `hash` is the xxh3-64, in 16 hex digits, of every
/// field the loader checks (format major and minor, header size, architecture, OS, region
/// alignment, triple, CPU features, bounds-check strategy, stack-limit scheme, optimization
/// level, flags, memory reservation and guard). The fields that describe one module (VMContext
/// size, function count, wasm hash, regions, checksums) and the writer's Kiln version are not
/// ingredients: they do not decide acceptance.
///
/// The header need not be valid: a foreign or unknown architecture gets a key too (its prefix
/// names the code, `arch7`), which no key of this machine's compiler equals.
pub fn compatibility_key(h: &ArtifactHeader) -> String {
    let mut bytes = Vec::with_capacity(128);
    bytes.extend_from_slice(DOMAIN);
    bytes.extend_from_slice(&h.format_major.get().to_le_bytes());
    bytes.extend_from_slice(&h.format_minor.get().to_le_bytes());
    bytes.extend_from_slice(&h.header_size.get().to_le_bytes());
    bytes.extend_from_slice(&h.arch.get().to_le_bytes());
    bytes.extend_from_slice(&h.os.get().to_le_bytes());
    bytes.extend_from_slice(&h.region_align.get().to_le_bytes());
    bytes.extend_from_slice(&h.triple);
    bytes.extend_from_slice(&h.cpu_features.get().to_le_bytes());
    bytes.extend_from_slice(&[h.bounds_checks, h.stack_limit_scheme, h.opt_level]);
    bytes.extend_from_slice(&h.flags.get().to_le_bytes());
    bytes.extend_from_slice(&h.memory_reservation.get().to_le_bytes());
    bytes.extend_from_slice(&h.memory_guard.get().to_le_bytes());
    let hash = xxhash_rust::xxh3::xxh3_64(&bytes);
    let arch = match Arch::from_code(h.arch.get()) {
        Some(arch) => arch.name().to_string(),
        None => format!("arch{}", h.arch.get()),
    };
    let os = match h.os.get() {
        OS_LINUX => "linux".to_string(),
        other => format!("os{other}"),
    };
    format!("kiln{}-{arch}-{os}-{hash:016x}", h.format_major.get())
}

/// The compatibility key of the artifacts a compiler writes with `settings`: that of the header it
/// would write ([`ArtifactHeader::new`]). The fields of `settings` that describe one module do not
/// change it.
pub fn compatibility_key_of_settings(settings: &CodeSettings) -> String {
    compatibility_key(&ArtifactHeader::new(settings, &Regions::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{
        BOUNDS_STATIC_GUARD, FLAG_EPOCH_INTERRUPTION, FLAG_FRAME_POINTERS, FLAG_FUEL,
        FLAG_STRIPPED, FLAG_UNWIND_INFO,
    };

    fn settings() -> CodeSettings {
        CodeSettings {
            arch: Arch::X86_64,
            cpu_features: 0x1f,
            opt_level: 1,
            flags: FLAG_FRAME_POINTERS,
            vmctx_size: 64,
            num_functions: 3,
            wasm_sha256: [7; 32],
        }
    }

    /// The key of one fixed configuration, as written in SPEC.md §2. Caches and build systems
    /// store keys, so a key must not change unless what it names changes: when this fails, either
    /// the format version changed (then update the value and SPEC.md) or the encoding did by
    /// mistake.
    #[test]
    fn the_key_of_a_fixed_configuration_is_stable() {
        assert_eq!(
            compatibility_key_of_settings(&settings()),
            "kiln5-x86_64-linux-1f2dc2ac845d4311"
        );
    }

    #[test]
    fn the_module_and_the_writer_version_do_not_change_the_key() {
        let key = compatibility_key_of_settings(&settings());
        let other_module = CodeSettings {
            vmctx_size: 4096,
            num_functions: 300,
            wasm_sha256: [9; 32],
            ..settings()
        };
        assert_eq!(compatibility_key_of_settings(&other_module), key);
        let mut h = ArtifactHeader::new(&settings(), &Regions::default());
        h.kiln_version = crate::header::pad_str("99.0.0");
        h.checksum = 1234.into();
        h.meta_checksum = 5678.into();
        h.text = crate::header::FileRange::new(4096, 100);
        assert_eq!(compatibility_key(&h), key);
    }

    #[test]
    fn every_setting_the_loader_checks_changes_the_key() {
        let base = settings();
        let mut keys = vec![compatibility_key_of_settings(&base)];
        // What a compiler chooses.
        for changed in [
            CodeSettings {
                arch: Arch::Aarch64,
                cpu_features: 0,
                ..base
            },
            CodeSettings {
                cpu_features: 0x1e,
                ..base
            },
            CodeSettings {
                cpu_features: 0x3f,
                ..base
            },
            CodeSettings {
                opt_level: 0,
                ..base
            },
            CodeSettings {
                opt_level: 2,
                ..base
            },
        ] {
            keys.push(compatibility_key_of_settings(&changed));
        }
        for flag in [
            FLAG_UNWIND_INFO,
            FLAG_STRIPPED,
            FLAG_FRAME_POINTERS,
            FLAG_FUEL,
            FLAG_EPOCH_INTERRUPTION,
            1 << 20,
        ] {
            let flags = base.flags ^ flag;
            keys.push(compatibility_key_of_settings(&CodeSettings {
                flags,
                ..base
            }));
        }
        // What the format fixes: a header with any other value is another ABI.
        let header = ArtifactHeader::new(&base, &Regions::default());
        let edits: [fn(&mut ArtifactHeader); 10] = [
            |h| h.format_major = (h.format_major.get() + 1).into(),
            |h| h.format_minor = (h.format_minor.get() + 1).into(),
            |h| h.header_size = (h.header_size.get() + 8).into(),
            |h| h.os = 2.into(),
            |h| h.region_align = (64 * 1024).into(),
            |h| h.triple = crate::header::pad_str("x86_64-unknown-linux-musl"),
            |h| h.bounds_checks = BOUNDS_STATIC_GUARD + 1,
            |h| h.stack_limit_scheme += 1,
            |h| h.memory_reservation = (h.memory_reservation.get() * 2).into(),
            |h| h.memory_guard = (h.memory_guard.get() / 2).into(),
        ];
        for edit in edits {
            let mut h = header;
            edit(&mut h);
            keys.push(compatibility_key(&h));
        }
        let count = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), count, "every setting gives its own key");
    }

    #[test]
    fn the_prefix_is_readable() {
        let aarch64 = CodeSettings {
            arch: Arch::Aarch64,
            ..settings()
        };
        let major = crate::header::FORMAT_MAJOR;
        let key = compatibility_key_of_settings(&aarch64);
        assert!(
            key.starts_with(&format!("kiln{major}-aarch64-linux-")),
            "{key}"
        );
        let mut h = ArtifactHeader::new(&settings(), &Regions::default());
        h.arch = 77.into();
        h.os = 9.into();
        let key = compatibility_key(&h);
        assert!(
            key.starts_with(&format!("kiln{major}-arch77-os9-")),
            "{key}"
        );
        let hash = key.rsplit('-').next().unwrap();
        assert_eq!(hash.len(), 16);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
