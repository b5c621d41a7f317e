//! The types of WebAssembly values and entities, as the host sees them: what a module imports and
//! exports (see [`crate::Artifact::imports`]) and what host-made entities are.

use kiln_format::valtype::{code, heap, Heap, StoredType};
use std::fmt;

/// A value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 128-bit vector.
    V128,
    /// A reference.
    Ref(RefType),
}

impl ValType {
    /// `funcref`: `(ref null func)`.
    pub const FUNCREF: ValType = ValType::Ref(RefType::FUNCREF);
    /// `externref`: `(ref null extern)`.
    pub const EXTERNREF: ValType = ValType::Ref(RefType::EXTERNREF);
    /// `exnref`: `(ref null exn)`.
    pub const EXNREF: ValType = ValType::Ref(RefType::EXNREF);

    /// Whether it is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::Ref(_))
    }

    /// The reference type, if it is one.
    pub fn as_ref(self) -> Option<RefType> {
        match self {
            ValType::Ref(r) => Some(r),
            _ => None,
        }
    }

    /// Whether a value of this type is also one of `other` (this is a subtype of `other`), as
    /// Wasmtime's `ValType::matches` says.
    pub fn matches(self, other: ValType) -> bool {
        match (self, other) {
            (ValType::Ref(a), ValType::Ref(b)) => a.matches(b),
            (a, b) => a == b,
        }
    }

    /// Decodes a stored type; `resolve` gives the canonical id of a module's type index.
    pub(crate) fn from_stored(
        t: StoredType,
        resolve: impl Fn(u32) -> Option<TypeId>,
    ) -> Option<ValType> {
        Some(match t {
            StoredType::Num(code::I32) => ValType::I32,
            StoredType::Num(code::I64) => ValType::I64,
            StoredType::Num(code::F32) => ValType::F32,
            StoredType::Num(code::F64) => ValType::F64,
            StoredType::Num(code::V128) => ValType::V128,
            StoredType::Ref { nullable, heap } => ValType::Ref(RefType {
                nullable,
                heap: HeapType::from_stored(heap, resolve)?,
            }),
            _ => return None,
        })
    }

    /// Decodes a module's word with its canonical type ids.
    pub(crate) fn from_word(word: u32, type_ids: &[u32]) -> Option<ValType> {
        ValType::from_stored(StoredType::decode(word)?, |t| {
            type_ids.get(t as usize).map(|&id| TypeId(id))
        })
    }

    /// The stored form, and the canonical id a concrete reference names.
    pub(crate) fn to_stored(self) -> (StoredType, Option<TypeId>) {
        let num = |c| (StoredType::Num(c), None);
        match self {
            ValType::I32 => num(code::I32),
            ValType::I64 => num(code::I64),
            ValType::F32 => num(code::F32),
            ValType::F64 => num(code::F64),
            ValType::V128 => num(code::V128),
            ValType::Ref(r) => {
                let (heap, id) = match r.heap {
                    // The index is a placeholder: registry keys name the id instead.
                    HeapType::Concrete(id) => (Heap::Concrete(0), Some(id)),
                    h => (Heap::Abstract(h.abstract_code().expect("abstract")), None),
                };
                (
                    StoredType::Ref {
                        nullable: r.nullable,
                        heap,
                    },
                    id,
                )
            }
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValType::I32 => f.write_str("i32"),
            ValType::I64 => f.write_str("i64"),
            ValType::F32 => f.write_str("f32"),
            ValType::F64 => f.write_str("f64"),
            ValType::V128 => f.write_str("v128"),
            ValType::Ref(r) => r.fmt(f),
        }
    }
}

/// A canonical type id: equal for equivalent types of any module in the process (see
/// WebAssembly 3.0's iso-recursive type equivalence), and for a host-made [`FuncType`] and a
/// module's plain `(type (func ...))` of the same signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TypeId(pub(crate) u32);

impl TypeId {
    /// The id of function type `ty`.
    pub fn of_func_type(ty: &FuncType) -> TypeId {
        TypeId(crate::type_registry::canonical_id_of(ty))
    }

    /// The function type of this id, if it is a function type.
    pub fn func_type(self) -> Option<FuncType> {
        crate::type_registry::func_type(self.0)
    }
}

/// A heap type: what a reference refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeapType {
    /// Any function.
    Func,
    /// No function (the type of null function references).
    NoFunc,
    /// Any host value.
    Extern,
    /// No host value.
    NoExtern,
    /// Any GC value.
    Any,
    /// GC values comparable with `ref.eq`.
    Eq,
    /// Unboxed 31-bit integers.
    I31,
    /// Any struct.
    Struct,
    /// Any array.
    Array,
    /// No GC value.
    None,
    /// Any exception.
    Exn,
    /// No exception.
    NoExn,
    /// A type defined by a module (or a host [`FuncType`]), by canonical id.
    Concrete(TypeId),
}

impl HeapType {
    const ABSTRACT: [(HeapType, u8, &'static str); 12] = [
        (HeapType::Func, heap::FUNC, "func"),
        (HeapType::NoFunc, heap::NOFUNC, "nofunc"),
        (HeapType::Extern, heap::EXTERN, "extern"),
        (HeapType::NoExtern, heap::NOEXTERN, "noextern"),
        (HeapType::Any, heap::ANY, "any"),
        (HeapType::Eq, heap::EQ, "eq"),
        (HeapType::I31, heap::I31, "i31"),
        (HeapType::Struct, heap::STRUCT, "struct"),
        (HeapType::Array, heap::ARRAY, "array"),
        (HeapType::None, heap::NONE, "none"),
        (HeapType::Exn, heap::EXN, "exn"),
        (HeapType::NoExn, heap::NOEXN, "noexn"),
    ];

    fn abstract_code(self) -> Option<u8> {
        HeapType::ABSTRACT
            .iter()
            .find(|(h, _, _)| *h == self)
            .map(|(_, c, _)| *c)
    }

    pub(crate) fn from_stored(
        heap: Heap,
        resolve: impl Fn(u32) -> Option<TypeId>,
    ) -> Option<HeapType> {
        match heap {
            Heap::Concrete(t) => resolve(t).map(HeapType::Concrete),
            Heap::Abstract(c) => HeapType::ABSTRACT
                .iter()
                .find(|(_, code, _)| *code == c)
                .map(|(h, _, _)| *h),
        }
    }

    /// The top of its hierarchy: `func`, `extern`, `any` or `exn`.
    pub fn top(self) -> HeapType {
        use crate::type_registry::kind;
        use kiln_format::tables::type_kind;
        match self {
            HeapType::Func | HeapType::NoFunc => HeapType::Func,
            HeapType::Extern | HeapType::NoExtern => HeapType::Extern,
            HeapType::Exn | HeapType::NoExn => HeapType::Exn,
            HeapType::Concrete(id) if kind(id.0) == Some(type_kind::FUNC) => HeapType::Func,
            _ => HeapType::Any,
        }
    }

    /// Whether it is `self` or a subtype of `other`.
    pub fn matches(self, other: HeapType) -> bool {
        crate::type_registry::heap_matches(self, other)
    }
}

impl fmt::Display for HeapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeapType::Concrete(id) => write!(f, "(type {})", id.0),
            h => {
                let name = HeapType::ABSTRACT
                    .iter()
                    .find(|(a, _, _)| a == h)
                    .map_or("?", |(_, _, n)| n);
                f.write_str(name)
            }
        }
    }
}

/// A reference type: a heap type, and whether null is a value of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RefType {
    nullable: bool,
    heap: HeapType,
}

impl RefType {
    /// `funcref`.
    pub const FUNCREF: RefType = RefType {
        nullable: true,
        heap: HeapType::Func,
    };
    /// `externref`.
    pub const EXTERNREF: RefType = RefType {
        nullable: true,
        heap: HeapType::Extern,
    };
    /// `exnref`.
    pub const EXNREF: RefType = RefType {
        nullable: true,
        heap: HeapType::Exn,
    };

    /// `(ref null? heap)`.
    pub fn new(nullable: bool, heap: HeapType) -> RefType {
        RefType { nullable, heap }
    }

    /// Whether null is a value of the type.
    pub fn is_nullable(self) -> bool {
        self.nullable
    }

    /// The heap type.
    pub fn heap_type(self) -> HeapType {
        self.heap
    }

    /// Whether it is `self` or a subtype of `other`.
    pub fn matches(self, other: RefType) -> bool {
        crate::type_registry::ref_matches(self, other)
    }
}

impl fmt::Display for RefType {
    /// In the text format's short forms where they exist: `funcref`, `externref`, else
    /// `(ref null? heap)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.nullable, self.heap) {
            (true, HeapType::Func) => f.write_str("funcref"),
            (true, HeapType::Extern) => f.write_str("externref"),
            (true, HeapType::Exn) => f.write_str("exnref"),
            (true, h) => write!(f, "(ref null {h})"),
            (false, h) => write!(f, "(ref {h})"),
        }
    }
}

/// A function type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FuncType {
    params: Box<[ValType]>,
    results: Box<[ValType]>,
}

impl FuncType {
    /// A function type from parameter and result lists.
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> FuncType {
        FuncType {
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
        }
    }

    /// The parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// The result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }

    /// Value slots a call of this type exchanges: parameters and results share them.
    #[inline]
    pub(crate) fn slots(&self) -> usize {
        self.params.len().max(self.results.len()).max(1)
    }

    /// Decodes a module's parameter and result words with its canonical type ids.
    pub(crate) fn from_words(
        params: &[zerocopy::little_endian::U32],
        results: &[zerocopy::little_endian::U32],
        type_ids: &[u32],
    ) -> Option<FuncType> {
        let decode = |words: &[zerocopy::little_endian::U32]| -> Option<Box<[ValType]>> {
            words
                .iter()
                .map(|w| ValType::from_word(w.get(), type_ids))
                .collect()
        };
        Some(FuncType {
            params: decode(params)?,
            results: decode(results)?,
        })
    }
}

impl fmt::Display for FuncType {
    /// In the text format: `(func (param i32 i32) (result i64))`, leaving out empty lists.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(func")?;
        for (word, list) in [("param", &self.params), ("result", &self.results)] {
            if !list.is_empty() {
                write!(f, " ({word}")?;
                for t in list.iter() {
                    write!(f, " {t}")?;
                }
                f.write_str(")")?;
            }
        }
        f.write_str(")")
    }
}

/// A linear memory's type: limits in 64 KiB pages, and whether its addresses are i32 or i64
/// (memory64). Memories link only to imports of the same address type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemoryType {
    minimum: u64,
    maximum: Option<u64>,
    is_64: bool,
}

impl MemoryType {
    /// A 32-bit memory of at least `minimum` pages, growable to `maximum`.
    pub fn new(minimum: u32, maximum: Option<u32>) -> MemoryType {
        MemoryType {
            minimum: u64::from(minimum),
            maximum: maximum.map(u64::from),
            is_64: false,
        }
    }

    /// A 64-bit memory (memory64) of at least `minimum` pages, growable to `maximum`.
    pub fn new64(minimum: u64, maximum: Option<u64>) -> MemoryType {
        MemoryType {
            minimum,
            maximum,
            is_64: true,
        }
    }

    pub(crate) fn from_limits(minimum: u64, maximum: Option<u64>, is_64: bool) -> MemoryType {
        MemoryType {
            minimum,
            maximum,
            is_64,
        }
    }

    /// The minimum size in pages.
    pub fn minimum(&self) -> u64 {
        self.minimum
    }

    /// The maximum size in pages, if any.
    pub fn maximum(&self) -> Option<u64> {
        self.maximum
    }

    /// Whether addresses are i64 (memory64).
    pub fn is_64(&self) -> bool {
        self.is_64
    }
}

impl fmt::Display for MemoryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_64 {
            "(memory i64 "
        } else {
            "(memory "
        })?;
        write!(f, "{}", self.minimum)?;
        if let Some(max) = self.maximum {
            write!(f, " {max}")?;
        }
        f.write_str(")")
    }
}

/// A table's type: element type, limits in elements, and whether its indices are i32 or i64
/// (table64). Tables link only to imports of the same index type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TableType {
    element: ValType,
    minimum: u64,
    maximum: Option<u64>,
    is_64: bool,
}

impl TableType {
    /// A 32-bit table of `element` references (`FuncRef` or `ExternRef`), of at least `minimum`
    /// elements, growable to `maximum`.
    pub fn new(element: ValType, minimum: u32, maximum: Option<u32>) -> TableType {
        TableType {
            element,
            minimum: u64::from(minimum),
            maximum: maximum.map(u64::from),
            is_64: false,
        }
    }

    /// A 64-bit table (table64) of `element` references, of at least `minimum` elements,
    /// growable to `maximum`.
    pub fn new64(element: ValType, minimum: u64, maximum: Option<u64>) -> TableType {
        TableType {
            element,
            minimum,
            maximum,
            is_64: true,
        }
    }

    pub(crate) fn from_limits(
        element: ValType,
        minimum: u64,
        maximum: Option<u64>,
        is_64: bool,
    ) -> TableType {
        TableType {
            element,
            minimum,
            maximum,
            is_64,
        }
    }

    /// The element type.
    pub fn element(&self) -> ValType {
        self.element
    }

    /// The minimum size in elements.
    pub fn minimum(&self) -> u64 {
        self.minimum
    }

    /// The maximum size in elements, if any.
    pub fn maximum(&self) -> Option<u64> {
        self.maximum
    }

    /// Whether indices are i64 (table64).
    pub fn is_64(&self) -> bool {
        self.is_64
    }
}

impl fmt::Display for TableType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_64 { "(table i64 " } else { "(table " })?;
        write!(f, "{}", self.minimum)?;
        if let Some(max) = self.maximum {
            write!(f, " {max}")?;
        }
        write!(f, " {})", self.element)
    }
}

/// Whether a global can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutability {
    /// Immutable.
    Const,
    /// Mutable.
    Var,
}

/// A global's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GlobalType {
    content: ValType,
    mutability: Mutability,
}

impl GlobalType {
    /// A global holding values of `content`.
    pub fn new(content: ValType, mutability: Mutability) -> GlobalType {
        GlobalType {
            content,
            mutability,
        }
    }

    /// The value type.
    pub fn content(&self) -> ValType {
        self.content
    }

    /// Whether it can change.
    pub fn mutability(&self) -> Mutability {
        self.mutability
    }

    /// Whether it is mutable.
    pub fn is_mutable(&self) -> bool {
        self.mutability == Mutability::Var
    }
}

impl fmt::Display for GlobalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mutability {
            Mutability::Const => write!(f, "(global {})", self.content),
            Mutability::Var => write!(f, "(global (mut {}))", self.content),
        }
    }
}

/// The type of something a module imports or exports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A table.
    Table(TableType),
    /// A linear memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
    /// An exception tag.
    Tag(crate::exn::TagType),
}

impl fmt::Display for ExternType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternType::Func(t) => t.fmt(f),
            ExternType::Table(t) => t.fmt(f),
            ExternType::Memory(t) => t.fmt(f),
            ExternType::Global(t) => t.fmt(f),
            ExternType::Tag(t) => t.fmt(f),
        }
    }
}

/// One import of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportType {
    pub(crate) module: String,
    pub(crate) name: String,
    pub(crate) ty: ExternType,
}

impl ImportType {
    /// The module name.
    pub fn module(&self) -> &str {
        &self.module
    }

    /// The field name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the module expects.
    pub fn ty(&self) -> &ExternType {
        &self.ty
    }
}

/// One export of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportType {
    pub(crate) name: String,
    pub(crate) ty: ExternType,
}

impl ExportType {
    /// The export name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it is.
    pub fn ty(&self) -> &ExternType {
        &self.ty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_print_as_the_text_format_writes_them() {
        let t = FuncType::new([ValType::I32, ValType::F64], [ValType::I64]);
        assert_eq!(t.to_string(), "(func (param i32 f64) (result i64))");
        assert_eq!(
            FuncType::new([], [ValType::I32]).to_string(),
            "(func (result i32))"
        );
        assert_eq!(FuncType::new([], []).to_string(), "(func)");
        assert_eq!(MemoryType::new(1, Some(2)).to_string(), "(memory 1 2)");
        let g = GlobalType::new(ValType::I32, Mutability::Var);
        assert_eq!(g.to_string(), "(global (mut i32))");
        let table = TableType::new(ValType::FUNCREF, 3, None);
        assert_eq!(table.to_string(), "(table 3 funcref)");
        assert_eq!(MemoryType::new64(1, None).to_string(), "(memory i64 1)");
        let table = TableType::new64(ValType::FUNCREF, 3, Some(4));
        assert_eq!(table.to_string(), "(table i64 3 4 funcref)");
    }
}
