//! What an instance imports: externs by module and field name.

use crate::func::Func;
use crate::global::Global;
use crate::memory::Memory;
use crate::table::Table;
use rustc_hash::FxHashMap;

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
///
/// Keyed by the names' bytes (the artifact's names need no UTF-8 check to be looked up) with
/// FxHash: instantiation looks every import up, and names are not attacker-chosen keys here.
#[derive(Clone, Default)]
pub struct Imports {
    map: FxHashMap<Box<[u8]>, Fields>,
}

/// The externs of one module name, by field name.
type Fields = FxHashMap<Box<[u8]>, Extern>;

impl Imports {
    /// An empty set.
    pub fn new() -> Imports {
        Imports::default()
    }

    /// Defines `module.name`, replacing any previous definition.
    pub fn define(&mut self, module: &str, name: &str, item: Extern) -> &mut Self {
        self.map
            .entry(module.as_bytes().into())
            .or_default()
            .insert(name.as_bytes().into(), item);
        self
    }

    /// Looks `module.name` up.
    pub fn get(&self, module: &str, name: &str) -> Option<&Extern> {
        self.get_bytes(module.as_bytes(), name.as_bytes())
    }

    /// Looks `module.name` up by the names' bytes.
    pub(crate) fn get_bytes(&self, module: &[u8], name: &[u8]) -> Option<&Extern> {
        self.map.get(module)?.get(name)
    }
}
