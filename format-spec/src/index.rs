//! Index spaces: in each of WebAssembly's index spaces (functions, tables, memories, globals)
//! imports take the first indices, then come the module's own definitions. [`EntityIndex`] says
//! which of the two an index names, so that no caller does `index - imported` by hand.

/// An index split by where its entity comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityIndex {
    /// The `n`th import of the kind (which is also its index).
    Imported(u32),
    /// The `n`th definition of the kind (`index - imported`).
    Defined(u32),
}

impl EntityIndex {
    /// Splits `index` of a space whose first `imported` indices are imports.
    #[inline]
    pub fn split(index: u32, imported: u32) -> EntityIndex {
        match index.checked_sub(imported) {
            Some(defined) => EntityIndex::Defined(defined),
            None => EntityIndex::Imported(index),
        }
    }

    /// The index in the whole space of the `defined`th definition, if it fits in `u32`.
    #[inline]
    pub fn of_defined(defined: u32, imported: u32) -> Option<u32> {
        imported.checked_add(defined)
    }

    /// The definition's number, if this is one.
    #[inline]
    pub fn defined(self) -> Option<u32> {
        match self {
            EntityIndex::Defined(d) => Some(d),
            EntityIndex::Imported(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EntityIndex;

    #[test]
    fn split_and_join() {
        assert_eq!(EntityIndex::split(0, 2), EntityIndex::Imported(0));
        assert_eq!(EntityIndex::split(1, 2), EntityIndex::Imported(1));
        assert_eq!(EntityIndex::split(2, 2), EntityIndex::Defined(0));
        assert_eq!(EntityIndex::split(7, 0), EntityIndex::Defined(7));
        assert_eq!(EntityIndex::of_defined(5, 2), Some(7));
        assert_eq!(EntityIndex::of_defined(1, u32::MAX), None);
        assert_eq!(EntityIndex::split(3, 2).defined(), Some(1));
    }
}
