//! Writing artifacts: the metadata region ([`MetaTables::finish`](crate::tables::MetaTables)) and
//! the ELF container with the Kiln header ([`write_artifact`]). The compiler prepares the
//! regions' contents; everything about where they go and what the header says is decided here,
//! next to the reader that checks it.

mod code_map;
mod container;
mod meta;
mod object_file;

pub use container::{write_artifact, ArtifactParts, Placement, Symbol, WriteError};
pub use object_file::{valid_symbol, write_artifact_object};
