//! What an instance imports: externs by module and field name.

use crate::func::Func;
use crate::global::Global;
use crate::memory::Memory;
use crate::table::Table;
use std::collections::HashMap;

/// Something an instance can import or export.
#[derive(Clone)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A table.
    Table(Table),
    /// A linear memory.
    Memory(Memory),
    /// A global.
    Global(Global),
}

impl Extern {
    /// The kind's name, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Extern::Func(_) => "function",
            Extern::Table(_) => "table",
            Extern::Memory(_) => "memory",
            Extern::Global(_) => "global",
        }
    }
}

/// A set of named externs to instantiate with.
#[derive(Clone, Default)]
pub struct Imports {
    /// Module name → field name → extern; two levels so that lookups need no allocation.
    map: HashMap<String, HashMap<String, Extern>>,
}

impl Imports {
    /// An empty set.
    pub fn new() -> Imports {
        Imports::default()
    }

    /// Defines `module.name`, replacing any previous definition.
    pub fn define(&mut self, module: &str, name: &str, item: Extern) -> &mut Self {
        self.map
            .entry(module.to_string())
            .or_default()
            .insert(name.to_string(), item);
        self
    }

    /// Looks `module.name` up.
    pub fn get(&self, module: &str, name: &str) -> Option<&Extern> {
        self.map.get(module)?.get(name)
    }
}
