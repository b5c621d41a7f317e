//! Canonical function-type ids, so that `call_indirect` can compare the types of functions from
//! different modules with one integer comparison.
//!
//! Ids are assigned at instantiation (never at load) and live for the process: the set of distinct
//! function types a process sees is small.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

type Key = (Box<[u8]>, Box<[u8]>);

/// The canonical id of the function type with these parameter and result codes.
pub(crate) fn canonical_id(params: &[u8], results: &[u8]) -> u32 {
    static REGISTRY: OnceLock<Mutex<HashMap<Key, u32>>> = OnceLock::new();
    let mut map = REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let next = map.len() as u32 + 1;
    *map.entry((params.into(), results.into())).or_insert(next)
}
