//! The store: the owner of instances and of everything they share, and the unit of exclusive
//! access. Guest code runs only through `&mut Store`, so one thread at a time runs guest code of a
//! store, and the store's stack limit belongs to that thread.

use crate::artifact::Artifact;
use crate::instance::InstanceInner;
use kiln_format::vmctx::VMStoreContext;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The default stack budget of guest code: the same as Wasmtime's.
pub const DEFAULT_MAX_WASM_STACK: usize = 512 * 1024;

/// Owns instances and their memories, tables, globals and host functions until it is dropped.
pub struct Store {
    pub(crate) inner: Box<StoreInner>,
}

pub(crate) struct StoreInner {
    pub ctx: VMStoreContext,
    pub id: u64,
    /// Every artifact an instance of this store runs: what the trap handler searches.
    pub artifacts: Vec<Artifact>,
    pub instances: Vec<Arc<InstanceInner>>,
    /// Keeps host functions, memories, tables and globals created through the store alive.
    pub keep_alive: Vec<Arc<dyn std::any::Any + Send + Sync>>,
    pub max_stack: usize,
    /// Host→guest calls in progress.
    pub depth: u32,
}

impl StoreInner {
    /// The address generated code reads the store context at (it never writes it).
    pub(crate) fn ctx_ptr(&self) -> *mut VMStoreContext {
        (&self.ctx as *const VMStoreContext).cast_mut()
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        crate::signals::install_handlers();
        Store {
            inner: Box::new(StoreInner {
                ctx: VMStoreContext { stack_limit: 0 },
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                artifacts: Vec::new(),
                instances: Vec::new(),
                keep_alive: Vec::new(),
                max_stack: DEFAULT_MAX_WASM_STACK,
                depth: 0,
            }),
        }
    }

    /// Sets the stack budget of guest code, in bytes (default 512 KiB). It must fit, with the host
    /// frames above it, in the stack of every thread that calls into this store.
    pub fn set_max_wasm_stack(&mut self, bytes: usize) {
        self.inner.max_stack = bytes;
    }

    /// Number of instances this store owns.
    pub fn instance_count(&self) -> usize {
        self.inner.instances.len()
    }

    pub(crate) fn id(&self) -> u64 {
        self.inner.id
    }

    pub(crate) fn add_artifact(&mut self, artifact: &Artifact) {
        if !self.inner.artifacts.iter().any(|a| a.ptr_eq(artifact)) {
            self.inner.artifacts.push(artifact.clone());
        }
    }
}
