//! The engine: what stores share, which for Kiln (whose compiler is not in the loader) is the
//! epoch counter that interrupts guest code.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Shared state of a group of stores: the epoch counter. Cheap to clone (a reference count).
///
/// Unlike Wasmtime's, a Kiln engine holds no compiler configuration: artifacts are compiled
/// ahead of time and carry their settings. [`Store::new`](crate::Store::new) uses the process's
/// default engine ([`Engine::default`]); [`Store::with_engine`](crate::Store::with_engine) another.
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

#[derive(Debug)]
struct EngineInner {
    /// The epoch: guest code compiled with epoch interruption compares it with its store's
    /// deadline at function entries and loop headers.
    epoch: AtomicU64,
}

impl Engine {
    /// A new engine with its own epoch counter, starting at 0.
    pub fn new() -> Engine {
        Engine {
            inner: Arc::new(EngineInner {
                epoch: AtomicU64::new(0),
            }),
        }
    }

    /// Advances the epoch by one. Any thread may call it, at any time (it is one atomic add, so
    /// it may also be called from a signal handler): stores whose deadline it reaches interrupt
    /// their guest code at its next function entry or loop header.
    pub fn increment_epoch(&self) {
        self.inner.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// The current epoch.
    pub fn current_epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Relaxed)
    }

    /// Whether two handles are the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// The counter generated code reads (an `AtomicU64` has the layout of a `u64`).
    pub(crate) fn epoch_counter(&self) -> *const u64 {
        self.inner.epoch.as_ptr().cast_const()
    }
}

impl Default for Engine {
    /// The process's default engine: every call returns a handle to the same one.
    fn default() -> Engine {
        static DEFAULT: OnceLock<Engine> = OnceLock::new();
        DEFAULT.get_or_init(Engine::new).clone()
    }
}
