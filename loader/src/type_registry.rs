//! Canonical function-type ids, so that `call_indirect` can compare the types of functions from
//! different modules (and host functions) with one integer comparison.
//!
//! Ids are assigned at first use (instantiation, host function creation; never at load) and live
//! for the process: the set of distinct function types a process sees is small.

use crate::types::{FuncType, ValType};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

type Key = (Box<[u8]>, Box<[u8]>);

#[derive(Default)]
struct Registry {
    ids: HashMap<Key, u32>,
    /// The type of id `n` at index `n - 1`.
    types: Vec<FuncType>,
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The canonical id of the function type with these parameter and result codes, if they are all
/// value types (ids start at 1: 0 never matches).
pub(crate) fn canonical_id(params: &[u8], results: &[u8]) -> u32 {
    let mut reg = registry();
    if let Some(id) = reg.ids.get(&(params.into(), results.into())) {
        return *id;
    }
    let ty = FuncType::from_codes(params, results).unwrap_or_default();
    reg.types.push(ty);
    let id = reg.types.len() as u32;
    reg.ids.insert((params.into(), results.into()), id);
    id
}

/// The canonical id of `ty`.
pub(crate) fn canonical_id_of(ty: &FuncType) -> u32 {
    let codes = |t: &[ValType]| -> Vec<u8> { t.iter().map(|v| v.code()).collect() };
    canonical_id(&codes(ty.params()), &codes(ty.results()))
}

/// The function type of canonical id `id`.
pub(crate) fn func_type(id: u32) -> Option<FuncType> {
    let reg = registry();
    reg.types.get(id.checked_sub(1)? as usize).cloned()
}
