//! The engine: what stores share, which for Kiln (whose compiler is not in the loader) is the
//! epoch counter that interrupts guest code and the run-time part of Wasmtime's `Config`.

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
    config: Config,
}

/// Settings of an engine's stores: the run-time part of Wasmtime's `Config` (the rest is fixed
/// when an artifact is compiled: `kiln_compiler::CompileOptions`).
#[derive(Clone, Debug, Default)]
pub struct Config {
    memory_reservation: Option<u64>,
}

impl Config {
    /// The default settings.
    pub fn new() -> Config {
        Config::default()
    }

    /// The most address space a linear memory whose code checks bounds explicitly reserves
    /// (64-bit memories, and 32-bit ones compiled with `explicit_bounds_checks`), as Wasmtime's
    /// `Config::memory_reservation`. Such a memory reserves its declared maximum, at most this
    /// (default: 4 GiB for a 32-bit memory, 64 GiB for a 64-bit one); its base never moves, so
    /// it cannot grow past it (`memory.grow` gives -1), and a memory whose minimum size does not
    /// fit cannot be created. Memories whose code relies on guard pages always reserve 4 GiB
    /// plus the guard region.
    pub fn memory_reservation(&mut self, bytes: u64) -> &mut Config {
        self.memory_reservation = Some(bytes);
        self
    }
}

impl Engine {
    /// A new engine with its own epoch counter, starting at 0, and the default [`Config`].
    pub fn new() -> Engine {
        Engine::with_config(&Config::default())
    }

    /// A new engine with `config` (Wasmtime's `Engine::new(&config)`, which Kiln's cannot fail).
    pub fn with_config(config: &Config) -> Engine {
        Engine {
            inner: Arc::new(EngineInner {
                epoch: AtomicU64::new(0),
                config: config.clone(),
            }),
        }
    }

    /// The engine's [`Config::memory_reservation`], if set.
    pub(crate) fn memory_reservation(&self) -> Option<u64> {
        self.inner.config.memory_reservation
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
