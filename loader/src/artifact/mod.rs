//! Loading an artifact: one `mmap` of the whole file, read-only and executable, nothing copied.
//!
//! One file per job: [`file_map`] (the mapping), [`validate`] (the checks, once, at first use or
//! at load), [`derived`] (per-artifact tables computed once from the metadata), [`reopen`] (the
//! file again, for copy-on-write data images), [`signature`] (signed artifacts, behind the
//! `signatures` feature) and [`unwind`] (registration with the system unwinder).

mod derived;
mod file_map;
mod reopen;
mod signature;
mod static_image;
mod types;
mod unwind;
mod validate;

pub(crate) use derived::DefinedFunc;
pub(crate) use reopen::DataFile;
pub use signature::SignatureError;
pub(crate) use types::func_type;

use derived::Derived;
use file_map::{FileMap, Image};
use kiln_format::FormatError;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use unwind::UnwindRegistration;
use validate::Validated;

/// Why an artifact could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be opened or mapped.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (part of the message, so not also a `source()`: printed once).
        error: std::io::Error,
    },
    /// The file is not a usable artifact.
    #[error("{path}: {error}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The cause (part of the message, so not also a `source()`: printed once).
        error: FormatError,
    },
    /// The file is not signed by a trusted key ([`LoadOptions::trusted_keys`]).
    #[error("{path}: {error}")]
    Signature {
        /// The file.
        path: PathBuf,
        /// The cause (part of the message, so not also a `source()`: printed once).
        error: SignatureError,
    },
}

/// How to load an artifact.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Validate the artifact while loading it, with the checks of its first use
    /// ([`Artifact::check`]) made from reads of the file (its first KiB, then its metadata)
    /// instead of through the mapping, so that a damaged, foreign or incompatible file fails here
    /// rather than at its first use. Without it, loading reads nothing of the file.
    pub check_now: bool,
    /// Recompute the checksum of the whole file and refuse it on a mismatch. This reads every byte,
    /// so it costs time proportional to the file. Implies `check_now`.
    pub verify_checksum: bool,
    /// Register the artifact's `.eh_frame` with the system unwinder (one call for the whole
    /// section, undone by one call at unload), so that native backtraces and debuggers can walk
    /// through guest frames. Ignored for artifacts compiled without `--unwind-info`. Implies
    /// `check_now`, and `verify_checksum` (the unwinder trusts what it is given) unless a
    /// signature by a trusted key has vouched for every byte ([`LoadOptions::trusted_keys`]).
    pub register_unwind_info: bool,
    /// Load only an artifact signed by one of these Ed25519 public keys (32 bytes each, RFC 8032
    /// encoding; `kiln keygen` and `kiln sign`, SPEC.md §10), and refuse any other with
    /// [`LoadError::Signature`] before anything in it is used. The signature covers every byte
    /// of the file but itself and is checked on the mapped bytes, so this reads the whole file
    /// once (its cost: `benches/README.md`, "Signature verification"); `verify_checksum` would
    /// read it a second time for nothing (`kiln sign` signs only artifacts that match their
    /// checksum, and the signature covers the checksum). Empty (the default): no
    /// signature is required, and a signed artifact loads as an unsigned one. Needs the
    /// `signatures` cargo feature; without it a non-empty list refuses every artifact.
    pub trusted_keys: Vec<[u8; 32]>,
}

/// A loaded artifact: the file mapped read-only and executable. Cheap to clone and shareable
/// between threads; the mapping goes away when the last clone is dropped.
///
/// Loading maps the file and reads nothing of it. The artifact is validated (ELF and Kiln
/// headers, format version, target, CPU features, every region and table bound) once, at its first
/// use: [`Artifact::check`], [`Artifact::view`], or instantiation; or at load with
/// [`LoadOptions::check_now`]. Nothing in the mapping is used before it has been validated.
#[derive(Clone)]
pub struct Artifact {
    inner: Arc<ArtifactInner>,
}

struct ArtifactInner {
    /// The file it was loaded from, or what stands for it in messages (`<bytes>`, `<static>`,
    /// `<file>`).
    path: PathBuf,
    /// Where data images are mapped from.
    source: Source,
    /// Set once the mapping has been validated (`Artifact::check`). Everything that reads the
    /// mapping goes through it.
    validated: OnceLock<Validated>,
    /// The registered `.eh_frame`, if any; dropped (deregistered) before the mapping.
    _unwind: Option<UnwindRegistration>,
    /// What instantiation and calls derive from the metadata, computed once.
    derived: Derived,
    /// The file, reopened at the first instantiation that maps a data image (see `reopen`).
    reopened: OnceLock<Option<std::sync::Arc<reopen::KeptFile>>>,
    /// Last, so that it is unmapped after every field that may borrow from it is gone.
    map: Image,
}

/// Where an artifact came from, for mapping its data images copy-on-write (`reopen`).
enum Source {
    /// A path, opened again at the first instantiation that maps an image.
    Path,
    /// A file the artifact holds: one the host gave (`from_file`), or the sealed in-memory file
    /// of `from_bytes`.
    Held(File),
    /// An image mapped by someone else: data images are copied.
    Static,
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("path", &self.inner.path)
            .field("len", &self.inner.map.bytes().len())
            .finish()
    }
}

impl Artifact {
    /// Opens and maps `path` with default options: `open` + `lseek` + `mmap` + `close`, nothing
    /// read. See [`Artifact::check`] for when it is validated.
    pub fn open(path: impl AsRef<Path>) -> Result<Artifact, LoadError> {
        Artifact::open_with(path, &LoadOptions::default())
    }

    /// Opens and maps `path`.
    pub fn open_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Artifact, LoadError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|error| LoadError::Io {
            path: path.to_owned(),
            error,
        })?;
        Artifact::map_file(file, path.to_owned(), false, options)
    }

    /// Maps an open file (a file a sandbox broker opened, a `memfd`, ...) from its start, with
    /// default options. The artifact keeps the descriptor, to map data images from it; the file
    /// must not change while the artifact lives (as for [`Artifact::open`]). Errors name the
    /// file `<file>`.
    pub fn from_file(file: File) -> Result<Artifact, LoadError> {
        Artifact::from_file_with(file, &LoadOptions::default())
    }

    /// Maps an open file (see [`Artifact::from_file`]).
    pub fn from_file_with(file: File, options: &LoadOptions) -> Result<Artifact, LoadError> {
        Artifact::map_file(file, PathBuf::from("<file>"), true, options)
    }

    /// Loads an artifact from a buffer in ordinary memory (received over the network, read from
    /// a database), with default options: the bytes are copied once into a sealed anonymous
    /// in-memory file, which is mapped read+exec as an artifact file is: never writable and
    /// executable at once, and its data images are mapped copy-on-write. Errors name it
    /// `<bytes>`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Artifact, LoadError> {
        Artifact::from_bytes_with(bytes, &LoadOptions::default())
    }

    /// Loads an artifact from a buffer (see [`Artifact::from_bytes`]).
    pub fn from_bytes_with(bytes: &[u8], options: &LoadOptions) -> Result<Artifact, LoadError> {
        let path = PathBuf::from("<bytes>");
        if bytes.len() < validate::ELF_HEADER_LEN {
            return Err(LoadError::Format {
                path,
                error: FormatError::Truncated("shorter than an ELF header"),
            });
        }
        let file = file_map::sealed_memfd(bytes).map_err(|error| LoadError::Io {
            path: path.clone(),
            error,
        })?;
        Artifact::map_file(file, path, true, options)
    }

    /// Uses an artifact image that is already mapped executable for the life of the process, in
    /// place: linked into the host executable (`kiln compile --emit obj`, or
    /// [`static_artifact!`](crate::static_artifact) for Rust hosts), or in ROM or flash. No
    /// `open`, no `mmap`, nothing copied; validated at first use as a file is, with the same
    /// errors (named `<static>`). Data images are copied into linear memory, there being no file
    /// to map them from. The image must start at an address aligned to the artifact's region
    /// alignment (its page size); otherwise this fails.
    ///
    /// # Safety
    /// `image` must be mapped readable and executable, and never written, for the rest of the
    /// process: its code runs in place.
    pub unsafe fn from_static(image: &'static [u8]) -> Result<Artifact, LoadError> {
        // SAFETY: the caller's contract.
        unsafe { Artifact::from_static_with(image, &LoadOptions::default()) }
    }

    /// Uses an image in place (see [`Artifact::from_static`]).
    ///
    /// # Safety
    /// As for [`Artifact::from_static`].
    pub unsafe fn from_static_with(
        image: &'static [u8],
        options: &LoadOptions,
    ) -> Result<Artifact, LoadError> {
        let path = PathBuf::from("<static>");
        let format = |error| LoadError::Format {
            path: path.clone(),
            error,
        };
        if image.len() < validate::ELF_HEADER_LEN {
            return Err(format(FormatError::Truncated("shorter than an ELF header")));
        }
        // The header's own alignment is checked against the target at validation; the image
        // must sit on a page, as a mapped file does, for its regions to be aligned.
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        if !(image.as_ptr() as usize).is_multiple_of(page) {
            return Err(LoadError::Io {
                path,
                error: std::io::Error::other(format!(
                    "the image at {:p} is not aligned to the {page}-byte page",
                    image.as_ptr()
                )),
            });
        }
        let signed = signature::check(image, options, &path)?;
        let artifact = Artifact::new(Image::Static(image), path.clone(), Source::Static, None);
        let verify_checksum = needs_checksum(options, signed);
        if options.check_now || options.register_unwind_info || verify_checksum {
            artifact.check()?;
        }
        if verify_checksum {
            artifact.checked_view().verify_checksum().map_err(format)?;
        }
        if options.register_unwind_info {
            let header = artifact.checked_view().header();
            let eh = header.eh_frame.offset.get() as usize..header.eh_frame.end() as usize;
            return Ok(artifact.with_unwind(eh));
        }
        Ok(artifact)
    }

    /// Maps `file` (named `path` in errors), keeping it for data images if `hold`.
    fn map_file(
        file: File,
        path: PathBuf,
        hold: bool,
        options: &LoadOptions,
    ) -> Result<Artifact, LoadError> {
        let io = |error| LoadError::Io {
            path: path.clone(),
            error,
        };
        let format = |error| LoadError::Format {
            path: path.clone(),
            error,
        };
        // The length by `lseek`, not `fstat`: it costs a tenth as much (benches/README.md, "Load
        // breakdown"). What is not a regular file fails anyway: a directory or a pipe cannot be
        // read or sought, a device reports length 0 and cannot be mapped.
        let len = (&file).seek(SeekFrom::End(0)).map_err(io)?;
        let len = usize::try_from(len)
            .map_err(|_| io(std::io::Error::other("file too large for this machine")))?;
        if len < validate::ELF_HEADER_LEN {
            // Also keeps an empty file from being mapped (which fails) or a shorter one from being
            // validated through a mapping with nothing behind it.
            return Err(format(FormatError::Truncated("shorter than an ELF header")));
        }
        // A signature is checked first, so that a file modified after signing is refused as such
        // whatever else is wrong with it; on the mapped bytes, the ones that will run.
        let signed_map = if options.trusted_keys.is_empty() {
            None
        } else {
            let map = FileMap::new(&file, len).map_err(io)?;
            signature::check(map.bytes(), options, &path)?;
            Some(map)
        };
        // The unwinder is given `.eh_frame` only once the whole file is known to be what the
        // compiler wrote: by the checksum, or by the signature of a trusted signer.
        let verify_checksum = needs_checksum(options, signed_map.is_some());
        let check_now = options.check_now || options.register_unwind_info || verify_checksum;
        // Every page of the mapping is read when the checksum or a signature is verified: then
        // validating through the mapping costs nothing more, where a read of the metadata would
        // copy it into the heap (that copy and its page faults were a third of `kiln run`'s extra
        // time on a 3 MB artifact). Otherwise validated from one small read, so that even a
        // checked load touches no page of the mapping (a page fault costs more than the read,
        // and more again at unload).
        let whole_file_read = verify_checksum || signed_map.is_some();
        if check_now && !whole_file_read {
            validate::check_file(&file, len).map_err(|e| match e {
                validate::FileCheckError::Io(e) => io(e),
                validate::FileCheckError::Format(e) => format(e),
            })?;
        }
        // One mapping of the whole file, read-only and executable: nothing in it is ever written,
        // and a single mapping is what makes loading cost one `mmap` and unloading one `munmap`.
        // If another process truncates the file, accesses beyond the new end fault (SIGBUS), as
        // with any mapped executable. Artifacts are immutable build outputs, replaced by rename
        // (as `kiln compile` does).
        let map = match signed_map {
            Some(map) => map,
            None => FileMap::new(&file, len).map_err(io)?,
        };
        let source = if hold {
            Source::Held(file)
        } else {
            drop(file);
            Source::Path
        };
        let artifact = Artifact::new(Image::Mapped(map), path.clone(), source, None);
        if check_now && whole_file_read {
            artifact.check()?;
        }
        if verify_checksum {
            artifact.checked_view().verify_checksum().map_err(format)?;
        }
        if options.register_unwind_info {
            let header = artifact.checked_view().header();
            let eh = header.eh_frame.offset.get() as usize..header.eh_frame.end() as usize;
            return Ok(artifact.with_unwind(eh));
        }
        Ok(artifact)
    }

    fn new(
        map: Image,
        path: PathBuf,
        source: Source,
        unwind: Option<UnwindRegistration>,
    ) -> Artifact {
        Artifact {
            inner: Arc::new(ArtifactInner {
                map,
                path,
                source,
                validated: OnceLock::new(),
                _unwind: unwind,
                derived: Derived::default(),
                reopened: OnceLock::new(),
            }),
        }
    }

    /// This artifact with its `.eh_frame` (the byte range `eh_frame`, whose contents have been
    /// verified by the whole-file checksum) registered with the system unwinder. Called before
    /// any other handle exists.
    fn with_unwind(self, eh_frame: std::ops::Range<usize>) -> Artifact {
        if eh_frame.len() < 4 {
            return self;
        }
        let Ok(mut inner) = Arc::try_unwrap(self.inner) else {
            unreachable!("the only handle: made by the caller just now")
        };
        let eh = inner.map.bytes()[eh_frame].as_ptr().cast_mut();
        inner._unwind = crate::send_sync::SendSyncPtr::from_raw(eh).map(|eh| {
            // SAFETY: the section lies inside the image and is the one the compiler wrote (its
            // place was checked, and the whole-file checksum its bytes), ends with the zero
            // terminator the compiler writes, and the image outlives the registration
            // (`ArtifactInner` drops `_unwind` first; a static image lives for the process).
            unsafe { UnwindRegistration::register(eh) }
        });
        Artifact {
            inner: Arc::new(inner),
        }
    }

    /// The file it was loaded from (`<bytes>`, `<static>` or `<file>` for the other sources).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The whole mapping, unvalidated (see [`Artifact::check`]).
    pub fn bytes(&self) -> &[u8] {
        self.inner.map.bytes()
    }

    /// Whether two handles share one mapping.
    pub fn ptr_eq(&self, other: &Artifact) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The artifact's compatibility key (`kiln_format::compat`, SPEC.md §2): equal to
    /// `kiln_compiler::compatibility_key` of the options it was compiled with, and the same for
    /// every artifact this loader accepts exactly when it accepts this one. Read from the header
    /// alone (checked as at validation, but not for this machine), so a foreign artifact has one
    /// too.
    pub fn compatibility_key(&self) -> Result<String, LoadError> {
        let bytes = self.bytes();
        let prefix = &bytes[..bytes.len().min(kiln_format::reader::PREFIX_LEN)];
        let header =
            kiln_format::ArtifactView::check_prefix(prefix, bytes.len()).map_err(|error| {
                LoadError::Format {
                    path: self.inner.path.clone(),
                    error,
                }
            })?;
        Ok(kiln_format::compat::compatibility_key(header))
    }
}

/// Whether a load with `options` recomputes the whole-file checksum: when asked, and when unwind
/// tables are registered (the system unwinder trusts `.eh_frame`), unless a trusted key's
/// signature (`signed`) has vouched for every byte already.
fn needs_checksum(options: &LoadOptions, signed: bool) -> bool {
    options.verify_checksum || (options.register_unwind_info && !signed)
}
