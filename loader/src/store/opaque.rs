//! The part of a store that does not depend on its host data type: every entity it owns, the
//! run-time state generated code reads, and the artifacts its code may run.

use crate::artifact::Artifact;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::func::HostFuncEntry;
use crate::global::HostGlobal;
use crate::instance::InstanceData;
use crate::limits::{DEFAULT_INSTANCE_LIMIT, DEFAULT_MEMORY_LIMIT, DEFAULT_TABLE_LIMIT};
use crate::memory::MemoryData;
use crate::send_sync::SendSyncPtr;
use crate::table::TableData;
use kiln_format::header::{FLAG_EPOCH_INTERRUPTION, FLAG_FUEL};
use kiln_format::vmctx::VMStoreContext;
use rustc_hash::FxHashMap;
use std::any::{Any, TypeId};
use std::num::NonZeroU64;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A store's identity: unique in the process for its whole life, never reused, so that a handle
/// of a dropped store matches no live one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StoreId(NonZeroU64);

impl StoreId {
    fn next() -> StoreId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        // 2^64 stores cannot be made: this never wraps to 0.
        StoreId(NonZeroU64::new(id).unwrap_or(NonZeroU64::MAX))
    }
}

/// The counts a [`crate::ResourceLimiter`] allows, read when it is installed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CountLimits {
    pub instances: usize,
    pub tables: usize,
    pub memories: usize,
}

/// Everything a store owns, whatever its host data type.
pub(crate) struct StoreOpaque {
    pub id: StoreId,
    pub engine: Engine,
    /// The run-time state generated code reads and writes (a leaked box, freed on drop): raw,
    /// because guest code writes it while the host holds the store.
    vm: SendSyncPtr<VMStoreContext>,
    /// The artifacts whose code this store's instances run, which the trap handler searches (a
    /// leaked box, freed on drop): raw, because the handler reads it during guest calls.
    code: SendSyncPtr<Vec<Artifact>>,
    pub instances: Vec<InstanceData>,
    pub memories: Vec<MemoryData>,
    pub tables: Vec<TableData>,
    pub globals: Vec<HostGlobal>,
    pub host_funcs: Vec<HostFuncEntry>,
    pub externrefs: Vec<Box<dyn Any + Send + Sync>>,
    /// Exception tags: those instances defined, and those the host made.
    pub tags: Vec<crate::exn::TagData>,
    /// Exception objects.
    pub exns: crate::exn::ExnArena,
    /// Host functions that instances import from a linker or an `InstancePre`.
    pub keep_alive: Vec<Arc<dyn Any + Send + Sync>>,
    /// Entry trampolines found by canonical type id, for calls through function references.
    pub entry_trampolines: FxHashMap<u32, SendSyncPtr<u8>>,
    pub max_stack: usize,
    /// Host→guest calls in progress.
    pub depth: u32,
    /// `set_fuel` was called: every artifact must meter fuel.
    pub fuel_enabled: bool,
    /// An epoch deadline was set: every artifact must check it.
    pub epochs_enabled: bool,
    pub limits: CountLimits,
    /// Tables and memories the store's instances defined (for the limits).
    pub own_tables: usize,
    pub own_memories: usize,
    /// `TypeId` of the host data type, checked by host functions before they downcast.
    pub data_type: TypeId,
}

/// The default stack budget of guest code: the same as Wasmtime's.
pub const DEFAULT_MAX_WASM_STACK: usize = 512 * 1024;

impl StoreOpaque {
    pub(crate) fn new(engine: Engine, data_type: TypeId) -> StoreOpaque {
        let vm = Box::new(VMStoreContext {
            stack_limit: 0,
            fuel_consumed: 0,
            // As in Wasmtime: code compiled with epoch checks traps until a deadline is set.
            epoch_deadline: 0,
            epoch_counter: engine.epoch_counter(),
        });
        StoreOpaque {
            id: StoreId::next(),
            engine,
            vm: SendSyncPtr::new(NonNull::from(Box::leak(vm))),
            code: SendSyncPtr::new(NonNull::from(Box::leak(Box::default()))),
            instances: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            host_funcs: Vec::new(),
            externrefs: Vec::new(),
            tags: Vec::new(),
            exns: Default::default(),
            keep_alive: Vec::new(),
            entry_trampolines: FxHashMap::default(),
            max_stack: DEFAULT_MAX_WASM_STACK,
            depth: 0,
            fuel_enabled: false,
            epochs_enabled: false,
            limits: CountLimits {
                instances: DEFAULT_INSTANCE_LIMIT,
                tables: DEFAULT_TABLE_LIMIT,
                memories: DEFAULT_MEMORY_LIMIT,
            },
            own_tables: 0,
            own_memories: 0,
            data_type,
        }
    }

    /// The store context generated code reads.
    pub(crate) fn vm_ptr(&self) -> *mut VMStoreContext {
        self.vm.as_ptr()
    }

    /// Reads the store context.
    fn vm(&self) -> &VMStoreContext {
        // SAFETY: the box lives as long as the store; guest code, the only other writer, runs
        // only inside a call that holds the store exclusively, so not while `&self` is used.
        unsafe { &*self.vm.as_ptr() }
    }

    /// Writes the store context.
    fn vm_mut(&mut self) -> &mut VMStoreContext {
        // SAFETY: as for `vm`, with `&mut self`.
        unsafe { &mut *self.vm.as_ptr() }
    }

    /// Sets the stack limit guest code checks.
    pub(crate) fn set_stack_limit(&mut self, limit: usize) {
        self.vm_mut().stack_limit = limit;
    }

    /// The list of artifacts the trap handler searches, for an activation.
    #[inline]
    pub(crate) fn code_ptr(&self) -> *const Vec<Artifact> {
        self.code.as_ptr()
    }

    /// The artifacts this store's code comes from.
    pub(crate) fn artifacts(&self) -> &[Artifact] {
        // SAFETY: the box lives as long as the store and is only changed through `&mut self`
        // (`add_artifact`).
        unsafe { &*self.code.as_ptr() }
    }

    /// Adds `artifact` to the artifacts the trap handler searches, once.
    pub(crate) fn add_artifact(&mut self, artifact: &Artifact) {
        if self.artifacts().iter().any(|a| a.ptr_eq(artifact)) {
            return;
        }
        // SAFETY: `&mut self` excludes every other access: the trap handler reads the list only
        // while guest code of this store runs, which needs the store.
        unsafe { (*self.code.as_ptr()).push(artifact.clone()) };
    }

    /// Fails unless `store` is this store.
    #[inline]
    pub(crate) fn check_owns(&self, store: StoreId, what: &'static str) -> Result<()> {
        if store == self.id {
            Ok(())
        } else {
            Err(Error::ForeignStore(what))
        }
    }

    /// Panics unless `store` is this store: for accessors that cannot fail, as in Wasmtime.
    pub(crate) fn assert_owns(&self, store: StoreId, what: &'static str) {
        assert!(
            store == self.id,
            "a {what} was used with a store that does not own it"
        );
    }

    /// Fails if this store meters fuel or sets epoch deadlines and `artifact` was not compiled
    /// for it.
    pub(crate) fn check_interruption(&self, artifact: &Artifact) -> Result<()> {
        let flags = artifact.view()?.header().flags.get();
        let missing = |what: &str, option: &str| {
            Error::Config(format!(
                "the store {what}, but {} was compiled without it: recompile it with `kiln compile {option}`",
                artifact.path().display()
            ))
        };
        if self.fuel_enabled && flags & FLAG_FUEL == 0 {
            return Err(missing("meters fuel", "--fuel"));
        }
        if self.epochs_enabled && flags & FLAG_EPOCH_INTERRUPTION == 0 {
            return Err(missing("has an epoch deadline", "--epoch-interruption"));
        }
        Ok(())
    }

    /// Sets the fuel left (see [`crate::Store::set_fuel`]).
    pub(crate) fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        let was = self.fuel_enabled;
        self.fuel_enabled = true;
        if let Err(e) = self.check_all_instances() {
            self.fuel_enabled = was;
            return Err(e);
        }
        let fuel = i64::try_from(fuel).unwrap_or(i64::MAX);
        self.vm_mut().fuel_consumed = -fuel;
        Ok(())
    }

    /// The fuel left (see [`crate::Store::get_fuel`]).
    pub(crate) fn get_fuel(&self) -> Result<u64> {
        if !self.fuel_enabled {
            return Err(Error::Config(
                "fuel is not enabled in this store: call `set_fuel` first".into(),
            ));
        }
        let consumed = self.vm().fuel_consumed;
        Ok(consumed.checked_neg().map_or(0, |left| left.max(0) as u64))
    }

    /// Sets the epoch deadline `ticks` beyond the engine's current epoch.
    pub(crate) fn set_epoch_deadline(&mut self, ticks: u64) -> Result<()> {
        self.enable_epochs()?;
        let deadline = self.engine.current_epoch().saturating_add(ticks);
        self.vm_mut().epoch_deadline = deadline;
        Ok(())
    }

    /// Marks the store as using epoch deadlines, which every instance must check.
    pub(crate) fn enable_epochs(&mut self) -> Result<()> {
        let was = self.epochs_enabled;
        self.epochs_enabled = true;
        if let Err(e) = self.check_all_instances() {
            self.epochs_enabled = was;
            return Err(e);
        }
        Ok(())
    }

    fn check_all_instances(&self) -> Result<()> {
        self.instances
            .iter()
            .try_for_each(|i| self.check_interruption(&i.artifact))
    }
}

impl Drop for StoreOpaque {
    fn drop(&mut self) {
        // Instances, memories and tables go first (their fields); these two boxes were leaked in
        // `new` and nothing can run guest code any more.
        // SAFETY: both were leaked from boxes in `new` and are freed exactly once, here.
        unsafe {
            drop(Box::from_raw(self.vm.as_ptr()));
            drop(Box::from_raw(self.code.as_ptr()));
        }
    }
}
