//! Parsing and validation: a WebAssembly binary becomes a [`ModuleInfo`], the facts about the module
//! that translation, code generation and emission need.

use crate::error::CompileError;
use kiln_format::tables::NO_FUNC_REF;
use kiln_format::vmctx::{VmctxCounts, VmctxLayout};
use kiln_format::EntityIndex;
use std::collections::BTreeMap;
use wasmparser::{
    CompositeInnerType, DataKind, ElementItems, ElementKind, ExternalKind, FuncType, FunctionBody,
    GlobalType, MemoryType, Name, Parser, Payload, RefType, SubType, TableType, TypeRef, Validator,
    WasmFeatures,
};

/// The WebAssembly features Kiln compiles: WebAssembly 2.0, and of 3.0 tail calls, extended
/// constant expressions, relaxed SIMD, multiple memories, 64-bit memories and tables, typed
/// function references and exception handling.
pub fn supported_features() -> WasmFeatures {
    crate::options::WasmFeatures::ALL.to_wasmparser()
}

/// An import.
#[derive(Debug, Clone)]
pub struct ImportInfo<'a> {
    /// Module name.
    pub module: &'a str,
    /// Field name.
    pub name: &'a str,
    /// What is imported.
    pub ty: TypeRef,
    /// Index in the kind's index space.
    pub index: u32,
}

/// A table.
#[derive(Debug, Clone)]
pub struct TableInfo<'a> {
    /// Its type.
    pub ty: TableType,
    /// Initial element expression of a defined table (typed function references), if any.
    pub init: Option<&'a [u8]>,
}

/// A global.
#[derive(Debug, Clone)]
pub struct GlobalInfo<'a> {
    /// Its type.
    pub ty: GlobalType,
    /// Initializer bytes of a defined global.
    pub init: Option<&'a [u8]>,
}

/// Items of an element segment.
#[derive(Debug, Clone)]
pub enum ElemItems<'a> {
    /// Function indices.
    Funcs(Vec<u32>),
    /// Constant expressions (bytes ending in `end`).
    Exprs(Vec<&'a [u8]>),
}

/// An element segment.
#[derive(Debug, Clone)]
pub struct ElemInfo<'a> {
    /// `Some((table, offset expression))` for an active segment.
    pub active: Option<(u32, &'a [u8])>,
    /// Declared (only for `ref.func`).
    pub declared: bool,
    /// Element type.
    pub ty: RefType,
    /// Items.
    pub items: ElemItems<'a>,
}

/// A data segment.
#[derive(Debug, Clone)]
pub struct DataInfo<'a> {
    /// `Some((memory, offset expression))` for an active segment.
    pub active: Option<(u32, &'a [u8])>,
    /// The bytes.
    pub bytes: &'a [u8],
}

/// A type of the type section.
#[derive(Debug, Clone)]
pub struct TypeDef {
    /// The type: a function, struct or array type, its supertype (a module type index) and
    /// finality.
    pub sub: SubType,
    /// Index of the first type of its recursion group.
    pub rec_group: u32,
    /// Number of types in its recursion group.
    pub rec_group_len: u32,
}

impl TypeDef {
    /// The function type, if it is one.
    pub fn as_func(&self) -> Option<&FuncType> {
        match &self.sub.composite_type.inner {
            CompositeInnerType::Func(f) => Some(f),
            _ => None,
        }
    }
}

/// Everything about a module that later stages need. Index spaces include imports first.
#[derive(Debug, Default)]
pub struct ModuleInfo<'a> {
    /// The types of the type section, in index order.
    pub types: Vec<TypeDef>,
    /// Type index of every function.
    pub funcs: Vec<u32>,
    /// Number of imported functions.
    pub imported_funcs: u32,
    /// Imports in module order.
    pub imports: Vec<ImportInfo<'a>>,
    /// Tables.
    pub tables: Vec<TableInfo<'a>>,
    /// Imported tables.
    pub imported_tables: u32,
    /// Memories.
    pub memories: Vec<MemoryType>,
    /// Imported memories.
    pub imported_memories: u32,
    /// Globals.
    pub globals: Vec<GlobalInfo<'a>>,
    /// Imported globals.
    pub imported_globals: u32,
    /// Type index of every exception tag.
    pub tags: Vec<u32>,
    /// Imported tags.
    pub imported_tags: u32,
    /// Exports in module order.
    pub exports: Vec<(&'a str, ExternalKind, u32)>,
    /// Start function.
    pub start: Option<u32>,
    /// Element segments.
    pub elements: Vec<ElemInfo<'a>>,
    /// Data segments.
    pub data: Vec<DataInfo<'a>>,
    /// Bodies of the defined functions.
    pub bodies: Vec<FunctionBody<'a>>,
    /// Names from the name section, by function index.
    pub func_names: BTreeMap<u32, &'a str>,
    /// Module name from the name section.
    pub module_name: Option<&'a str>,
    /// Functions named by `ref.func` in a constant expression (globals, element expressions,
    /// table initializers).
    pub const_ref_funcs: Vec<u32>,
    /// `VMFuncRef` slot of every function, or [`NO_FUNC_REF`] (see [`ModuleInfo::func_refs`]).
    pub func_ref_slots: Vec<u32>,
    /// `VMFuncRef` slots: imported functions first (slot = index), then, in index order, each
    /// defined function that can be referenced: exported, in an element segment, or named in a
    /// constant expression. Validation restricts `ref.func` in code to exactly these functions
    /// (the spec's C.refs); all others are only called directly and need no `VMFuncRef`.
    pub func_refs: u32,
}

impl<'a> ModuleInfo<'a> {
    /// Validates `wasm` with every feature Kiln compiles and collects its facts.
    pub fn parse(wasm: &'a [u8]) -> Result<ModuleInfo<'a>, CompileError> {
        ModuleInfo::parse_with_features(wasm, crate::options::WasmFeatures::ALL)
    }

    /// Validates `wasm`, which may use `features`, and collects its facts.
    pub fn parse_with_features(
        wasm: &'a [u8],
        features: crate::options::WasmFeatures,
    ) -> Result<ModuleInfo<'a>, CompileError> {
        Validator::new_with_features(features.to_wasmparser()).validate_all(wasm)?;
        let mut m = ModuleInfo::default();
        for payload in Parser::new(0).parse_all(wasm) {
            m.add(payload?)?;
        }
        m.assign_func_ref_slots();
        Ok(m)
    }

    fn assign_func_ref_slots(&mut self) {
        let mut referenced = vec![false; self.funcs.len()];
        referenced[..self.imported_funcs as usize].fill(true);
        let exported = self
            .exports
            .iter()
            .filter(|(_, kind, _)| *kind == ExternalKind::Func)
            .map(|(_, _, index)| *index);
        let in_segments = self.elements.iter().flat_map(|e| match &e.items {
            ElemItems::Funcs(funcs) => funcs.as_slice(),
            ElemItems::Exprs(_) => &[],
        });
        for f in exported
            .chain(in_segments.copied())
            .chain(self.const_ref_funcs.iter().copied())
        {
            if let Some(r) = referenced.get_mut(f as usize) {
                *r = true;
            }
        }
        let mut next = 0;
        self.func_ref_slots = referenced
            .iter()
            .map(|&r| {
                if r {
                    next += 1;
                    next - 1
                } else {
                    NO_FUNC_REF
                }
            })
            .collect();
        self.func_refs = next;
    }

    fn add(&mut self, payload: Payload<'a>) -> Result<(), CompileError> {
        match payload {
            Payload::TypeSection(r) => {
                for group in r {
                    let group = group?;
                    let start = self.types.len() as u32;
                    let len = group.types().len() as u32;
                    for sub in group.into_types() {
                        self.types.push(TypeDef {
                            sub,
                            rec_group: start,
                            rec_group_len: len,
                        });
                    }
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    let import = import?;
                    let index = match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            self.funcs.push(t);
                            self.imported_funcs += 1;
                            self.funcs.len() - 1
                        }
                        TypeRef::Table(ty) => {
                            self.tables.push(TableInfo { ty, init: None });
                            self.imported_tables += 1;
                            self.tables.len() - 1
                        }
                        TypeRef::Memory(ty) => {
                            self.memories.push(ty);
                            self.imported_memories += 1;
                            self.memories.len() - 1
                        }
                        TypeRef::Global(ty) => {
                            self.globals.push(GlobalInfo { ty, init: None });
                            self.imported_globals += 1;
                            self.globals.len() - 1
                        }
                        TypeRef::Tag(t) => {
                            self.tags.push(t.func_type_idx);
                            self.imported_tags += 1;
                            self.tags.len() - 1
                        }
                    };
                    self.imports.push(ImportInfo {
                        module: import.module,
                        name: import.name,
                        ty: import.ty,
                        index: index as u32,
                    });
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    self.funcs.push(t?);
                }
            }
            Payload::TableSection(r) => {
                for t in r {
                    let t = t?;
                    let init = match t.init {
                        wasmparser::TableInit::RefNull => None,
                        wasmparser::TableInit::Expr(e) => {
                            self.note_ref_funcs(&e)?;
                            Some(expr_bytes(&e))
                        }
                    };
                    self.tables.push(TableInfo { ty: t.ty, init });
                }
            }
            Payload::MemorySection(r) => {
                for m in r {
                    self.memories.push(m?);
                }
            }
            Payload::GlobalSection(r) => {
                for g in r {
                    let g = g?;
                    self.note_ref_funcs(&g.init_expr)?;
                    self.globals.push(GlobalInfo {
                        ty: g.ty,
                        init: Some(expr_bytes(&g.init_expr)),
                    });
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e?;
                    self.exports.push((e.name, e.kind, e.index));
                }
            }
            Payload::StartSection { func, .. } => self.start = Some(func),
            Payload::ElementSection(r) => {
                for e in r {
                    let e = e?;
                    let (active, declared) = match e.kind {
                        ElementKind::Passive => (None, false),
                        ElementKind::Declared => (None, true),
                        ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => (
                            Some((table_index.unwrap_or(0), expr_bytes(&offset_expr))),
                            false,
                        ),
                    };
                    let (ty, items) = match e.items {
                        ElementItems::Functions(r) => (
                            RefType::FUNCREF,
                            ElemItems::Funcs(r.into_iter().collect::<Result<_, _>>()?),
                        ),
                        ElementItems::Expressions(ty, r) => {
                            let mut exprs = Vec::new();
                            for e in r {
                                let e = e?;
                                self.note_ref_funcs(&e)?;
                                exprs.push(expr_bytes(&e));
                            }
                            (ty, ElemItems::Exprs(exprs))
                        }
                    };
                    self.elements.push(ElemInfo {
                        active,
                        declared,
                        ty,
                        items,
                    });
                }
            }
            Payload::DataSection(r) => {
                for d in r {
                    let d = d?;
                    let active = match d.kind {
                        DataKind::Passive => None,
                        DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => Some((memory_index, expr_bytes(&offset_expr))),
                    };
                    self.data.push(DataInfo {
                        active,
                        bytes: d.data,
                    });
                }
            }
            Payload::CodeSectionEntry(body) => self.bodies.push(body),
            Payload::CustomSection(c) => {
                if let wasmparser::KnownCustom::Name(names) = c.as_known() {
                    // A malformed name section is not an error: the spec says to ignore it.
                    for name in names.into_iter().flatten() {
                        match name {
                            Name::Module { name, .. } => self.module_name = Some(name),
                            Name::Function(map) => {
                                for naming in map.into_iter().flatten() {
                                    self.func_names.insert(naming.index, naming.name);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            Payload::TagSection(r) => {
                for t in r {
                    self.tags.push(t?.func_type_idx);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Records the functions `expr` names with `ref.func`.
    fn note_ref_funcs(&mut self, expr: &wasmparser::ConstExpr<'a>) -> Result<(), CompileError> {
        let mut ops = expr.get_operators_reader();
        while !ops.eof() {
            if let wasmparser::Operator::RefFunc { function_index } = ops.read()? {
                self.const_ref_funcs.push(function_index);
            }
        }
        Ok(())
    }

    /// Counts that determine the VMContext layout.
    pub fn vmctx_counts(&self) -> VmctxCounts {
        VmctxCounts {
            func_refs: self.func_refs,
            memories: self.memories.len() as u32,
            imported_memories: self.imported_memories,
            tables: self.tables.len() as u32,
            imported_tables: self.imported_tables,
            globals: self.globals.len() as u32,
            imported_globals: self.imported_globals,
        }
    }

    /// The VMContext layout of this module.
    pub fn vmctx_layout(&self) -> VmctxLayout {
        VmctxLayout::new(self.vmctx_counts())
    }

    /// Whether memory `mem` has 64-bit addresses.
    pub fn memory_is_64(&self, mem: u32) -> bool {
        self.memories[mem as usize].memory64
    }

    /// Whether table `table` has 64-bit indices.
    pub fn table_is_64(&self, table: u32) -> bool {
        self.tables[table as usize].ty.table64
    }

    /// Type of function `func`.
    pub fn func_type(&self, func: u32) -> &FuncType {
        self.func_type_at(self.funcs[func as usize])
    }

    /// Function type `type_index` (validation guarantees that instructions and functions name
    /// only function types where they need one).
    pub fn func_type_at(&self, type_index: u32) -> &FuncType {
        self.types[type_index as usize]
            .as_func()
            .expect("a validated module uses a function type here")
    }

    /// The name to show for function `func`: its name-section name, else the first name it is
    /// exported under.
    pub fn display_name(&self, func: u32) -> Option<&'a str> {
        self.func_names.get(&func).copied().or_else(|| {
            self.exports
                .iter()
                .find(|(_, kind, index)| *kind == ExternalKind::Func && *index == func)
                .map(|(name, _, _)| *name)
        })
    }

    /// Whether function `func` is imported.
    pub fn is_imported_func(&self, func: u32) -> bool {
        matches!(self.func_index(func), EntityIndex::Imported(_))
    }

    /// Function `func` split into imported or defined.
    pub fn func_index(&self, func: u32) -> EntityIndex {
        EntityIndex::split(func, self.imported_funcs)
    }

    /// The function index of the `defined`th defined function (in body order).
    pub fn defined_func_index(&self, defined: usize) -> u32 {
        // Function counts are bounded by the validator far below `u32::MAX`.
        self.imported_funcs + defined as u32
    }
}

/// The bytes of a constant expression, including its final `end`.
fn expr_bytes<'a>(e: &wasmparser::ConstExpr<'a>) -> &'a [u8] {
    let mut reader = e.get_binary_reader();
    let len = reader.bytes_remaining();
    reader
        .read_bytes(len)
        .expect("a reader yields its remaining bytes")
}
