//! Canonical type ids: WebAssembly 3.0's iso-recursive type equivalence, so that `call_indirect`
//! compares the types of functions from different modules (and host functions) with one integer
//! comparison, and linking checks subtyping.
//!
//! The unit of equivalence is a recursion group: two groups are the same when they have the same
//! shape, where a reference to a type of the same group is its position in the group, and a
//! reference to an earlier type is that type's canonical id. A group's key is that shape as words;
//! its types get consecutive ids. A plain `(type (func ...))` is a group of one final type, which
//! is also what a host-made [`FuncType`] is.
//!
//! Ids are assigned at first use (instantiation, reflection, host function creation; never at
//! load) and live for the process: the set of distinct types a process sees is small.

use crate::types::{FuncType, HeapType, RefType, TypeId, ValType};
use kiln_format::tables::{type_kind, NO_TYPE, TYPE_FINAL};
use kiln_format::valtype::StoredType;
use kiln_format::MetaView;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

/// A registered type.
#[derive(Clone, Debug)]
struct Entry {
    /// [`type_kind`].
    kind: u8,
    /// Its declared supertype's id.
    supertype: Option<u32>,
    /// The function type, for function types.
    func: Option<FuncType>,
}

#[derive(Default)]
struct Registry {
    /// First id of each group, by key.
    groups: HashMap<Box<[u32]>, u32>,
    /// The type of id `n` at index `n - 1`.
    entries: Vec<Entry>,
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Key words of a reference to another type.
const KEY_INTERNAL: u32 = 1;
const KEY_EXTERNAL: u32 = 2;
const KEY_NONE: u32 = 0;

/// A type reference inside a group being registered.
#[derive(Clone, Copy)]
enum TypeRef {
    /// The `n`th type of the group.
    Internal(u32),
    /// A type with this canonical id.
    External(u32),
}

fn push_ref(key: &mut Vec<u32>, r: Option<TypeRef>) {
    match r {
        None => key.extend([KEY_NONE, 0]),
        Some(TypeRef::Internal(n)) => key.extend([KEY_INTERNAL, n]),
        Some(TypeRef::External(id)) => key.extend([KEY_EXTERNAL, id]),
    }
}

/// One value or field type in a key: the word without its type index, then the reference.
fn push_word(key: &mut Vec<u32>, word: u32, r: Option<TypeRef>) {
    let shape = match r {
        Some(_) => word & !(kiln_format::valtype::MAX_TYPE_INDEX << 8),
        None => word,
    };
    key.push(shape);
    push_ref(key, r);
}

/// Why a module's types cannot be registered: the artifact is corrupt.
#[derive(Debug)]
pub(crate) struct BadType {
    /// The type index.
    pub index: u32,
    /// What is wrong.
    pub what: &'static str,
}

/// Canonical ids of every type of a module, group by group.
pub(crate) fn module_type_ids(view: &MetaView<'_>) -> Result<Box<[u32]>, BadType> {
    let entries = view.types();
    let n = entries.len() as u32;
    let mut ids: Vec<u32> = Vec::with_capacity(n as usize);
    let mut reg = registry();
    while (ids.len() as u32) < n {
        let start = ids.len() as u32;
        let first = &entries[start as usize];
        let len = first.rec_group_len.get();
        let bad = |index, what| BadType { index, what };
        if first.rec_group.get() != start || len == 0 || len > n - start {
            return Err(bad(start, "recursion group out of place"));
        }
        // Resolves type index `t` referenced from the group starting at `start`.
        let resolve = |t: u32, ids: &[u32]| -> Option<TypeRef> {
            if t < start {
                Some(TypeRef::External(ids[t as usize]))
            } else if t < start + len {
                Some(TypeRef::Internal(t - start))
            } else {
                None
            }
        };
        let mut key = Vec::new();
        let mut shapes = Vec::with_capacity(len as usize);
        for i in start..start + len {
            let e = &entries[i as usize];
            if e.rec_group.get() != start || e.rec_group_len.get() != len {
                return Err(bad(i, "recursion group out of place"));
            }
            let supertype = match e.supertype.get() {
                NO_TYPE => None,
                s if s < i => Some(resolve(s, &ids).ok_or(bad(i, "bad supertype"))?),
                _ => return Err(bad(i, "supertype not before the type")),
            };
            let (words, params) = view
                .type_words(i)
                .map_err(|_| bad(i, "words out of range"))?;
            key.extend([
                u32::from(e.kind),
                u32::from(e.flags & TYPE_FINAL),
                params as u32,
            ]);
            push_ref(&mut key, supertype);
            let mut refs = Vec::with_capacity(words.len());
            for w in words {
                let w = w.get();
                let t = StoredType::decode(w).ok_or(bad(i, "unknown value type"))?;
                if e.kind == type_kind::FUNC && matches!(t, StoredType::Packed(_)) {
                    return Err(bad(i, "a packed type in a function type"));
                }
                let r = match t.type_index() {
                    Some(t) => Some(resolve(t, &ids).ok_or(bad(i, "type reference"))?),
                    None => None,
                };
                push_word(&mut key, w, r);
                refs.push((w, r));
            }
            if !matches!(
                e.kind,
                type_kind::FUNC | type_kind::STRUCT | type_kind::ARRAY
            ) {
                return Err(bad(i, "unknown type kind"));
            }
            shapes.push((e.kind, supertype, refs, params));
        }
        let base = match reg.groups.get(key.as_slice()) {
            Some(&base) => base,
            None => {
                let base = reg.entries.len() as u32 + 1;
                let to_id = |r: TypeRef| match r {
                    TypeRef::Internal(k) => base + k,
                    TypeRef::External(id) => id,
                };
                for (kind, supertype, refs, params) in shapes {
                    let func = (kind == type_kind::FUNC).then(|| {
                        let vals: Vec<ValType> = refs
                            .iter()
                            .map(|&(w, r)| {
                                ValType::from_stored(
                                    StoredType::decode(w).expect("decoded above"),
                                    |_| r.map(|r| TypeId(to_id(r))),
                                )
                                // Why never the default: packed types were refused above.
                                .unwrap_or(ValType::I32)
                            })
                            .collect();
                        let (p, r) = vals.split_at(params.min(vals.len()));
                        FuncType::new(p.iter().copied(), r.iter().copied())
                    });
                    reg.entries.push(Entry {
                        kind,
                        supertype: supertype.map(to_id),
                        func,
                    });
                }
                reg.groups.insert(key.into(), base);
                base
            }
        };
        ids.extend(base..base + len);
    }
    Ok(ids.into())
}

/// The canonical id of `ty` as a group of one final function type, as a plain
/// `(type (func ...))` is.
pub(crate) fn canonical_id_of(ty: &FuncType) -> u32 {
    let mut key = vec![
        u32::from(type_kind::FUNC),
        u32::from(TYPE_FINAL),
        ty.params().len() as u32,
    ];
    push_ref(&mut key, None);
    for v in ty.params().iter().chain(ty.results()) {
        let (stored, r) = v.to_stored();
        let word = stored.encode().unwrap_or(0);
        push_word(&mut key, word, r.map(|id| TypeRef::External(id.0)));
    }
    let mut reg = registry();
    if let Some(&id) = reg.groups.get(key.as_slice()) {
        return id;
    }
    reg.entries.push(Entry {
        kind: type_kind::FUNC,
        supertype: None,
        func: Some(ty.clone()),
    });
    let id = reg.entries.len() as u32;
    reg.groups.insert(key.into(), id);
    id
}

/// The function type of canonical id `id`.
pub(crate) fn func_type(id: u32) -> Option<FuncType> {
    let reg = registry();
    reg.entries.get(id.checked_sub(1)? as usize)?.func.clone()
}

/// The kind ([`type_kind`]) of canonical id `id`.
pub(crate) fn kind(id: u32) -> Option<u8> {
    let reg = registry();
    Some(reg.entries.get(id.checked_sub(1)? as usize)?.kind)
}

/// Whether type `actual` is `expected` or one of its declared subtypes.
pub(crate) fn is_subtype(actual: u32, expected: u32) -> bool {
    if actual == expected {
        return true;
    }
    let reg = registry();
    let mut at = actual;
    // Why bounded: each step goes to a lower id (a supertype is registered first), so the walk
    // ends; the bound only guards against a registry bug.
    for _ in 0..reg.entries.len() {
        match at
            .checked_sub(1)
            .and_then(|i| reg.entries.get(i as usize))
            .and_then(|e| e.supertype)
        {
            Some(s) if s == expected => return true,
            Some(s) => at = s,
            None => return false,
        }
    }
    false
}

/// Whether `a` is a subtype of `b` (both abstract or concrete heap types).
pub(crate) fn heap_matches(a: HeapType, b: HeapType) -> bool {
    use HeapType as H;
    let concrete_kind = |id: TypeId| kind(id.0).unwrap_or(u8::MAX);
    match (a, b) {
        _ if a == b => true,
        (H::Concrete(x), H::Concrete(y)) => is_subtype(x.0, y.0),
        (H::Concrete(x), H::Func) => concrete_kind(x) == type_kind::FUNC,
        (H::Concrete(x), H::Struct) => concrete_kind(x) == type_kind::STRUCT,
        (H::Concrete(x), H::Array) => concrete_kind(x) == type_kind::ARRAY,
        (H::Concrete(x), H::Eq | H::Any) => {
            matches!(concrete_kind(x), type_kind::STRUCT | type_kind::ARRAY)
        }
        (H::NoFunc, H::Func) => true,
        (H::NoFunc, H::Concrete(y)) => concrete_kind(y) == type_kind::FUNC,
        (H::NoExtern, H::Extern) | (H::NoExn, H::Exn) => true,
        (H::None, H::Any | H::Eq | H::I31 | H::Struct | H::Array) => true,
        (H::None, H::Concrete(y)) => {
            matches!(concrete_kind(y), type_kind::STRUCT | type_kind::ARRAY)
        }
        (H::I31 | H::Struct | H::Array, H::Eq | H::Any) | (H::Eq, H::Any) => true,
        _ => false,
    }
}

/// Whether `a` is a subtype of `b`.
pub(crate) fn ref_matches(a: RefType, b: RefType) -> bool {
    (!a.is_nullable() || b.is_nullable()) && heap_matches(a.heap_type(), b.heap_type())
}
