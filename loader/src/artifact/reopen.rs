//! The artifact's file, opened again for mapping data images copy-on-write into linear memory
//! (SPEC.md §5).

use super::Artifact;
use std::fs::File;

impl Artifact {
    /// The artifact's file, opened again at the first instantiation that needs it, if it still
    /// holds the same artifact (same ELF and Kiln headers, which include the wasm hash and the
    /// checksum): for mapping data images into linear memory. Loading keeps no file descriptor;
    /// an artifact that has been instantiated with a mapped image keeps one, as Wasmtime does.
    pub(crate) fn reopened(&self) -> Option<&File> {
        self.inner
            .reopened
            .get_or_init(|| {
                use std::os::unix::fs::FileExt;
                let file = File::open(&self.inner.path).ok()?;
                let len =
                    kiln_format::header::HEADER_OFFSET as usize + kiln_format::ArtifactHeader::SIZE;
                let mut head = vec![0u8; len];
                file.read_exact_at(&mut head, 0).ok()?;
                (self.inner.map.bytes().get(..len) == Some(&head[..])).then_some(file)
            })
            .as_ref()
    }
}
