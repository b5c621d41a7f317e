//! The signature trailer (SPEC.md §10): an optional fixed-size record appended after an
//! artifact's ELF image that carries an Ed25519 signature of every byte before the signature
//! itself.
//!
//! It lies outside the ELF image, so an unsigned artifact is unchanged by this format, and a
//! loader that knows nothing of signatures maps and runs a signed artifact as it is (every region
//! and the section headers still lie inside the file; the bytes after them are never read). The
//! signed message is the file minus its last 64 bytes, one contiguous range: the whole artifact
//! (ELF header, Kiln header and its checksums, metadata, code, data, symbols) and the trailer's
//! own fields. This crate only lays the trailer out; the cryptography is the signer's and the
//! verifier's (`kiln sign`, the loader's `signatures` feature).

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The eight bytes a trailer starts with.
pub const SIGNATURE_MAGIC: [u8; 8] = *b"KILNSIG\0";
/// The trailer layout this crate defines.
pub const TRAILER_VERSION: u16 = 1;
/// `algorithm`: Ed25519 as in RFC 8032 (pure, not prehashed), over the signed message.
pub const ALGORITHM_ED25519: u16 = 1;
/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// The trailer, the last [`SignatureTrailer::SIZE`] bytes of a signed artifact. Little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SignatureTrailer {
    /// [`SIGNATURE_MAGIC`].
    pub magic: [u8; 8],
    /// [`TRAILER_VERSION`].
    pub version: U16,
    /// [`ALGORITHM_ED25519`].
    pub algorithm: U16,
    /// [`SignatureTrailer::SIZE`].
    pub trailer_size: U32,
    /// The length of the artifact it signs: the file offset of this trailer.
    pub signed_len: U64,
    /// The signer's Ed25519 public key (RFC 8032 encoding).
    pub public_key: [u8; PUBLIC_KEY_LEN],
    /// The signature of every byte of the file before this field.
    pub signature: [u8; SIGNATURE_LEN],
}

impl SignatureTrailer {
    /// Its size in bytes: 120.
    pub const SIZE: usize = size_of::<SignatureTrailer>();
}

/// A signed artifact's parts, found by [`find`].
#[derive(Clone, Copy, Debug)]
pub struct Signed<'a> {
    /// The artifact without its trailer: the file as it was before it was signed.
    pub unsigned: &'a [u8],
    /// The trailer.
    pub trailer: &'a SignatureTrailer,
    /// The signed message: every byte of the file but the signature.
    pub message: &'a [u8],
}

/// Finds the trailer of `file`, a whole artifact file: `Ok(None)` if it has none (its last bytes
/// are not a trailer's start), an error naming the problem if it has one this crate cannot read.
pub fn find(file: &[u8]) -> Result<Option<Signed<'_>>, &'static str> {
    let Some(at) = file.len().checked_sub(SignatureTrailer::SIZE) else {
        return Ok(None);
    };
    let Ok(trailer) = SignatureTrailer::ref_from_bytes(&file[at..]) else {
        return Ok(None);
    };
    if trailer.magic != SIGNATURE_MAGIC {
        return Ok(None);
    }
    if trailer.version.get() != TRAILER_VERSION {
        return Err("unknown signature trailer version");
    }
    if trailer.algorithm.get() != ALGORITHM_ED25519 {
        return Err("unknown signature algorithm");
    }
    if trailer.trailer_size.get() as usize != SignatureTrailer::SIZE {
        return Err("wrong signature trailer size");
    }
    if trailer.signed_len.get() != at as u64 {
        return Err("the signed length is not the file's length before the signature trailer");
    }
    Ok(Some(Signed {
        unsigned: &file[..at],
        trailer,
        message: &file[..file.len() - SIGNATURE_LEN],
    }))
}

/// `unsigned` (an artifact without a trailer) signed by `public_key`: the artifact, then a
/// trailer whose signature is `sign(message)`, the signed message (see [`Signed::message`]).
pub fn append_signature(
    unsigned: &[u8],
    public_key: [u8; PUBLIC_KEY_LEN],
    sign: impl FnOnce(&[u8]) -> [u8; SIGNATURE_LEN],
) -> Vec<u8> {
    let trailer = SignatureTrailer {
        magic: SIGNATURE_MAGIC,
        version: TRAILER_VERSION.into(),
        algorithm: ALGORITHM_ED25519.into(),
        trailer_size: (SignatureTrailer::SIZE as u32).into(),
        signed_len: (unsigned.len() as u64).into(),
        public_key,
        signature: [0; SIGNATURE_LEN],
    };
    let mut file = Vec::with_capacity(unsigned.len() + SignatureTrailer::SIZE);
    file.extend_from_slice(unsigned);
    file.extend_from_slice(trailer.as_bytes());
    let message_len = file.len() - SIGNATURE_LEN;
    let signature = sign(&file[..message_len]);
    file[message_len..].copy_from_slice(&signature);
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trailer_is_120_bytes_with_the_signature_last() {
        assert_eq!(SignatureTrailer::SIZE, 120);
        assert_eq!(std::mem::offset_of!(SignatureTrailer, signed_len), 16);
        assert_eq!(std::mem::offset_of!(SignatureTrailer, public_key), 24);
        assert_eq!(
            std::mem::offset_of!(SignatureTrailer, signature),
            SignatureTrailer::SIZE - SIGNATURE_LEN
        );
    }

    #[test]
    fn a_trailer_round_trips_and_signs_everything_but_the_signature() {
        let artifact = b"\x7fELF and the rest of an artifact".to_vec();
        let mut seen = Vec::new();
        let file = append_signature(&artifact, [7; 32], |m| {
            seen = m.to_vec();
            [9; 64]
        });
        let signed = find(&file).unwrap().unwrap();
        assert_eq!(signed.unsigned, &artifact[..]);
        assert_eq!(signed.message, &seen[..]);
        assert_eq!(signed.message, &file[..file.len() - 64]);
        assert_eq!(signed.trailer.public_key, [7; 32]);
        assert_eq!(signed.trailer.signature, [9; 64]);
        assert!(find(&artifact).unwrap().is_none());
        assert!(find(b"short").unwrap().is_none());
    }

    #[test]
    fn a_damaged_trailer_is_refused_or_not_one() {
        let file = append_signature(&[1; 200], [7; 32], |_| [9; 64]);
        let flipped = |offset: usize| {
            let mut bad = file.clone();
            bad[200 + offset] ^= 1;
            bad
        };
        // A damaged magic: no trailer (a loader that requires one refuses the file as unsigned).
        for offset in [0, 7] {
            assert!(find(&flipped(offset)).unwrap().is_none(), "{offset}");
        }
        // Version, algorithm, size, signed length.
        for offset in [8, 10, 12, 16, 23] {
            assert!(find(&flipped(offset)).is_err(), "{offset}");
        }
        // The key and the signature are the verifier's to judge.
        for offset in [24, 55, 56, 119] {
            assert!(find(&flipped(offset)).unwrap().is_some(), "{offset}");
        }
    }
}
