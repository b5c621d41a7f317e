//! Errors of the embedding API.

use crate::artifact::LoadError;
use crate::trap::Trap;
use kiln_format::FormatError;

/// An error a host function (or a resource limiter, or an epoch callback) returns: any error
/// value. It travels unchanged to whoever called into the guest, inside the [`Trap`] it becomes
/// ([`Trap::host_error`], [`Trap::downcast_ref`]).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an operation of the embedding API failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The guest trapped, or a host function it called failed.
    #[error(transparent)]
    Trap(#[from] Trap),
    /// A WebAssembly exception left the guest: its tag and payload.
    #[error(transparent)]
    Exception(#[from] crate::exn::ThrownException),
    /// The artifact could not be loaded or validated (at its first use).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The artifact's metadata is inconsistent.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// An import is missing or has the wrong type.
    #[error("{0}")]
    Link(String),
    /// Values of the wrong type or number, or a mutation of something immutable.
    #[error("{0}")]
    Type(String),
    /// A handle or a reference was used with a store that does not own it.
    #[error("{0} belongs to another store")]
    ForeignStore(&'static str),
    /// A memory, table or instance could not be created or grown: a limit, or the system.
    #[error("{0}")]
    Resource(String),
    /// The store asks for something the artifact was not compiled for (fuel, epochs), or is not
    /// set up for it.
    #[error("{0}")]
    Config(String),
    /// No export of that name and kind.
    #[error("no exported {kind} named `{name}`")]
    NotFound {
        /// The kind looked for.
        kind: &'static str,
        /// The name.
        name: String,
    },
}

impl Error {
    /// The trap, if this is one.
    pub fn as_trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(t) => Some(t),
            _ => None,
        }
    }

    /// The host error inside a trap, downcast to `E` (see [`Trap::downcast_ref`]).
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.as_trap()?.downcast_ref()
    }

    pub(crate) fn not_found(kind: &'static str, name: &str) -> Error {
        Error::NotFound {
            kind,
            name: name.to_string(),
        }
    }
}

/// A result of the embedding API.
pub type Result<T, E = Error> = std::result::Result<T, E>;
