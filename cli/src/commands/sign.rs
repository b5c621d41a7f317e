//! `kiln sign`: appends an Ed25519 signature of the whole artifact (SPEC.md §10), which
//! `kiln run --trusted-key` and `LoadOptions::trusted_keys` require; and the loading of an
//! artifact under trusted keys for `kiln run`.

use super::keygen::{read_public_key, read_signing_key};
use anyhow::{anyhow, Context, Result};
use ed25519_dalek::Signer;
use kiln_format::signature::{append_signature, find};
use kiln_format::ArtifactView;
use kiln_loader::{Artifact, LoadOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `kiln sign`.
#[derive(clap::Args)]
pub struct Args {
    /// The artifact (.kiln) to sign. A signature it already has is replaced.
    input: PathBuf,
    /// The private key (PKCS#8 PEM, as `kiln keygen` writes).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// Where to write the signed artifact (default: the input, replaced).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// Runs `kiln sign`.
pub fn run(args: Args) -> Result<ExitCode> {
    let key = read_signing_key(&args.key)?;
    let input = &args.input;
    let bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let named = |e: &dyn std::fmt::Display| anyhow!("{}: {e}", input.display());
    let unsigned = match find(&bytes).map_err(|e| named(&e))? {
        Some(signed) => signed.unsigned,
        None => &bytes,
    };
    // A signature vouches for the file: only a whole, undamaged artifact gets one.
    ArtifactView::parse(unsigned)
        .and_then(|view| view.verify_checksum())
        .map_err(|e| named(&e))?;
    let public_key = key.verifying_key().to_bytes();
    let signed = append_signature(unsigned, public_key, |message| key.sign(message).to_bytes());
    super::compile::write_atomically(args.output.as_ref().unwrap_or(input), &signed)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the public keys of `kiln run --trusted-key`.
pub fn read_trusted_keys(paths: &[PathBuf]) -> Result<Vec<[u8; 32]>> {
    paths
        .iter()
        .map(|path| read_public_key(path).map(|key| key.to_bytes()))
        .collect()
}

/// Maps the artifact `path` for `kiln run` (see `run::load_options`) if it is signed by one of
/// `trusted` (a WebAssembly module, being no signed artifact, is refused).
pub fn load_trusted(path: &Path, trusted: Vec<[u8; 32]>) -> Result<Artifact> {
    let options = LoadOptions {
        trusted_keys: trusted,
        // The signature covers every byte the checksum does: the file is read once.
        verify_checksum: false,
        ..super::run::load_options()
    };
    Ok(Artifact::open_with(path, &options)?)
}
