//! Resource limits: a host's veto over what guests of a store may allocate.

use crate::error::BoxError;

/// The default limit on instances, tables and memories per store (as Wasmtime's).
pub const DEFAULT_INSTANCE_LIMIT: usize = 10_000;
/// The default limit on tables per store.
pub const DEFAULT_TABLE_LIMIT: usize = 10_000;
/// The default limit on memories per store.
pub const DEFAULT_MEMORY_LIMIT: usize = 10_000;

/// Decides whether the memories and tables of a store may grow, and how many instances, tables
/// and memories it may hold. Installed with [`Store::limiter`](crate::Store::limiter).
///
/// It is asked about the initial size of every memory and table an instantiation creates (from
/// 0), about every `memory.grow` and `table.grow` of guest code, and about every host
/// [`Memory::grow`](crate::Memory::grow) and [`Table::grow`](crate::Table::grow). Refusing
/// (`Ok(false)`) makes `memory.grow` return -1 and the others fail with an error; an `Err` makes
/// guest code trap with that error.
pub trait ResourceLimiter: Send {
    /// A memory wants to grow from `current` to `desired` bytes (multiples of 64 KiB);
    /// `maximum` is its declared maximum. Called even when `desired` exceeds `maximum` (the grow
    /// then fails anyway). Sizes of 64-bit memories may pass 4 GiB (every host Kiln runs on has
    /// a 64-bit `usize`); a maximum beyond `usize` is given as `usize::MAX`.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, BoxError>;

    /// A grow that [`ResourceLimiter::memory_growing`] allowed failed anyway (beyond the
    /// maximum, or refused by the system). An `Err` makes the guest trap.
    fn memory_grow_failed(&mut self, error: BoxError) -> Result<(), BoxError> {
        let _ = error;
        Ok(())
    }

    /// A table wants to grow from `current` to `desired` elements.
    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, BoxError>;

    /// A grow that [`ResourceLimiter::table_growing`] allowed failed anyway.
    fn table_grow_failed(&mut self, error: BoxError) -> Result<(), BoxError> {
        let _ = error;
        Ok(())
    }

    /// The most instances the store may hold. Read when the limiter is installed.
    fn instances(&self) -> usize {
        DEFAULT_INSTANCE_LIMIT
    }

    /// The most tables the store's instances may define (imports are not counted again).
    fn tables(&self) -> usize {
        DEFAULT_TABLE_LIMIT
    }

    /// The most memories the store's instances may define.
    fn memories(&self) -> usize {
        DEFAULT_MEMORY_LIMIT
    }
}

/// A [`ResourceLimiter`] with fixed limits, made by [`StoreLimitsBuilder`].
#[derive(Clone, Debug)]
pub struct StoreLimits {
    memory_size: Option<usize>,
    table_elements: Option<usize>,
    instances: usize,
    tables: usize,
    memories: usize,
    trap_on_grow_failure: bool,
}

impl Default for StoreLimits {
    fn default() -> StoreLimits {
        StoreLimits {
            memory_size: None,
            table_elements: None,
            instances: DEFAULT_INSTANCE_LIMIT,
            tables: DEFAULT_TABLE_LIMIT,
            memories: DEFAULT_MEMORY_LIMIT,
            trap_on_grow_failure: false,
        }
    }
}

/// Builds [`StoreLimits`].
#[derive(Clone, Debug, Default)]
pub struct StoreLimitsBuilder(StoreLimits);

impl StoreLimitsBuilder {
    /// No limits beyond the default counts.
    pub fn new() -> StoreLimitsBuilder {
        StoreLimitsBuilder::default()
    }

    /// The largest size in bytes of each linear memory.
    pub fn memory_size(mut self, bytes: usize) -> Self {
        self.0.memory_size = Some(bytes);
        self
    }

    /// The largest size in elements of each table.
    pub fn table_elements(mut self, elements: usize) -> Self {
        self.0.table_elements = Some(elements);
        self
    }

    /// The most instances per store.
    pub fn instances(mut self, limit: usize) -> Self {
        self.0.instances = limit;
        self
    }

    /// The most tables per store.
    pub fn tables(mut self, limit: usize) -> Self {
        self.0.tables = limit;
        self
    }

    /// The most memories per store.
    pub fn memories(mut self, limit: usize) -> Self {
        self.0.memories = limit;
        self
    }

    /// Whether a grow beyond the limits (or a failed grow) traps instead of failing (-1).
    pub fn trap_on_grow_failure(mut self, trap: bool) -> Self {
        self.0.trap_on_grow_failure = trap;
        self
    }

    /// The limits.
    pub fn build(self) -> StoreLimits {
        self.0
    }
}

/// Why [`StoreLimits`] made a grow trap.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// Beyond the memory limit (or the declared maximum).
    #[error("forcing trap when growing memory to {desired} bytes")]
    Memory {
        /// The size asked for.
        desired: usize,
    },
    /// Beyond the table limit (or the declared maximum).
    #[error("forcing trap when growing table to {desired} elements")]
    Table {
        /// The size asked for.
        desired: usize,
    },
    /// A grow failed and the limits trap on failure.
    #[error("forcing a {what} growth failure to be a trap: {source}")]
    GrowFailed {
        /// `memory` or `table`.
        what: &'static str,
        /// Why it failed.
        source: BoxError,
    },
}

fn allowed(limit: Option<usize>, desired: usize, maximum: Option<usize>) -> bool {
    limit.is_none_or(|l| desired <= l) && maximum.is_none_or(|m| desired <= m)
}

impl ResourceLimiter for StoreLimits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, BoxError> {
        let ok = allowed(self.memory_size, desired, maximum);
        if !ok && self.trap_on_grow_failure {
            return Err(LimitError::Memory { desired }.into());
        }
        Ok(ok)
    }

    fn memory_grow_failed(&mut self, error: BoxError) -> Result<(), BoxError> {
        if self.trap_on_grow_failure {
            return Err(LimitError::GrowFailed {
                what: "memory",
                source: error,
            }
            .into());
        }
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, BoxError> {
        let ok = allowed(self.table_elements, desired, maximum);
        if !ok && self.trap_on_grow_failure {
            return Err(LimitError::Table { desired }.into());
        }
        Ok(ok)
    }

    fn table_grow_failed(&mut self, error: BoxError) -> Result<(), BoxError> {
        if self.trap_on_grow_failure {
            return Err(LimitError::GrowFailed {
                what: "table",
                source: error,
            }
            .into());
        }
        Ok(())
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}
