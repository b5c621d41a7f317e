//! The store: the owner of instances and of everything they create or share, of the host's data
//! for them, and the unit of exclusive access. Guest state (memories, tables, globals) is
//! reached only through a store borrow ([`AsContext`], [`AsContextMut`]), and guest code runs only
//! through an exclusive one, so one thread at a time runs guest code of a store and no host
//! reference into guest state lives across a guest call.
//!
//! [`opaque`] holds what does not depend on the host data type; [`context`] the borrow traits;
//! the limiter and the epoch callback, which do, live in [`StoreInner`], reached from generated
//! code's calls through [`VMStore`].

mod context;
mod opaque;

pub use context::{AsContext, AsContextMut, StoreContext, StoreContextMut};
pub use opaque::DEFAULT_MAX_WASM_STACK;
pub(crate) use opaque::{StoreId, StoreOpaque};

use crate::engine::Engine;
use crate::error::{BoxError, Result};
use crate::limits::ResourceLimiter;
use std::any::TypeId;

/// What to do when a store's epoch deadline passes (the return value of an
/// [`epoch_deadline_callback`](Store::epoch_deadline_callback)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpdateDeadline {
    /// Trap with [`TrapKind::Interrupt`](crate::TrapKind::Interrupt).
    Interrupt,
    /// Set the deadline this many ticks beyond the current epoch and go on.
    Continue(u64),
}

type Limiter<T> = Box<dyn (FnMut(&mut T) -> &mut dyn ResourceLimiter) + Send + Sync>;
type EpochCallback<T> =
    Box<dyn FnMut(StoreContextMut<'_, T>) -> Result<UpdateDeadline, BoxError> + Send + Sync>;

/// Owns instances, their memories, tables, globals and host functions, and host data of type
/// `T`, until it is dropped.
///
/// A store is `Send` (and `Sync`) when `T` is: it can move to another thread between calls. Every
/// entity it owns is named by a handle ([`Instance`](crate::Instance), [`Func`](crate::Func),
/// [`Memory`](crate::Memory), ...) that is only an index: using a handle with another store is an
/// error (or, for accessors that cannot fail, a panic), never undefined behaviour.
///
/// # Soundness by borrowing
///
/// Guest state is reached only through a borrow of the store, so the borrow checker rules out what
/// would be undefined behaviour. Two live mutable views of one memory do not compile:
///
/// ```compile_fail,E0499
/// # fn f(mut store: kiln_loader::Store<()>, memory: kiln_loader::Memory) {
/// let a = memory.data_mut(&mut store);
/// let b = memory.data_mut(&mut store);
/// a[0] = b[0];
/// # }
/// ```
///
/// Nor does a view of guest memory kept across a guest call (which may write or grow it):
///
/// ```compile_fail,E0502
/// # fn f(mut store: kiln_loader::Store<()>, memory: kiln_loader::Memory, func: kiln_loader::Func) {
/// let data = memory.data(&store);
/// func.call(&mut store, &[], &mut []).unwrap();
/// println!("{}", data[0]);
/// # }
/// ```
///
/// Nor reading a global on another thread while guest code runs:
///
/// ```compile_fail,E0499
/// # fn f(mut store: kiln_loader::Store<()>, g: kiln_loader::Global, func: kiln_loader::Func) {
/// std::thread::scope(|s| {
///     s.spawn(|| g.get(&mut store));
///     func.call(&mut store, &[], &mut []).unwrap();
/// });
/// # }
/// ```
///
/// Nor a view that outlives its store:
///
/// ```compile_fail,E0505
/// # fn f(store: kiln_loader::Store<()>, memory: kiln_loader::Memory) {
/// let data = memory.data(&store);
/// drop(store);
/// println!("{}", data[0]);
/// # }
/// ```
///
/// What the borrow checker cannot see, the store checks: a reference or handle of another store
/// (even of one since dropped) is refused with [`Error::ForeignStore`](crate::Error::ForeignStore).
pub struct Store<T: 'static> {
    /// Boxed, so that the store's address (which guest calls reach it by) does not change when
    /// the `Store` moves.
    pub(crate) inner: Box<StoreInner<T>>,
}

/// A store's contents.
pub(crate) struct StoreInner<T: 'static> {
    pub(crate) opaque: StoreOpaque,
    limiter: Option<Limiter<T>>,
    epoch_callback: Option<EpochCallback<T>>,
    pub(crate) data: T,
}

/// How a host call made by generated code (a builtin, a host function) reaches its store, whatever
/// the host data type: the parts of a store that need `T`.
pub(crate) trait VMStore {
    fn opaque(&self) -> &StoreOpaque;
    fn opaque_mut(&mut self) -> &mut StoreOpaque;
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, BoxError>;
    fn memory_grow_failed(&mut self, error: BoxError) -> Result<(), BoxError>;
    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, BoxError>;
    fn table_grow_failed(&mut self, error: BoxError) -> Result<(), BoxError>;
    /// The epoch deadline passed: what the store's callback (or the default, trapping) says.
    fn epoch_deadline_reached(&mut self) -> Result<UpdateDeadline, BoxError>;
}

impl<T: 'static> StoreInner<T> {
    /// The store's resource limiter, found in the host data, if one was installed.
    fn limiter(&mut self) -> Option<&mut dyn ResourceLimiter> {
        let data = &mut self.data;
        self.limiter.as_mut().map(|l| l(data))
    }
}

impl<T: 'static> VMStore for StoreInner<T> {
    #[inline]
    fn opaque(&self) -> &StoreOpaque {
        &self.opaque
    }

    #[inline]
    fn opaque_mut(&mut self) -> &mut StoreOpaque {
        &mut self.opaque
    }

    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, BoxError> {
        self.limiter()
            .map_or(Ok(true), |l| l.memory_growing(current, desired, maximum))
    }

    fn memory_grow_failed(&mut self, error: BoxError) -> Result<(), BoxError> {
        self.limiter()
            .map_or(Ok(()), |l| l.memory_grow_failed(error))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, BoxError> {
        self.limiter()
            .map_or(Ok(true), |l| l.table_growing(current, desired, maximum))
    }

    fn table_grow_failed(&mut self, error: BoxError) -> Result<(), BoxError> {
        self.limiter()
            .map_or(Ok(()), |l| l.table_grow_failed(error))
    }

    fn epoch_deadline_reached(&mut self) -> Result<UpdateDeadline, BoxError> {
        // The callback borrows the whole store: take it out while it runs.
        let Some(mut callback) = self.epoch_callback.take() else {
            return Ok(UpdateDeadline::Interrupt);
        };
        let update = callback(StoreContextMut(self));
        // Unless the callback installed another one meanwhile.
        self.epoch_callback.get_or_insert(callback);
        update
    }
}

impl<T: 'static> Store<T> {
    /// A store holding `data`, on the process's default [`Engine`].
    pub fn new(data: T) -> Store<T> {
        Store::with_engine(&Engine::default(), data)
    }

    /// A store holding `data` whose epoch is `engine`'s.
    pub fn with_engine(engine: &Engine, data: T) -> Store<T> {
        crate::signals::install_handlers();
        Store {
            inner: Box::new(StoreInner {
                opaque: StoreOpaque::new(engine.clone(), TypeId::of::<T>()),
                limiter: None,
                epoch_callback: None,
                data,
            }),
        }
    }

    /// The host data.
    pub fn data(&self) -> &T {
        &self.inner.data
    }

    /// The host data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner.data
    }

    /// The host data, and the store gone.
    pub fn into_data(self) -> T {
        let inner = *self.inner;
        inner.data
    }

    /// The engine whose epoch this store follows.
    pub fn engine(&self) -> &Engine {
        &self.inner.opaque.engine
    }

    /// Installs a resource limiter: `limiter` finds it in the host data. Its instance, table and
    /// memory counts are read now.
    ///
    /// ```
    /// # fn artifact(wat: &str, fuel: bool, epochs: bool) -> kiln_loader::Artifact {
    /// #     let options = kiln_compiler::CompileOptions { fuel, epoch_interruption: epochs, ..Default::default() };
    /// #     let bytes = kiln_compiler::compile(&wat::parse_str(wat).unwrap(), &options).unwrap();
    /// #     let path = std::env::temp_dir().join(format!("kiln-doc-{}-{}.kiln", std::process::id(), line!()));
    /// #     std::fs::write(&path, bytes).unwrap();
    /// #     kiln_loader::Artifact::open(&path).unwrap()
    /// # }
    /// use kiln_loader::{Instance, Store, StoreLimits, StoreLimitsBuilder};
    ///
    /// let artifact = artifact(r#"(module (memory 1)
    ///     (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#, false, false);
    /// let limits = StoreLimitsBuilder::new().memory_size(4 * 65536).build();
    /// let mut store = Store::new(limits);
    /// store.limiter(|limits: &mut StoreLimits| limits);
    /// let instance = Instance::new(&mut store, &artifact, &[])?;
    /// let grow = instance.get_typed_func::<i32, i32>(&mut store, "grow")?;
    /// assert_eq!(grow.call(&mut store, 3)?, 1);
    /// assert_eq!(grow.call(&mut store, 1)?, -1); // past the limit: refused
    /// # Ok::<(), kiln_loader::Error>(())
    /// ```
    pub fn limiter(
        &mut self,
        mut limiter: impl (FnMut(&mut T) -> &mut dyn ResourceLimiter) + Send + Sync + 'static,
    ) {
        let inner = &mut *self.inner;
        let l = limiter(&mut inner.data);
        inner.opaque.limits = opaque::CountLimits {
            instances: l.instances(),
            tables: l.tables(),
            memories: l.memories(),
        };
        inner.limiter = Some(Box::new(limiter));
    }

    /// Sets the fuel guest code may consume: each operator costs 1 (nops, drops and block
    /// markers 0, function entries 1), checked at function entries and loop headers; when it runs
    /// out the code traps with [`TrapKind::OutOfFuel`](crate::TrapKind::OutOfFuel). A new store
    /// has no fuel. Every artifact of the store must be compiled with `kiln compile --fuel`:
    /// otherwise this, or instantiating it afterwards, is an error that says so.
    ///
    /// ```
    /// # fn artifact(wat: &str, fuel: bool, epochs: bool) -> kiln_loader::Artifact {
    /// #     let options = kiln_compiler::CompileOptions { fuel, epoch_interruption: epochs, ..Default::default() };
    /// #     let bytes = kiln_compiler::compile(&wat::parse_str(wat).unwrap(), &options).unwrap();
    /// #     let path = std::env::temp_dir().join(format!("kiln-doc-{}-{}.kiln", std::process::id(), line!()));
    /// #     std::fs::write(&path, bytes).unwrap();
    /// #     kiln_loader::Artifact::open(&path).unwrap()
    /// # }
    /// use kiln_loader::{Instance, Store, TrapKind};
    ///
    /// let artifact = artifact(r#"(module (func (export "spin") (loop (br 0))))"#, true, false);
    /// let mut store = Store::new(());
    /// store.set_fuel(1_000_000)?;
    /// let instance = Instance::new(&mut store, &artifact, &[])?;
    /// let err = instance.call(&mut store, "spin", &[]).unwrap_err();
    /// assert_eq!(err.as_trap().unwrap().kind, TrapKind::OutOfFuel);
    /// assert_eq!(store.get_fuel()?, 0);
    /// # Ok::<(), kiln_loader::Error>(())
    /// ```
    pub fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.inner.opaque.set_fuel(fuel)
    }

    /// The fuel left; an error if [`Store::set_fuel`] was never called.
    pub fn get_fuel(&self) -> Result<u64> {
        self.inner.opaque.get_fuel()
    }

    /// Sets the epoch deadline `ticks_beyond_current` ticks after the engine's current epoch
    /// (see [`Engine::increment_epoch`]). When guest code finds the epoch at or past it (at a
    /// function entry or loop header), the store's deadline behaviour runs: by default a trap
    /// with [`TrapKind::Interrupt`](crate::TrapKind::Interrupt). A new store's deadline is 0, so
    /// code compiled with epoch checks traps until a deadline is set (as in Wasmtime). Every
    /// artifact of the store must be compiled with `kiln compile --epoch-interruption`.
    ///
    /// ```
    /// # fn artifact(wat: &str, fuel: bool, epochs: bool) -> kiln_loader::Artifact {
    /// #     let options = kiln_compiler::CompileOptions { fuel, epoch_interruption: epochs, ..Default::default() };
    /// #     let bytes = kiln_compiler::compile(&wat::parse_str(wat).unwrap(), &options).unwrap();
    /// #     let path = std::env::temp_dir().join(format!("kiln-doc-{}-{}.kiln", std::process::id(), line!()));
    /// #     std::fs::write(&path, bytes).unwrap();
    /// #     kiln_loader::Artifact::open(&path).unwrap()
    /// # }
    /// use kiln_loader::{Engine, Instance, Store, TrapKind};
    ///
    /// let artifact = artifact(r#"(module (func (export "spin") (loop (br 0))))"#, false, true);
    /// let engine = Engine::new();
    /// let mut store = Store::with_engine(&engine, ());
    /// store.set_epoch_deadline(1)?;
    /// let instance = Instance::new(&mut store, &artifact, &[])?;
    /// // A deadline from another thread: the guest stops at its next loop header.
    /// let timer = std::thread::spawn(move || {
    ///     std::thread::sleep(std::time::Duration::from_millis(20));
    ///     engine.increment_epoch();
    /// });
    /// let err = instance.call(&mut store, "spin", &[]).unwrap_err();
    /// assert_eq!(err.as_trap().unwrap().kind, TrapKind::Interrupt);
    /// timer.join().unwrap();
    /// # Ok::<(), kiln_loader::Error>(())
    /// ```
    pub fn set_epoch_deadline(&mut self, ticks_beyond_current: u64) -> Result<()> {
        self.inner.opaque.set_epoch_deadline(ticks_beyond_current)
    }

    /// When the deadline passes, trap (the default).
    pub fn epoch_deadline_trap(&mut self) {
        self.inner.epoch_callback = None;
    }

    /// When the deadline passes, call `callback`: it returns whether to trap or to go on with a
    /// new deadline, or an error, which the guest traps with.
    pub fn epoch_deadline_callback(
        &mut self,
        callback: impl FnMut(StoreContextMut<'_, T>) -> Result<UpdateDeadline, BoxError>
            + Send
            + Sync
            + 'static,
    ) -> Result<()> {
        self.inner.opaque.enable_epochs()?;
        self.inner.epoch_callback = Some(Box::new(callback));
        Ok(())
    }

    /// Sets the stack budget of guest code, in bytes (default 512 KiB). It must fit, with the host
    /// frames above it, in the stack of every thread that calls into this store.
    pub fn set_max_wasm_stack(&mut self, bytes: usize) {
        self.inner.opaque.max_stack = bytes;
    }

    /// Number of instances this store owns.
    pub fn instance_count(&self) -> usize {
        self.inner.opaque.instances.len()
    }
}

impl<T: Default + 'static> Default for Store<T> {
    fn default() -> Self {
        Store::new(T::default())
    }
}

impl<T: 'static> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("instances", &self.inner.opaque.instances.len())
            .finish_non_exhaustive()
    }
}
