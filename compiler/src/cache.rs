//! A compile cache on disk: artifacts kept by the SHA-256 of their module and the compatibility
//! key of the options they were compiled with, so that running the same module again loads the
//! artifact instead of compiling it (`kiln run app.wasm` uses it).
//!
//! It lives in the compiler, not the loader: only a host that compiles needs it, and a host that
//! only loads artifacts links none of it. It does not load anything itself either; the caller
//! passes its load function to [`Cache::lookup`] (with `kiln_loader`,
//! `Artifact::open_with(path, &LoadOptions { verify_checksum: true, .. })`), so the artifact is
//! mapped once and its whole-file checksum verified once, by the loader.
//!
//! # Layout
//!
//! `DIR/<compatibility key>/<wasm sha256>-<tag>.kiln`, where `DIR` is [`Cache::default_dir`]
//! (`$XDG_CACHE_HOME/kiln`, else `$HOME/.cache/kiln`) or one the caller chooses, and `tag` is 8
//! hex digits of a hash of this compiler's version and the WebAssembly features allowed: those
//! change neither the format nor the compatibility key, but a newer compiler may generate other
//! code, and a module valid with every feature may be invalid with fewer.
//!
//! # Safety under concurrency and faults
//!
//! - An entry is written to a temporary file in its own directory (`.tmp-*`) and renamed into
//!   place, so a reader sees either no entry or a whole one. Processes that compile the same
//!   module at once each rename a complete, identical file over the same name: the last wins and
//!   one valid entry remains. A process that has mapped an entry keeps its inode when another
//!   replaces it.
//! - Entries are not `fsync`ed: after a crash or power loss an entry may be truncated or hold
//!   garbage. [`Cache::lookup`] detects that (the header must name the module and the key, and the
//!   caller's load must verify the artifact's checksum) and reports the entry unusable, never
//!   hands it out; the caller recompiles and [`Cache::insert`] replaces it.
//! - A cache that cannot be written (read-only, full, not a directory) makes [`Cache::insert`]
//!   fail with an error naming the path; the caller still has the compiled bytes and can load them
//!   from memory.
//!
//! ```no_run
//! use kiln_compiler::cache::{Cache, Lookup};
//! use kiln_compiler::CompileOptions;
//! # fn load(path: &std::path::Path) -> Result<Vec<u8>, std::io::Error> { std::fs::read(path) }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let wasm = std::fs::read("app.wasm")?;
//! let options = CompileOptions::default();
//! let cache = Cache::new(Cache::default_dir().expect("a home directory"));
//! let key = cache.key(&wasm, &options)?;
//! // `load` maps the file and verifies its checksum (kiln_loader's `verify_checksum`).
//! let artifact = match cache.lookup(&key, load) {
//!     Lookup::Hit(artifact) => artifact,
//!     Lookup::Miss | Lookup::Unusable { .. } => {
//!         let bytes = kiln_compiler::compile(&wasm, &options)?;
//!         match cache.insert(&key, &bytes) {
//!             Ok(path) => load(&path)?,
//!             Err(_) => bytes, // load from memory instead
//!         }
//!     }
//! };
//! # Ok(()) }
//! ```

use crate::error::CompileError;
use crate::options::CompileOptions;
use kiln_format::header::{ArtifactHeader, HEADERS_END, HEADER_OFFSET, MAGIC};
use sha2::{Digest, Sha256};
use std::fmt::Display;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use zerocopy::FromBytes;

/// The extension of cache entries.
const ENTRY_EXT: &str = "kiln";
/// The prefix of temporary files, renamed into entries once written.
const TEMP_PREFIX: &str = ".tmp-";

/// A compile cache rooted at a directory (created when the first entry is written).
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

/// Where one module compiled with one set of options is kept ([`Cache::key`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    wasm_sha256: [u8; 32],
    compatibility_key: String,
    file_name: String,
}

/// What [`Cache::lookup`] found.
#[derive(Debug)]
pub enum Lookup<T> {
    /// A valid entry, as the caller's load function returned it.
    Hit(T),
    /// No entry.
    Miss,
    /// An entry that must not be used: unreadable, truncated, damaged, or not the artifact of
    /// this module and key. Recompile; [`Cache::insert`] replaces it.
    Unusable {
        /// The entry.
        path: PathBuf,
        /// Why, in one line.
        reason: String,
    },
}

/// Entries and their sizes ([`Cache::stats`], [`Cache::clean`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Artifacts.
    pub entries: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Temporary files: entries being written now, or left by a process that died writing one.
    pub temporary_files: u64,
}

/// A cache operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {error}")]
pub struct CacheError {
    /// The file or directory.
    pub path: PathBuf,
    /// The cause.
    pub error: std::io::Error,
}

impl Cache {
    /// A cache in `root`.
    pub fn new(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// The user's cache directory for Kiln: `$XDG_CACHE_HOME/kiln`, or `$HOME/.cache/kiln` when
    /// `XDG_CACHE_HOME` is unset or not absolute (as the XDG specification says); `None` without
    /// either.
    pub fn default_dir() -> Option<PathBuf> {
        let absolute = |var: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        absolute("XDG_CACHE_HOME")
            .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
            .map(|dir| dir.join("kiln"))
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The key of `wasm` compiled with `options`: the module's SHA-256 and
    /// [`crate::compatibility_key`]. Fails only if the options' target cannot be compiled for.
    pub fn key(&self, wasm: &[u8], options: &CompileOptions) -> Result<CacheKey, CompileError> {
        let compatibility_key = crate::compatibility_key(options)?;
        let wasm_sha256: [u8; 32] = Sha256::digest(wasm).into();
        let tag = Sha256::digest(format!(
            "kiln-compiler {}; features {:?}",
            env!("CARGO_PKG_VERSION"),
            options.features
        ));
        let file_name = format!("{}-{}.{ENTRY_EXT}", hex(&wasm_sha256), hex(&tag[..4]));
        Ok(CacheKey {
            wasm_sha256,
            compatibility_key,
            file_name,
        })
    }

    /// The path of the entry for `key`, whether or not it exists.
    pub fn entry_path(&self, key: &CacheKey) -> PathBuf {
        self.root.join(&key.compatibility_key).join(&key.file_name)
    }

    /// The entry for `key`, loaded by `load`, which must refuse a damaged file: with
    /// `kiln_loader`, load with `LoadOptions::verify_checksum`. Before `load` is called, the
    /// entry's header must be a Kiln header naming `key`'s module and compatibility key.
    pub fn lookup<T, E: Display>(
        &self,
        key: &CacheKey,
        load: impl FnOnce(&Path) -> Result<T, E>,
    ) -> Lookup<T> {
        let path = self.entry_path(key);
        let unusable = |reason: String| Lookup::Unusable {
            path: path.clone(),
            reason,
        };
        let mut head = Vec::with_capacity(HEADERS_END);
        let read = std::fs::File::open(&path)
            .and_then(|f| f.take(HEADERS_END as u64).read_to_end(&mut head));
        match read {
            Ok(_) => {}
            // `NotADirectory`: the cache's directory, or the key's, is a file: no entry there.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Lookup::Miss
            }
            Err(e) => return unusable(e.to_string()),
        }
        let header = head
            .get(HEADER_OFFSET as usize..)
            .and_then(|h| ArtifactHeader::read_from_bytes(h).ok());
        let Some(header) = header.filter(|h| h.magic == MAGIC) else {
            return unusable("truncated, or not a Kiln artifact".into());
        };
        if header.wasm_sha256 != key.wasm_sha256 {
            return unusable("the artifact of another module".into());
        }
        let found = kiln_format::compat::compatibility_key(&header);
        if found != key.compatibility_key {
            return unusable(format!(
                "compatibility key {found}, expected {}",
                key.compatibility_key
            ));
        }
        match load(&path) {
            Ok(artifact) => Lookup::Hit(artifact),
            Err(e) => unusable(e.to_string()),
        }
    }

    /// Writes `artifact`, the compiled artifact for `key`, as its entry: into a temporary file in
    /// the entry's directory, then renamed over the entry (see the module documentation). Returns
    /// the entry's path.
    pub fn insert(&self, key: &CacheKey, artifact: &[u8]) -> Result<PathBuf, CacheError> {
        let path = self.entry_path(key);
        let dir = path.parent().unwrap_or(&self.root);
        let err = |path: &Path| {
            let path = path.to_owned();
            move |error| CacheError { path, error }
        };
        std::fs::create_dir_all(dir).map_err(err(dir))?;
        let mut temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
            .map_err(err(dir))?;
        temp.write_all(artifact).map_err(err(temp.path()))?;
        // On failure the temporary file is removed when `e.file` drops.
        temp.persist(&path).map_err(|e| CacheError {
            path: path.clone(),
            error: e.error,
        })?;
        Ok(path)
    }

    /// Counts the entries and temporary files. A cache directory that does not exist is empty.
    pub fn stats(&self) -> Result<CacheStats, CacheError> {
        self.walk(|_, _| Ok(()))
    }

    /// Removes every entry and temporary file, and the key directories left empty; returns what
    /// it removed. Files that are not the cache's are left alone. Processes that have mapped an
    /// entry keep running it.
    pub fn clean(&self) -> Result<CacheStats, CacheError> {
        let removed = self.walk(|path, _| std::fs::remove_file(path))?;
        for dir in self.key_dirs()? {
            // A directory that holds other files stays.
            let _ = std::fs::remove_dir(&dir);
        }
        Ok(removed)
    }

    /// The key directories: the root's subdirectories named as a compatibility key names them.
    fn key_dirs(&self) -> Result<Vec<PathBuf>, CacheError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(CacheError {
                    path: self.root.clone(),
                    error,
                })
            }
        };
        let mut dirs = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && name.to_string_lossy().starts_with("kiln") {
                dirs.push(entry.path());
            }
        }
        dirs.sort();
        Ok(dirs)
    }

    /// Calls `visit` on every entry and temporary file, counting those it succeeds on.
    fn walk(
        &self,
        mut visit: impl FnMut(&Path, &std::fs::Metadata) -> std::io::Result<()>,
    ) -> Result<CacheStats, CacheError> {
        let mut stats = CacheStats::default();
        for dir in self.key_dirs()? {
            let entries = std::fs::read_dir(&dir).map_err(|error| CacheError {
                path: dir.clone(),
                error,
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let temporary = name.starts_with(TEMP_PREFIX);
                let is_entry = path.extension().is_some_and(|e| e == ENTRY_EXT);
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_file() || !(temporary || is_entry) {
                    continue;
                }
                match visit(&path, &meta) {
                    Ok(()) => {}
                    // Removed meanwhile, by another `clean` or a rename.
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(error) => return Err(CacheError { path, error }),
                }
                if temporary {
                    stats.temporary_files += 1;
                } else {
                    stats.entries += 1;
                    stats.bytes += meta.len();
                }
            }
        }
        Ok(stats)
    }
}

impl CacheKey {
    /// The compatibility key part.
    pub fn compatibility_key(&self) -> &str {
        &self.compatibility_key
    }

    /// The module's SHA-256.
    pub fn wasm_sha256(&self) -> &[u8; 32] {
        &self.wasm_sha256
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wasm() -> Vec<u8> {
        wat::parse_str(r#"(module (func (export "f") (result i32) i32.const 7))"#).unwrap()
    }

    fn read(path: &Path) -> Result<Vec<u8>, String> {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        let view = kiln_format::ArtifactView::parse(&bytes).map_err(|e| e.to_string())?;
        view.verify_checksum().map_err(|e| e.to_string())?;
        Ok(bytes)
    }

    #[test]
    fn an_entry_is_found_under_its_key_and_only_there() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("kiln"));
        let options = CompileOptions::default();
        let key = cache.key(&wasm(), &options).unwrap();
        assert!(matches!(cache.lookup(&key, read), Lookup::Miss));
        let bytes = crate::compile(&wasm(), &options).unwrap();
        let path = cache.insert(&key, &bytes).unwrap();
        assert_eq!(path, cache.entry_path(&key));
        match cache.lookup(&key, read) {
            Lookup::Hit(found) => assert_eq!(found, bytes),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            cache.stats().unwrap(),
            CacheStats {
                entries: 1,
                bytes: bytes.len() as u64,
                temporary_files: 0
            }
        );
        // Other options, another module, other features: other keys, no entry.
        let fuel = CompileOptions {
            fuel: true,
            ..CompileOptions::default()
        };
        let wasm2 = CompileOptions {
            features: crate::WasmFeatures::WASM2,
            ..CompileOptions::default()
        };
        let other = wat::parse_str("(module)").unwrap();
        for key in [
            cache.key(&wasm(), &fuel).unwrap(),
            cache.key(&wasm(), &wasm2).unwrap(),
            cache.key(&other, &options).unwrap(),
        ] {
            assert!(matches!(cache.lookup(&key, read), Lookup::Miss));
        }
        // The artifact of another module under this module's name is refused before `load`.
        let other_key = cache.key(&other, &options).unwrap();
        let other_bytes = crate::compile(&other, &options).unwrap();
        std::fs::write(cache.entry_path(&key), &other_bytes).unwrap();
        let never = |_: &Path| -> Result<(), String> { panic!("loaded a wrong entry") };
        assert!(matches!(
            cache.lookup(&key, never),
            Lookup::Unusable { reason, .. } if reason.contains("another module")
        ));
        assert!(matches!(cache.lookup(&other_key, read), Lookup::Miss));
        assert_eq!(cache.clean().unwrap().entries, 1);
        assert_eq!(cache.stats().unwrap(), CacheStats::default());
        assert!(!cache.dir().join(key.compatibility_key()).exists());
    }

    #[test]
    fn a_cache_that_cannot_be_written_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"not a directory").unwrap();
        let cache = Cache::new(file.join("kiln"));
        let key = cache.key(&wasm(), &CompileOptions::default()).unwrap();
        assert!(matches!(cache.lookup(&key, read), Lookup::Miss));
        let err = cache.insert(&key, b"bytes").unwrap_err();
        assert!(err.to_string().contains(&*file.to_string_lossy()), "{err}");
        assert_eq!(cache.stats().unwrap_err().path, file.join("kiln"));
    }
}
