//! Signed artifacts end to end: `kiln keygen`, `kiln sign`, and `kiln run --trusted-key`, which
//! runs only an artifact signed by a trusted key and refuses every other with a one-line error
//! naming the file (never a panic), before any of its code runs.

mod common;

use common::{kiln, text};
use std::path::{Path, PathBuf};
use std::process::Output;

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

/// Asserts a failure with a one-line error naming `file` and saying `what`, and no panic.
fn assert_refused(out: &Output, file: &Path, what: &str) {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {err}");
    assert!(
        err.contains(s(file)),
        "error should name {}: {err}",
        file.display()
    );
    assert!(err.contains(what), "error should say `{what}`: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty(), "nothing ran: {}", text(&out.stdout));
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A scratch directory with a key pair `key`/`key.pub`, a second one `other`/`other.pub`, and
/// `fib.kiln`, compiled from the example.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let setup = Setup {
            dir: tempfile::tempdir().unwrap(),
        };
        for name in ["key", "other"] {
            assert_ok(&kiln(&["keygen", "-o", s(&setup.path(name))]));
        }
        let fib = setup.path("fib.kiln");
        assert_ok(&kiln(&["compile", &example("fib.wat"), "-o", s(&fib)]));
        setup
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `fib.kiln` signed with `key`, as `name`.
    fn signed(&self, name: &str) -> PathBuf {
        let out = self.path(name);
        assert_ok(&kiln(&[
            "sign",
            "--key",
            s(&self.path("key")),
            s(&self.path("fib.kiln")),
            "-o",
            s(&out),
        ]));
        out
    }

    /// `kiln run FILE --trusted-key key.pub --invoke fib 20`.
    fn run_trusted(&self, file: &Path) -> Output {
        kiln(&[
            "run",
            s(file),
            "--trusted-key",
            s(&self.path("key.pub")),
            "--invoke",
            "fib",
            "20",
        ])
    }

    /// A copy of `file` changed by `change`, as `name`.
    fn altered(&self, file: &Path, name: &str, change: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
        let mut bytes = std::fs::read(file).unwrap();
        change(&mut bytes);
        let out = self.path(name);
        std::fs::write(&out, bytes).unwrap();
        out
    }
}

#[test]
fn keygen_writes_pem_keys_and_overwrites_none() {
    let setup = Setup::new();
    let private = std::fs::read_to_string(setup.path("key")).unwrap();
    let public = std::fs::read_to_string(setup.path("key.pub")).unwrap();
    assert!(
        private.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{private}"
    );
    assert!(
        public.starts_with("-----BEGIN PUBLIC KEY-----\n"),
        "{public}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(setup.path("key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the private key is its owner's only: {mode:o}"
    );
    // Two key pairs differ.
    assert_ne!(
        public,
        std::fs::read_to_string(setup.path("other.pub")).unwrap()
    );
    let out = kiln(&["keygen", "-o", s(&setup.path("key"))]);
    assert_refused(&out, &setup.path("key"), "already exists");
    assert_eq!(std::fs::read_to_string(setup.path("key")).unwrap(), private);
}

#[test]
fn a_signed_artifact_runs_with_and_without_a_trusted_key() {
    let setup = Setup::new();
    let signed = setup.signed("signed.kiln");
    let out = setup.run_trusted(&signed);
    assert_ok(&out);
    assert_eq!(text(&out.stdout), "6765\n");
    // Any of several trusted keys will do.
    let out = kiln(&[
        "run",
        s(&signed),
        "--trusted-key",
        s(&setup.path("other.pub")),
        "--trusted-key",
        s(&setup.path("key.pub")),
        "--invoke",
        "fib",
        "20",
    ]);
    assert_eq!(text(&out.stdout), "6765\n", "{}", text(&out.stderr));
    // Without --trusted-key the signature is not needed, and not in the way.
    let out = kiln(&["run", s(&signed), "--invoke", "fib", "20"]);
    assert_eq!(text(&out.stdout), "6765\n", "{}", text(&out.stderr));
    // The unsigned artifact is unchanged by signing, and signing is deterministic.
    let unsigned = std::fs::read(setup.path("fib.kiln")).unwrap();
    let bytes = std::fs::read(&signed).unwrap();
    assert_eq!(&bytes[..unsigned.len()], &unsigned[..]);
    assert_eq!(bytes.len(), unsigned.len() + 120);
    assert_eq!(std::fs::read(setup.signed("again.kiln")).unwrap(), bytes);
    // Signing in place, and signing a signed artifact again, replaces the signature.
    let copy = setup.path("copy.kiln");
    std::fs::copy(&signed, &copy).unwrap();
    let other = s(&setup.path("other")).to_owned();
    assert_ok(&kiln(&["sign", "--key", &other, s(&copy)]));
    assert_eq!(std::fs::read(&copy).unwrap().len(), bytes.len());
    assert_refused(&setup.run_trusted(&copy), &copy, "not trusted");
}

#[test]
fn unsigned_and_wrongly_signed_artifacts_are_refused() {
    let setup = Setup::new();
    let unsigned = setup.path("fib.kiln");
    assert_refused(&setup.run_trusted(&unsigned), &unsigned, "not signed");
    let by_other = setup.path("by-other.kiln");
    assert_ok(&kiln(&[
        "sign",
        "--key",
        s(&setup.path("other")),
        s(&unsigned),
        "-o",
        s(&by_other),
    ]));
    assert_refused(&setup.run_trusted(&by_other), &by_other, "not trusted");
    // A module compiled in memory is no signed artifact either.
    let wasm = PathBuf::from(example("fib.wat"));
    assert_refused(&setup.run_trusted(&wasm), &wasm, "not signed");
}

#[test]
fn a_stripped_or_pasted_signature_is_refused() {
    let setup = Setup::new();
    let signed = setup.signed("signed.kiln");
    let stripped = setup.altered(&signed, "stripped.kiln", |b| b.truncate(b.len() - 120));
    assert_refused(&setup.run_trusted(&stripped), &stripped, "not signed");
    // Another artifact, signed by the same key.
    let other = setup.path("other.kiln");
    assert_ok(&kiln(&[
        "compile",
        &example("fib.wat"),
        "-O",
        "none",
        "-o",
        s(&other),
    ]));
    assert_ok(&kiln(&["sign", "--key", s(&setup.path("key")), s(&other)]));
    let other_bytes = std::fs::read(&other).unwrap();
    let signature = other_bytes[other_bytes.len() - 64..].to_vec();
    let pasted = setup.altered(&signed, "pasted.kiln", |b| {
        let n = b.len();
        b[n - 64..].copy_from_slice(&signature);
    });
    assert_refused(
        &setup.run_trusted(&pasted),
        &pasted,
        "signature does not match",
    );
    let trailer = other_bytes[other_bytes.len() - 120..].to_vec();
    let pasted = setup.altered(&stripped, "pasted-trailer.kiln", |b| {
        b.extend_from_slice(&trailer)
    });
    assert_refused(&setup.run_trusted(&pasted), &pasted, "signature");
}

#[test]
fn one_flipped_byte_anywhere_is_refused() {
    let setup = Setup::new();
    let signed = setup.signed("signed.kiln");
    let len = std::fs::metadata(&signed).unwrap().len() as usize;
    let trailer = len - 120;
    // The ELF header, the Kiln header (format version, text range, checksum, metadata
    // checksum), the metadata, the code (the page after the headers), the last byte of the
    // image, and the trailer: its magic, its signed length, its key, its signature.
    let offsets = [
        0,
        64 + 8,
        64 + 144,
        64 + 208,
        64 + 216,
        600,
        4096 + 3,
        trailer - 1,
        trailer,
        trailer + 16,
        trailer + 30,
        trailer + 56,
        len - 1,
    ];
    for at in offsets {
        let bad = setup.altered(&signed, &format!("flipped-{at}.kiln"), |b| b[at] ^= 0x01);
        let out = setup.run_trusted(&bad);
        assert_refused(&out, &bad, "sign");
    }
}

#[test]
fn bad_keys_and_inputs_are_refused_with_the_file_named() {
    let setup = Setup::new();
    let fib = setup.path("fib.kiln");
    let sign = |key: &Path, input: &Path| {
        let out = setup.path("out.kiln");
        kiln(&["sign", "--key", s(key), s(input), "-o", s(&out)])
    };
    // A public key where the private one belongs, and the reverse.
    let public = setup.path("key.pub");
    assert_refused(&sign(&public, &fib), &public, "not an Ed25519 private key");
    let private = setup.path("key");
    let out = kiln(&["run", s(&fib), "--trusted-key", s(&private)]);
    assert_refused(&out, &private, "not an Ed25519 public key");
    // Not a key at all: text, and binary.
    let garbage = setup.path("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN PRIVATE KEY-----\nnot base64\n").unwrap();
    assert_refused(
        &sign(&garbage, &fib),
        &garbage,
        "not an Ed25519 private key",
    );
    assert_refused(&sign(&fib, &fib), &fib, "not an Ed25519 private key");
    let out = kiln(&["run", s(&fib), "--trusted-key", s(&fib)]);
    assert_refused(&out, &fib, "not an Ed25519 public key");
    // Missing files.
    let missing = setup.path("missing");
    assert_refused(&sign(&missing, &fib), &missing, "cannot read");
    let out = kiln(&["run", s(&fib), "--trusted-key", s(&missing)]);
    assert_refused(&out, &missing, "cannot read");
    assert_refused(&sign(&private, &missing), &missing, "cannot read");
    // A WebAssembly module is not an artifact to sign, nor is a damaged artifact.
    let wasm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/programs/exit_code.wasm");
    assert_refused(&sign(&private, &wasm), &wasm, "not a Kiln artifact");
    let damaged = setup.altered(&fib, "damaged.kiln", |b| b[4096 + 3] ^= 1);
    assert_refused(&sign(&private, &damaged), &damaged, "checksum mismatch");
    assert!(
        !setup.path("out.kiln").exists(),
        "a refused sign writes nothing"
    );
}

#[test]
fn a_signed_artifact_with_unwind_tables_registers_them_and_runs() {
    // The signature stands for the whole-file checksum before `.eh_frame` goes to the unwinder.
    let setup = Setup::new();
    let unwind = setup.path("unwind.kiln");
    let fib = example("fib.wat");
    assert_ok(&kiln(&["compile", &fib, "--unwind-info", "-o", s(&unwind)]));
    assert_ok(&kiln(&["sign", "--key", s(&setup.path("key")), s(&unwind)]));
    let out = setup.run_trusted(&unwind);
    assert_eq!(text(&out.stdout), "6765\n", "{}", text(&out.stderr));
}

#[test]
fn an_artifact_for_another_target_can_be_signed() {
    // Signing checks the artifact's integrity, not that this machine can run it: a build host
    // signs what its targets will run.
    let setup = Setup::new();
    let arm = setup.path("fib-aarch64.kiln");
    let fib = example("fib.wat");
    assert_ok(&kiln(&[
        "compile",
        &fib,
        "--target",
        "aarch64",
        "-o",
        s(&arm),
    ]));
    let unsigned = std::fs::read(&arm).unwrap();
    assert_ok(&kiln(&["sign", "--key", s(&setup.path("key")), s(&arm)]));
    let signed = std::fs::read(&arm).unwrap();
    assert_eq!(&signed[..unsigned.len()], &unsigned[..]);
    assert_eq!(&signed[unsigned.len()..unsigned.len() + 8], b"KILNSIG\0");
    let out = kiln(&["inspect", s(&arm)]);
    assert_ok(&out);
    assert!(
        text(&out.stdout).contains("aarch64"),
        "{}",
        text(&out.stdout)
    );
}
