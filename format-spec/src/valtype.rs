//! Value types as the artifact stores them: one little-endian `u32` word each (SPEC.md §3).
//!
//! A word holds a value type, or a field's storage type and mutability (struct and array types):
//!
//! | bits | meaning |
//! |---|---|
//! | 0–7 | [`code`]: a number type, a packed storage type, or `ref` / `ref null` |
//! | 8–29 | for references: an abstract [`heap`] code, or a type index if bit 30 is set |
//! | 30 | [`CONCRETE`]: bits 8–29 are a type index of the module |
//! | 31 | [`MUTABLE`]: a mutable field (struct and array types only) |
//!
//! `funcref` is stored as `(ref null func)` and `externref` as `(ref null extern)`: one spelling
//! per type, so that equal types have equal words.

/// The low byte of a word (the WebAssembly binary encoding's codes).
pub mod code {
    /// `i32`.
    pub const I32: u8 = 0x7f;
    /// `i64`.
    pub const I64: u8 = 0x7e;
    /// `f32`.
    pub const F32: u8 = 0x7d;
    /// `f64`.
    pub const F64: u8 = 0x7c;
    /// `v128`.
    pub const V128: u8 = 0x7b;
    /// `i8`, a packed field.
    pub const I8: u8 = 0x78;
    /// `i16`, a packed field.
    pub const I16: u8 = 0x77;
    /// `(ref ht)`: a non-nullable reference.
    pub const REF: u8 = 0x64;
    /// `(ref null ht)`: a nullable reference.
    pub const REF_NULL: u8 = 0x63;
}

/// Abstract heap types (the WebAssembly binary encoding's codes).
pub mod heap {
    /// `func`.
    pub const FUNC: u8 = 0x70;
    /// `extern`.
    pub const EXTERN: u8 = 0x6f;
    /// `any`.
    pub const ANY: u8 = 0x6e;
    /// `eq`.
    pub const EQ: u8 = 0x6d;
    /// `i31`.
    pub const I31: u8 = 0x6c;
    /// `struct`.
    pub const STRUCT: u8 = 0x6b;
    /// `array`.
    pub const ARRAY: u8 = 0x6a;
    /// `exn`.
    pub const EXN: u8 = 0x69;
    /// `none`, the bottom of `any`.
    pub const NONE: u8 = 0x71;
    /// `noextern`, the bottom of `extern`.
    pub const NOEXTERN: u8 = 0x72;
    /// `nofunc`, the bottom of `func`.
    pub const NOFUNC: u8 = 0x73;
    /// `noexn`, the bottom of `exn`.
    pub const NOEXN: u8 = 0x74;

    /// Every abstract heap type.
    pub const ALL: [u8; 12] = [
        FUNC, EXTERN, ANY, EQ, I31, STRUCT, ARRAY, EXN, NONE, NOEXTERN, NOFUNC, NOEXN,
    ];
}

/// Bit 30: the heap type is a type index.
pub const CONCRETE: u32 = 1 << 30;
/// Bit 31: a mutable field.
pub const MUTABLE: u32 = 1 << 31;
/// The largest type index a word can hold (WebAssembly allows at most 1 000 000 types).
pub const MAX_TYPE_INDEX: u32 = (1 << 22) - 1;

/// A heap type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Heap {
    /// An abstract heap type ([`heap`] code).
    Abstract(u8),
    /// A type of the module, by index.
    Concrete(u32),
}

/// A value type or a field's storage type, decoded from a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoredType {
    /// A number or vector type ([`code::I32`] … [`code::V128`]).
    Num(u8),
    /// A packed field type ([`code::I8`], [`code::I16`]).
    Packed(u8),
    /// A reference type.
    Ref {
        /// Whether null is a value of the type.
        nullable: bool,
        /// What it refers to.
        heap: Heap,
    },
}

impl StoredType {
    /// `funcref`, `(ref null func)`.
    pub const FUNCREF: StoredType = StoredType::Ref {
        nullable: true,
        heap: Heap::Abstract(heap::FUNC),
    };
    /// `externref`, `(ref null extern)`.
    pub const EXTERNREF: StoredType = StoredType::Ref {
        nullable: true,
        heap: Heap::Abstract(heap::EXTERN),
    };

    /// The word of this type (an immutable field, for storage types). `None` for a type index
    /// beyond [`MAX_TYPE_INDEX`].
    pub fn encode(self) -> Option<u32> {
        Some(match self {
            StoredType::Num(c) | StoredType::Packed(c) => u32::from(c),
            StoredType::Ref { nullable, heap } => {
                let c = if nullable { code::REF_NULL } else { code::REF };
                let h = match heap {
                    Heap::Abstract(h) => u32::from(h),
                    Heap::Concrete(t) if t <= MAX_TYPE_INDEX => (CONCRETE >> 8) | t,
                    Heap::Concrete(_) => return None,
                };
                u32::from(c) | h << 8
            }
        })
    }

    /// Decodes a word, ignoring [`MUTABLE`]; `None` if it is not one this format defines.
    pub fn decode(word: u32) -> Option<StoredType> {
        let c = word as u8;
        let rest = (word & !MUTABLE) >> 8;
        match c {
            code::I32 | code::I64 | code::F32 | code::F64 | code::V128 if rest == 0 => {
                Some(StoredType::Num(c))
            }
            code::I8 | code::I16 if rest == 0 => Some(StoredType::Packed(c)),
            code::REF | code::REF_NULL => {
                let heap = if rest & (CONCRETE >> 8) != 0 {
                    Heap::Concrete(rest & MAX_TYPE_INDEX)
                } else if rest <= 0xff && heap::ALL.contains(&(rest as u8)) {
                    Heap::Abstract(rest as u8)
                } else {
                    return None;
                };
                Some(StoredType::Ref {
                    nullable: c == code::REF_NULL,
                    heap,
                })
            }
            _ => None,
        }
    }

    /// The type index this type refers to, if any.
    pub fn type_index(self) -> Option<u32> {
        match self {
            StoredType::Ref {
                heap: Heap::Concrete(t),
                ..
            } => Some(t),
            _ => None,
        }
    }
}

/// Whether a field word is mutable.
pub fn is_mutable(word: u32) -> bool {
    word & MUTABLE != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        let types = [
            StoredType::Num(code::I32),
            StoredType::Num(code::V128),
            StoredType::Packed(code::I16),
            StoredType::FUNCREF,
            StoredType::EXTERNREF,
            StoredType::Ref {
                nullable: false,
                heap: Heap::Abstract(heap::NOFUNC),
            },
            StoredType::Ref {
                nullable: true,
                heap: Heap::Concrete(MAX_TYPE_INDEX),
            },
        ];
        for t in types {
            let w = t.encode().unwrap();
            assert_eq!(StoredType::decode(w), Some(t));
            assert_eq!(StoredType::decode(w | MUTABLE), Some(t));
        }
        assert_eq!(StoredType::FUNCREF.encode(), Some(0x7063));
        assert_eq!(
            StoredType::Ref {
                nullable: true,
                heap: Heap::Concrete(MAX_TYPE_INDEX + 1)
            }
            .encode(),
            None
        );
    }

    #[test]
    fn unknown_words_are_refused() {
        for w in [0, 0x40, 0x17f, 0x0163, 0xff63, 0x0100_0064] {
            assert_eq!(StoredType::decode(w), None, "{w:#x}");
        }
    }
}
