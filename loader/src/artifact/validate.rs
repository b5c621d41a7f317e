//! Validation, once per artifact: the headers (`ArtifactView::check_prefix`), compatibility with
//! this machine, the metadata checksum and the tables (`ArtifactView::check_meta`), in that order,
//! either at load from reads of the file ([`check_file`], `LoadOptions::check_now`) or at first use
//! through the mapping ([`Artifact::check`]), with the same errors. What it establishes is kept in
//! [`Validated`].

use super::{Artifact, LoadError};
use kiln_format::header::HEADERS_END;
use kiln_format::{ArtifactView, FormatError};
use std::fs::File;

/// Why a file could not be validated before it was mapped.
pub(super) enum FileCheckError {
    /// It could not be read.
    Io(std::io::Error),
    /// It is not a usable artifact.
    Format(FormatError),
}

/// Validates `file` (of `len` bytes) as [`Artifact::check`] does, from reads of its first 1 KiB
/// and of its metadata instead of through the mapping (whose pages a check would fault in).
pub(super) fn check_file(file: &File, len: usize) -> Result<(), FileCheckError> {
    let mut prefix = [0u8; PREFIX_LEN];
    let n = read_at(file, &mut prefix, 0).map_err(FileCheckError::Io)?;
    let header = ArtifactView::check_prefix(&prefix[..n], len).map_err(FileCheckError::Format)?;
    kiln_format::reader::check_compatibility(header).map_err(FileCheckError::Format)?;
    // In the file: checked against its length by `check_prefix`.
    let range = |r: kiln_format::header::FileRange| r.offset.get() as usize..r.end() as usize;
    let meta = range(header.meta);
    // The metadata, read for the checks made at first use through the mapping.
    let mut buf = vec![0u8; meta.len()];
    if read_at(file, &mut buf, meta.start as u64).map_err(FileCheckError::Io)? != buf.len() {
        return Err(FileCheckError::Format(FormatError::Truncated(
            "file shorter than when it was opened",
        )));
    }
    ArtifactView::check_meta(&prefix[..HEADERS_END], header, &buf)
        .map_err(FileCheckError::Format)?;
    Ok(())
}

impl Artifact {
    /// Validates the artifact, once: the ELF identification, the Kiln header (magic, format
    /// version), that this machine can run it (target, CPU features, settings), that every
    /// region lies inside the file and the table directory is well formed, that the headers and the
    /// metadata that steers instantiation and calls match their checksum, and that every table is
    /// well formed (the code, the data images, the trap table and the address map are covered by
    /// the whole-file checksum, [`LoadOptions::verify_checksum`](super::LoadOptions)). Instantiation and [`Artifact::view`]
    /// call it; call it directly to learn of a bad artifact before its first use. The first call
    /// reads the headers and the metadata through the mapping.
    pub fn check(&self) -> Result<(), LoadError> {
        if self.inner.validated.get().is_some() {
            return Ok(());
        }
        let format = |error| LoadError::Format {
            path: self.inner.path.clone(),
            error,
        };
        let bytes = self.mapped();
        // The same checks as at load (`check_now`): everything from the first 1 KiB, which is
        // backed since the file is at least an ELF header long (checked when it was mapped).
        let prefix = &bytes[..bytes.len().min(PREFIX_LEN)];
        let header = ArtifactView::check_prefix(prefix, bytes.len()).map_err(format)?;
        kiln_format::reader::check_compatibility(header).map_err(format)?;
        let view = ArtifactView::parse(bytes).map_err(format)?;
        let text = view.text_range();
        let base = bytes.as_ptr() as usize;
        let code = base + text.start..base + text.end;
        self.inner
            .validated
            .get_or_init(|| Validated { view, code });
        Ok(())
    }

    /// The mapped bytes, for the views cached in the artifact.
    fn mapped(&self) -> &'static [u8] {
        let bytes = self.inner.map.bytes();
        // SAFETY: the mapping is owned by `self.inner`, as are the views made from these bytes: it
        // stays mapped, in place and unmodified as long as a cached view can be reached, and
        // views are only handed out for the lifetime of `&self` (`checked_view`).
        unsafe { std::slice::from_raw_parts(bytes.as_ptr(), bytes.len()) }
    }

    /// The validated view of the artifact's bytes (validating it first if needed).
    pub fn view(&self) -> Result<ArtifactView<'_>, LoadError> {
        self.check()?;
        Ok(self.checked_view())
    }

    /// The view of an artifact known to be valid: one that has been instantiated (instantiation
    /// validates first).
    pub(crate) fn checked_view(&self) -> ArtifactView<'_> {
        self.validated_view()
            .expect("validated before instantiation")
    }

    /// The view, if the artifact has been validated. Reads a `OnceLock` without initializing it,
    /// so the trap handler may call it.
    pub(crate) fn validated_view(&self) -> Option<ArtifactView<'_>> {
        self.inner.validated.get().map(|v| v.view)
    }

    /// Address range of the executable code (validating the artifact first if needed).
    pub fn code_range(&self) -> Result<std::ops::Range<usize>, LoadError> {
        self.check()?;
        Ok(self.code())
    }

    /// The start of the code (for computing code addresses from text offsets), or null until
    /// the artifact has been validated.
    pub(crate) fn code_ptr(&self) -> *const u8 {
        match self.validated_view() {
            Some(view) => self.mapped()[view.text_range()].as_ptr(),
            None => std::ptr::null(),
        }
    }

    /// Address range of the code; empty until the artifact has been validated.
    pub(crate) fn code(&self) -> std::ops::Range<usize> {
        self.inner.validated.get().map_or(0..0, |v| v.code.clone())
    }
}

/// What validation establishes, kept with the artifact.
pub(super) struct Validated {
    /// The parsed view of the mapping (`'static` stands for "while the artifact lives": see
    /// `Artifact::mapped`).
    view: ArtifactView<'static>,
    /// The address range of the code, which the trap handler and calls look up often.
    code: std::ops::Range<usize>,
}

/// Nothing shorter can be an artifact.
pub(super) const ELF_HEADER_LEN: usize = kiln_format::reader::MIN_FILE_LEN;

/// Bytes read to validate an artifact before mapping it (SPEC §1).
const PREFIX_LEN: usize = kiln_format::reader::PREFIX_LEN;

/// Reads up to `buf.len()` bytes of `file` from offset `at`.
fn read_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], at + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
