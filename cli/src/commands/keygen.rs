//! `kiln keygen`: a new Ed25519 key pair, for `kiln sign --key` and `kiln run --trusted-key`; and
//! the reading of key files for both. Keys are PEM files as OpenSSL writes them: the private key
//! in PKCS#8 (`-----BEGIN PRIVATE KEY-----`), the public key in SubjectPublicKeyInfo (`-----BEGIN
//! PUBLIC KEY-----`); `openssl pkey -in KEY -pubout` gives the same public key.

use anyhow::{anyhow, bail, Context, Result};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `kiln keygen`.
#[derive(clap::Args)]
pub struct Args {
    /// The private key file to write (PKCS#8 PEM, readable by its owner only). The public key is
    /// written beside it, to the same name with `.pub` appended. Existing files are not
    /// overwritten.
    #[arg(short, long, value_name = "KEY")]
    output: PathBuf,
}

/// Runs `kiln keygen`.
pub fn run(args: Args) -> Result<ExitCode> {
    let public_path = public_key_path(&args.output);
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| anyhow!("cannot get random bytes from the operating system: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow!("cannot encode the private key: {e}"))?;
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| anyhow!("cannot encode the public key: {e}"))?;
    // Both checked before either is written, so that a refusal leaves nothing behind.
    for path in [&args.output, &public_path] {
        if path.symlink_metadata().is_ok() {
            bail!(
                "{}: already exists (kiln keygen overwrites no key)",
                path.display()
            );
        }
    }
    write_new(&args.output, private.as_bytes(), 0o600)?;
    write_new(&public_path, public.as_bytes(), 0o644)?;
    Ok(ExitCode::SUCCESS)
}

/// Where `kiln keygen -o KEY` writes the public key: `KEY.pub`.
fn public_key_path(private: &Path) -> PathBuf {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Writes `bytes` to a file that must not exist yet, created with permissions `mode`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Reads the PEM key file `path`, `what` it should hold, with `decode`.
fn read_key<K, E: std::fmt::Display>(
    path: &Path,
    what: &str,
    decode: impl FnOnce(&str) -> Result<K, E>,
) -> Result<K> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let refused = |detail: &dyn std::fmt::Display| {
        anyhow!(
            "{}: not {what} in PEM (kiln keygen writes one): {detail}",
            path.display()
        )
    };
    let pem = std::str::from_utf8(&bytes).map_err(|_| refused(&"not a text file"))?;
    decode(pem).map_err(|e| refused(&e))
}

/// Reads an Ed25519 private key file (PKCS#8 PEM, as `kiln keygen` writes).
pub fn read_signing_key(path: &Path) -> Result<SigningKey> {
    read_key(
        path,
        "an Ed25519 private key (PKCS#8)",
        SigningKey::from_pkcs8_pem,
    )
}

/// Reads an Ed25519 public key file (SubjectPublicKeyInfo PEM, as `kiln keygen` writes as
/// `KEY.pub`).
pub fn read_public_key(path: &Path) -> Result<VerifyingKey> {
    read_key(
        path,
        "an Ed25519 public key",
        VerifyingKey::from_public_key_pem,
    )
}
