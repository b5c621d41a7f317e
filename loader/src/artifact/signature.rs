//! Signed artifacts (SPEC.md §10): with [`LoadOptions::trusted_keys`](super::LoadOptions), an
//! artifact loads only if it carries an Ed25519 signature, by one of those keys, of every byte of
//! the file but the signature. Checked on the mapped bytes, the ones that run, before the
//! artifact is handed out: one pass over the file (SHA-512 inside Ed25519). The cryptography is
//! behind the `signatures` cargo feature, so that a host that does not ask for it links none of
//! it; without the feature, asking for trusted keys fails instead of loading unchecked.

use super::{LoadError, LoadOptions};
use std::path::Path;

/// Why an artifact was refused by [`LoadOptions::trusted_keys`](super::LoadOptions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// It has no signature trailer.
    #[error(
        "the artifact is not signed, and only artifacts signed by a trusted key may be loaded"
    )]
    Unsigned,
    /// It has a trailer this loader cannot read.
    #[error("malformed signature: {0}")]
    Malformed(&'static str),
    /// It is signed by a key that is not among the trusted ones.
    #[error("the artifact is signed by key {key}, which is not trusted")]
    UntrustedKey {
        /// The signer's public key, in hex.
        key: String,
    },
    /// The signature does not match the file's contents.
    #[error("the signature does not match the artifact (it was modified after signing, or the signature is another artifact's)")]
    Mismatch,
    /// Trusted keys were given to a loader built without the `signatures` feature.
    #[error("only signed artifacts may be loaded, but this loader was built without signature verification (cargo feature `signatures`)")]
    Unsupported,
}

/// With trusted keys in `options`, checks that `file` (named `path` in errors) is signed by one of
/// them; returns whether it did.
pub(super) fn check(file: &[u8], options: &LoadOptions, path: &Path) -> Result<bool, LoadError> {
    if options.trusted_keys.is_empty() {
        return Ok(false);
    }
    verify(file, &options.trusted_keys).map_err(|error| LoadError::Signature {
        path: path.to_owned(),
        error,
    })?;
    Ok(true)
}

/// Checks that `file` (a whole artifact file) is signed by one of `trusted` (Ed25519 public
/// keys, RFC 8032 encoding).
#[cfg(feature = "signatures")]
fn verify(file: &[u8], trusted: &[[u8; 32]]) -> Result<(), SignatureError> {
    use ed25519_dalek::{Signature, VerifyingKey};
    let signed = kiln_format::signature::find(file)
        .map_err(SignatureError::Malformed)?
        .ok_or(SignatureError::Unsigned)?;
    let key = signed.trailer.public_key;
    if !trusted.contains(&key) {
        return Err(SignatureError::UntrustedKey { key: hex(&key) });
    }
    // A trusted key that is no curve point verifies nothing.
    let key = VerifyingKey::from_bytes(&key).map_err(|_| SignatureError::Mismatch)?;
    // Strict: no malleable signatures, no small-order keys (ed25519-dalek's documentation).
    key.verify_strict(
        signed.message,
        &Signature::from_bytes(&signed.trailer.signature),
    )
    .map_err(|_| SignatureError::Mismatch)
}

/// Without the `signatures` feature, a trusted key can only refuse.
#[cfg(not(feature = "signatures"))]
pub(super) fn verify(_file: &[u8], _trusted: &[[u8; 32]]) -> Result<(), SignatureError> {
    Err(SignatureError::Unsupported)
}

/// `bytes` in lower-case hex.
#[cfg(feature = "signatures")]
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::SignatureError;
    use crate::{Artifact, Instance, LoadError, LoadOptions, Store};
    use ed25519_dalek::{Signer, SigningKey};
    use kiln_format::signature::{append_signature, SignatureTrailer};

    /// An artifact whose export `answer` returns 42.
    fn artifact() -> Vec<u8> {
        let wasm = wat::parse_str(r#"(module (func (export "answer") (result i32) i32.const 42))"#)
            .unwrap();
        kiln_compiler::compile(&wasm, &Default::default()).unwrap()
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn signed(unsigned: &[u8], key: &SigningKey) -> Vec<u8> {
        append_signature(unsigned, key.verifying_key().to_bytes(), |m| {
            key.sign(m).to_bytes()
        })
    }

    fn trusting(keys: &[&SigningKey]) -> LoadOptions {
        LoadOptions {
            trusted_keys: keys.iter().map(|k| k.verifying_key().to_bytes()).collect(),
            ..LoadOptions::default()
        }
    }

    fn answer(artifact: &Artifact) -> i32 {
        let mut store = Store::new(());
        let instance = Instance::new(&mut store, artifact, &[]).unwrap();
        let f = instance
            .get_typed_func::<(), i32>(&mut store, "answer")
            .unwrap();
        f.call(&mut store, ()).unwrap()
    }

    /// A signed artifact is the unsigned one and a trailer, and loads on any loader without
    /// trusted keys, with or without the `signatures` feature.
    #[test]
    fn a_signed_artifact_is_the_artifact_and_a_trailer_and_loads_without_trusted_keys() {
        let unsigned = artifact();
        let file = signed(&unsigned, &key(1));
        assert_eq!(&file[..unsigned.len()], &unsigned[..]);
        assert_eq!(file.len(), unsigned.len() + SignatureTrailer::SIZE);
        let eager = LoadOptions {
            verify_checksum: true,
            ..LoadOptions::default()
        };
        let artifact = Artifact::from_bytes_with(&file, &eager).unwrap();
        assert_eq!(answer(&artifact), 42);
    }

    #[cfg(not(feature = "signatures"))]
    #[test]
    fn without_the_feature_trusted_keys_refuse_every_artifact() {
        let file = signed(&artifact(), &key(1));
        let err = Artifact::from_bytes_with(&file, &trusting(&[&key(1)])).unwrap_err();
        assert!(matches!(
            err,
            LoadError::Signature {
                error: SignatureError::Unsupported,
                ..
            }
        ));
    }

    #[cfg(feature = "signatures")]
    fn refusal(file: &[u8], options: &LoadOptions) -> SignatureError {
        match Artifact::from_bytes_with(file, options) {
            Err(LoadError::Signature { error, .. }) => error,
            Err(other) => panic!("refused for another reason: {other}"),
            Ok(_) => panic!("loaded"),
        }
    }

    #[cfg(feature = "signatures")]
    #[test]
    fn a_trusted_signature_loads_and_runs() {
        let (a, b) = (key(1), key(2));
        let file = signed(&artifact(), &b);
        // Any of the trusted keys will do; from every source.
        let options = trusting(&[&a, &b]);
        assert_eq!(
            answer(&Artifact::from_bytes_with(&file, &options).unwrap()),
            42
        );
        let unwind = LoadOptions {
            register_unwind_info: true,
            ..options.clone()
        };
        assert_eq!(
            answer(&Artifact::from_bytes_with(&file, &unwind).unwrap()),
            42
        );
        let image: &'static [u8] = aligned_static(&file);
        // SAFETY: the image is leaked, so it lives and is never written for the process.
        let artifact = unsafe { Artifact::from_static_with(image, &options) };
        // A leaked heap copy is not executable, but validation and the signature pass.
        artifact.unwrap().check().unwrap();
    }

    /// `bytes` in leaked memory aligned to a 64 KiB page, for `from_static`.
    #[cfg(feature = "signatures")]
    fn aligned_static(bytes: &[u8]) -> &'static [u8] {
        let mut v = Vec::<u8>::with_capacity(bytes.len() + (1 << 16));
        let start = v.as_ptr().align_offset(1 << 16);
        v.resize(start, 0);
        v.extend_from_slice(bytes);
        &Vec::leak(v)[start..]
    }

    #[cfg(feature = "signatures")]
    #[test]
    fn unsigned_wrongly_signed_and_stripped_artifacts_are_refused() {
        let unsigned = artifact();
        let (a, b) = (key(1), key(2));
        assert_eq!(
            refusal(&unsigned, &trusting(&[&a])),
            SignatureError::Unsigned
        );
        let by_b = signed(&unsigned, &b);
        let untrusted = refusal(&by_b, &trusting(&[&a]));
        assert!(matches!(untrusted, SignatureError::UntrustedKey { .. }));
        assert!(untrusted
            .to_string()
            .contains(&super::hex(&b.verifying_key().to_bytes())));
        let stripped = &by_b[..unsigned.len()];
        assert_eq!(
            refusal(stripped, &trusting(&[&b])),
            SignatureError::Unsigned
        );
        // The trailer of another artifact (one with a data page more), or only its signature.
        let other = {
            let wat = format!(
                r#"(module (memory 1) (data (i32.const 0) "{}")
                     (func (export "answer") (result i32) i32.const 43))"#,
                "k".repeat(5000)
            );
            let wasm = wat::parse_str(wat).unwrap();
            signed(
                &kiln_compiler::compile(&wasm, &Default::default()).unwrap(),
                &b,
            )
        };
        let mut pasted = by_b.clone();
        let n = pasted.len();
        pasted[n - 64..].copy_from_slice(&other[other.len() - 64..]);
        assert_eq!(refusal(&pasted, &trusting(&[&b])), SignatureError::Mismatch);
        let mut pasted = unsigned.clone();
        pasted.extend_from_slice(&other[other.len() - SignatureTrailer::SIZE..]);
        assert!(matches!(
            refusal(&pasted, &trusting(&[&b])),
            SignatureError::Malformed(_)
        ));
    }

    /// One flipped bit anywhere, in the headers and their checksums, the metadata, the code, the
    /// symbols or the trailer, and the artifact is refused: as modified (most places), as signed
    /// by another key (the key), as malformed (the trailer's fields) or as unsigned (its magic).
    #[cfg(feature = "signatures")]
    #[test]
    fn one_flipped_bit_anywhere_is_refused() {
        let unsigned = artifact();
        let a = key(1);
        let file = signed(&unsigned, &a);
        let view = kiln_format::ArtifactView::parse(&unsigned).unwrap();
        let h = view.header();
        let trailer = unsigned.len();
        let places = [
            ("ELF header", 5),
            ("Kiln format version", 64 + 8),
            ("checksum", 64 + 208),
            ("metadata checksum", 64 + 216),
            ("metadata", h.meta.offset.get() as usize + 40),
            ("code", h.text.offset.get() as usize),
            ("section headers", trailer - 1),
            ("trailer magic", trailer),
            ("trailer signed length", trailer + 16),
            ("trailer key", trailer + 24),
            ("signature", trailer + 56),
            ("signature end", file.len() - 1),
        ];
        for (what, at) in places {
            let mut bad = file.clone();
            bad[at] ^= 0x10;
            let error = refusal(&bad, &trusting(&[&a]));
            let expected = match what {
                "trailer magic" => matches!(error, SignatureError::Unsigned),
                "trailer signed length" => matches!(error, SignatureError::Malformed(_)),
                "trailer key" => matches!(error, SignatureError::UntrustedKey { .. }),
                _ => error == SignatureError::Mismatch,
            };
            assert!(expected, "{what} (byte {at}): {error}");
        }
    }
}
