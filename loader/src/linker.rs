//! Linking by name: a [`Linker`] holds definitions for `(module, name)` pairs (host functions not
//! bound to any store, and externs of a store) and instantiates artifacts with them;
//! [`InstancePre`] resolves an artifact's imports once for any number of instantiations.

use crate::artifact::Artifact;
use crate::caller::Caller;
use crate::error::{BoxError, Error, Result};
use crate::extern_::Extern;
use crate::func::{ErasedHostFunc, IntoFunc};
use crate::instance::{instantiate, Import, Instance};
use crate::store::{AsContext, AsContextMut, VMStore};
use crate::types::{ExternType, FuncType};
use crate::values::Val;
use kiln_format::tables::extern_kind;
use rustc_hash::FxHashMap;
use std::marker::PhantomData;
use std::sync::Arc;

/// One definition.
enum Definition {
    /// An extern of a store.
    Extern(Extern),
    /// A host function, bound to a store at instantiation.
    Host(Arc<dyn ErasedHostFunc>),
}

impl Clone for Definition {
    fn clone(&self) -> Self {
        match self {
            Definition::Extern(e) => Definition::Extern(*e),
            Definition::Host(h) => Definition::Host(h.clone()),
        }
    }
}

/// The definitions of one module name, by field name.
type Fields = FxHashMap<Box<[u8]>, Definition>;

/// Definitions by module and field name, for stores of host data `T`.
///
/// Keyed by the names' bytes (the artifact's names need no UTF-8 check to be looked up) with
/// FxHash: instantiation looks every import up, and names are not attacker-chosen keys here.
pub struct Linker<T: 'static> {
    map: FxHashMap<Box<[u8]>, Fields>,
    allow_shadowing: bool,
    _marker: PhantomData<fn(T) -> T>,
}

impl<T: 'static> Clone for Linker<T> {
    fn clone(&self) -> Self {
        Linker {
            map: self.map.clone(),
            allow_shadowing: self.allow_shadowing,
            _marker: PhantomData,
        }
    }
}

impl<T: 'static> Default for Linker<T> {
    fn default() -> Self {
        Linker::new()
    }
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new() -> Linker<T> {
        Linker {
            map: FxHashMap::default(),
            allow_shadowing: false,
            _marker: PhantomData,
        }
    }

    /// Whether a second definition of a name replaces the first (default: it is an error).
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Self {
        self.allow_shadowing = allow;
        self
    }

    fn insert(&mut self, module: &str, name: &str, def: Definition) -> Result<&mut Self> {
        let fields = self.map.entry(module.as_bytes().into()).or_default();
        if !self.allow_shadowing && fields.contains_key(name.as_bytes()) {
            return Err(Error::Link(format!(
                "import of `{module}::{name}` defined twice"
            )));
        }
        fields.insert(name.as_bytes().into(), def);
        Ok(self)
    }

    /// Defines `module.name` as `item`, an extern of `store`.
    pub fn define(
        &mut self,
        store: impl AsContext<Data = T>,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self> {
        let item = item.into();
        store
            .as_context()
            .opaque()
            .check_owns(item.store(), "extern")?;
        self.insert(module, name, Definition::Extern(item))
    }

    /// Defines `module.name` as a host function of type `ty` that sees its arguments and
    /// results as [`Val`]s (see [`crate::Func::new`]).
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        func: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), BoxError> + Send + Sync + 'static,
    ) -> Result<&mut Self> {
        let host = crate::func::host::new_dynamic::<T>(ty, func);
        self.insert(module, name, Definition::Host(host))
    }

    /// Defines `module.name` as a typed host function (see [`crate::Func::wrap`]).
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        func: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Self> {
        let host = crate::func::host::wrap::<T, _, _>(func);
        self.insert(module, name, Definition::Host(host))
    }

    /// Defines every export of `instance` under `module`.
    pub fn instance(
        &mut self,
        mut store: impl AsContextMut<Data = T>,
        module: &str,
        instance: Instance,
    ) -> Result<&mut Self> {
        for (name, ext) in instance.exports(&mut store) {
            self.insert(module, &name, Definition::Extern(ext))?;
        }
        Ok(self)
    }

    /// The definition of `module.name`.
    fn get_bytes(&self, module: &[u8], name: &[u8]) -> Option<&Definition> {
        self.map.get(module)?.get(name)
    }

    /// The extern defined for `module.name`, if it is one (host functions become externs only
    /// when instantiated).
    pub fn get(&self, module: &str, name: &str) -> Option<Extern> {
        match self.get_bytes(module.as_bytes(), name.as_bytes())? {
            Definition::Extern(e) => Some(*e),
            Definition::Host(_) => None,
        }
    }

    /// Defines every function import of `artifact` that nothing defines as a function that traps
    /// when called, with an error naming the import.
    pub fn define_unknown_imports_as_traps(&mut self, artifact: &Artifact) -> Result<()> {
        self.define_unknown_funcs(artifact, |module, name| {
            let message = format!("unknown import `{module}::{name}` was called");
            move |_, _, _| Err(message.clone().into())
        })
    }

    /// Defines every function import of `artifact` that nothing defines as a function that
    /// returns zeros (and nulls).
    pub fn define_unknown_imports_as_default_values(&mut self, artifact: &Artifact) -> Result<()> {
        self.define_unknown_funcs(artifact, |_, _| {
            |_: Caller<'_, T>, _: &[Val], results: &mut [Val]| {
                for r in results.iter_mut() {
                    *r = Val::default_for(r.ty());
                }
                Ok(())
            }
        })
    }

    fn define_unknown_funcs<F>(
        &mut self,
        artifact: &Artifact,
        make: impl Fn(&str, &str) -> F,
    ) -> Result<()>
    where
        F: Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), BoxError> + Send + Sync + 'static,
    {
        for import in artifact.imports()? {
            let ExternType::Func(ty) = import.ty() else {
                continue;
            };
            let (module, name) = (import.module(), import.name());
            if self.get_bytes(module.as_bytes(), name.as_bytes()).is_none() {
                self.func_new(module, name, ty.clone(), make(module, name))?;
            }
        }
        Ok(())
    }

    /// Finds a definition for every import of `artifact`, once, for instantiating it many times
    /// (host functions are checked against their imports now; externs of a store when
    /// instantiated).
    ///
    /// ```
    /// # fn artifact(wat: &str, fuel: bool, epochs: bool) -> kiln_loader::Artifact {
    /// #     let options = kiln_compiler::CompileOptions { fuel, epoch_interruption: epochs, ..Default::default() };
    /// #     let bytes = kiln_compiler::compile(&wat::parse_str(wat).unwrap(), &options).unwrap();
    /// #     let path = std::env::temp_dir().join(format!("kiln-doc-{}-{}.kiln", std::process::id(), line!()));
    /// #     std::fs::write(&path, bytes).unwrap();
    /// #     kiln_loader::Artifact::open(&path).unwrap()
    /// # }
    /// use kiln_loader::{Caller, Linker, Store};
    ///
    /// let artifact = artifact(r#"(module
    ///     (import "env" "add" (func $add (param i32 i32) (result i32)))
    ///     (func (export "run") (result i32) (call $add (i32.const 40) (i32.const 2))))"#, false, false);
    /// let mut linker = Linker::<Vec<i32>>::new();
    /// linker.func_wrap("env", "add", |mut caller: Caller<'_, Vec<i32>>, a: i32, b: i32| {
    ///     caller.data_mut().push(a + b);
    ///     a + b
    /// })?;
    /// let pre = linker.instantiate_pre(&artifact)?;
    /// // One store per request: only the store and the instance are made each time.
    /// for _ in 0..3 {
    ///     let mut store = Store::new(Vec::new());
    ///     let instance = pre.instantiate(&mut store)?;
    ///     let run = instance.get_typed_func::<(), i32>(&mut store, "run")?;
    ///     assert_eq!(run.call(&mut store, ())?, 42);
    ///     assert_eq!(store.into_data(), [42]);
    /// }
    /// # Ok::<(), kiln_loader::Error>(())
    /// ```
    pub fn instantiate_pre(&self, artifact: &Artifact) -> Result<InstancePre<T>> {
        let view = artifact.view()?;
        let mut items = Vec::with_capacity(view.imports().len());
        for (k, imp) in view.imports().iter().enumerate() {
            let (module, name) = (view.str_bytes(imp.module)?, view.str_bytes(imp.name)?);
            let Some(def) = self.get_bytes(module, name) else {
                let (module, name) = crate::instance::import_name(&view, k);
                return Err(Error::Link(format!(
                    "unknown import: `{module}::{name}` has not been defined"
                )));
            };
            // Host functions belong to no store: check them now, once.
            if let Definition::Host(h) = def {
                let ti = imp.type_index.get();
                let want = artifact.type_ids()?.get(ti as usize).copied();
                if imp.kind != extern_kind::FUNC || want != Some(h.canonical_type()) {
                    let (module, name) = crate::instance::import_name(&view, k);
                    let expected = match artifact.imports()?.get(k) {
                        Some(i) => i.ty().to_string(),
                        None => "?".into(),
                    };
                    return Err(Error::Link(format!(
                        "incompatible import type for {module}.{name}: expected {expected}, found {}",
                        h.ty()
                    )));
                }
            }
            items.push(def.clone());
        }
        Ok(InstancePre {
            artifact: artifact.clone(),
            items: Arc::new(items),
            _marker: PhantomData,
        })
    }

    /// Instantiates `artifact` in `store` with this linker's definitions.
    pub fn instantiate(
        &self,
        store: impl AsContextMut<Data = T>,
        artifact: &Artifact,
    ) -> Result<Instance> {
        self.instantiate_pre(artifact)?.instantiate(store)
    }
}

/// An artifact with its imports resolved by a [`Linker`]: instantiating it looks nothing up.
pub struct InstancePre<T: 'static> {
    artifact: Artifact,
    items: Arc<Vec<Definition>>,
    _marker: PhantomData<fn(T) -> T>,
}

impl<T: 'static> Clone for InstancePre<T> {
    fn clone(&self) -> Self {
        InstancePre {
            artifact: self.artifact.clone(),
            items: self.items.clone(),
            _marker: PhantomData,
        }
    }
}

impl<T: 'static> InstancePre<T> {
    /// The artifact.
    pub fn artifact(&self) -> &Artifact {
        &self.artifact
    }

    /// Instantiates the artifact in `store`.
    pub fn instantiate(&self, mut store: impl AsContextMut<Data = T>) -> Result<Instance> {
        let mut hosts = false;
        let imports: Vec<Import<'_>> = self
            .items
            .iter()
            .map(|def| match def {
                Definition::Extern(e) => Import::Extern(*e),
                Definition::Host(h) => {
                    hosts = true;
                    Import::Host(h)
                }
            })
            .collect();
        let store: &mut (dyn VMStore + 'static) = store.as_context_mut().into_inner();
        let instance = instantiate(store, &self.artifact, &imports)?;
        if hosts {
            // The instance calls these host functions: the store keeps them alive.
            let items: Arc<dyn std::any::Any + Send + Sync> = self.items.clone();
            store.opaque_mut().keep_alive.push(items);
        }
        Ok(instance)
    }
}
