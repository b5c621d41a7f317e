//! Why an artifact cannot be read or used, and where in it the problem is.

use crate::header::FORMAT_MAJOR;
use crate::header::FORMAT_MINOR;
use crate::tables::TableId;
use std::fmt;

/// Why an artifact cannot be read or used here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The file is too short to hold what it claims.
    #[error("artifact is truncated: {0}")]
    Truncated(&'static str),
    /// Not an ELF file, or not a 64-bit one.
    #[error("not a Kiln artifact: {0}")]
    NotElf(&'static str),
    /// ELF, but without the Kiln header.
    #[error("not a Kiln artifact: bad magic in the Kiln header")]
    BadMagic,
    /// Another major format version, or a newer minor one.
    #[error("unsupported artifact format version {found_major}.{found_minor}; this loader reads {FORMAT_MAJOR}.0 to {FORMAT_MAJOR}.{FORMAT_MINOR}: recompile the module with this Kiln")]
    Version {
        /// Major version in the file.
        found_major: u16,
        /// Minor version in the file.
        found_minor: u16,
    },
    /// Compiled for another architecture or OS.
    #[error("artifact was compiled for {found}, but this machine is {host}")]
    WrongTarget {
        /// Target in the file.
        found: String,
        /// Host target.
        host: String,
    },
    /// The code needs CPU features this machine lacks.
    #[error("artifact requires CPU features this machine lacks: {}", .0.join(", "))]
    MissingCpuFeatures(Vec<String>),
    /// A setting the loader does not implement.
    #[error("artifact uses an unsupported setting: {0}")]
    UnsupportedSetting(String),
    /// A region, table or entry is out of bounds or inconsistent.
    #[error("corrupt artifact: {at}: {problem}")]
    Corrupt {
        /// Where.
        at: Location,
        /// What is wrong there.
        problem: String,
    },
    /// The checksum does not match the contents.
    #[error("corrupt artifact: checksum mismatch (file was modified or damaged)")]
    Checksum,
    /// The checksum of the headers and metadata does not match them.
    #[error("corrupt artifact: the checksum of its headers and metadata does not match them (file was modified or damaged)")]
    MetaChecksum,
    /// A constant expression cannot be decoded.
    #[error("corrupt artifact: bad constant expression ({0})")]
    BadConstExpr(&'static str),
}

impl FormatError {
    /// A corruption at `at`.
    pub fn corrupt(at: Location, problem: impl fmt::Display) -> FormatError {
        FormatError::Corrupt {
            at,
            problem: problem.to_string(),
        }
    }
}

/// A place in an artifact, for error messages: which header field, table, entry and field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A field of the Kiln header.
    Header(&'static str),
    /// A table as a whole (its directory entry).
    Table(TableId),
    /// A field of one entry of a table (`field` empty for the entry as a whole).
    Entry {
        /// The table.
        table: TableId,
        /// The entry's index.
        index: u32,
        /// The field, or `""`.
        field: &'static str,
    },
    /// A field of the module facts in the metadata directory.
    Module(&'static str),
    /// The text region, at an offset.
    Text(u32),
}

impl Location {
    /// Field `field` of entry `index` of `table`.
    pub fn entry(table: TableId, index: impl TryInto<u32>, field: &'static str) -> Location {
        Location::Entry {
            table,
            index: index.try_into().unwrap_or(u32::MAX),
            field,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Header(field) => write!(f, "header field `{field}`"),
            Location::Table(t) => write!(f, "table {}", t.name()),
            Location::Entry {
                table,
                index,
                field: "",
            } => write!(f, "{}[{index}]", table.name()),
            Location::Entry {
                table,
                index,
                field,
            } => write!(f, "{}[{index}].{field}", table.name()),
            Location::Module(field) => write!(f, "module field `{field}`"),
            Location::Text(offset) => write!(f, "text offset 0x{offset:x}"),
        }
    }
}
