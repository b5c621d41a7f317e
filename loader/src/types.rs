//! The types of WebAssembly values and entities, as the host sees them: what a module imports and
//! exports (see [`crate::Artifact::imports`]) and what host-made entities are.

use kiln_format::vmctx::val_type;
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
    /// Function reference.
    FuncRef,
    /// External reference.
    ExternRef,
    /// Exception reference.
    ExnRef,
}

impl ValType {
    /// Decodes an artifact value-type code.
    pub fn from_code(code: u8) -> Option<ValType> {
        Some(match code {
            val_type::I32 => ValType::I32,
            val_type::I64 => ValType::I64,
            val_type::F32 => ValType::F32,
            val_type::F64 => ValType::F64,
            val_type::V128 => ValType::V128,
            val_type::FUNCREF => ValType::FuncRef,
            val_type::EXTERNREF => ValType::ExternRef,
            val_type::EXNREF => ValType::ExnRef,
            _ => return None,
        })
    }

    /// The artifact code of this type.
    pub fn code(self) -> u8 {
        match self {
            ValType::I32 => val_type::I32,
            ValType::I64 => val_type::I64,
            ValType::F32 => val_type::F32,
            ValType::F64 => val_type::F64,
            ValType::V128 => val_type::V128,
            ValType::FuncRef => val_type::FUNCREF,
            ValType::ExternRef => val_type::EXTERNREF,
            ValType::ExnRef => val_type::EXNREF,
        }
    }

    /// Whether it is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(
            self,
            ValType::FuncRef | ValType::ExternRef | ValType::ExnRef
        )
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
            ValType::ExnRef => "exnref",
        })
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

    /// Decodes artifact value-type codes.
    pub(crate) fn from_codes(params: &[u8], results: &[u8]) -> Option<FuncType> {
        let decode = |codes: &[u8]| -> Option<Box<[ValType]>> {
            codes.iter().map(|c| ValType::from_code(*c)).collect()
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

/// A linear memory's type: limits in 64 KiB pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemoryType {
    minimum: u64,
    maximum: Option<u64>,
}

impl MemoryType {
    /// A memory of at least `minimum` pages, growable to `maximum`.
    pub fn new(minimum: u32, maximum: Option<u32>) -> MemoryType {
        MemoryType {
            minimum: u64::from(minimum),
            maximum: maximum.map(u64::from),
        }
    }

    pub(crate) fn from_limits(minimum: u64, maximum: Option<u64>) -> MemoryType {
        MemoryType { minimum, maximum }
    }

    /// The minimum size in pages.
    pub fn minimum(&self) -> u64 {
        self.minimum
    }

    /// The maximum size in pages, if any.
    pub fn maximum(&self) -> Option<u64> {
        self.maximum
    }
}

impl fmt::Display for MemoryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(memory {}", self.minimum)?;
        if let Some(max) = self.maximum {
            write!(f, " {max}")?;
        }
        f.write_str(")")
    }
}

/// A table's type: element type and limits in elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TableType {
    element: ValType,
    minimum: u64,
    maximum: Option<u64>,
}

impl TableType {
    /// A table of `element` references (`FuncRef` or `ExternRef`), of at least `minimum`
    /// elements, growable to `maximum`.
    pub fn new(element: ValType, minimum: u32, maximum: Option<u32>) -> TableType {
        TableType {
            element,
            minimum: u64::from(minimum),
            maximum: maximum.map(u64::from),
        }
    }

    pub(crate) fn from_limits(element: ValType, minimum: u64, maximum: Option<u64>) -> TableType {
        TableType {
            element,
            minimum,
            maximum,
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
}

impl fmt::Display for TableType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(table {}", self.minimum)?;
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
        let table = TableType::new(ValType::FuncRef, 3, None);
        assert_eq!(table.to_string(), "(table 3 funcref)");
    }
}
