//! [`SortedMap`]: a map kept as one sorted vector, for the small free-form maps inside a site
//! (labels, headers, plugins, themes). A `BTreeMap` allocates a whole node (room for eleven
//! entries) for a map of one or two; a fleet holds every site at once, so these maps are stored
//! exactly sized instead. Lookups are binary searches; maps are built in one go
//! ([`FromIterator`]), so building stays `O(n log n)` however large a map is.

use std::borrow::Borrow;
use std::fmt;

use serde::{Serialize, Serializer};

/// A map ordered by key, stored as a sorted vector of entries without spare room.
#[derive(Clone, PartialEq, Eq)]
pub struct SortedMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        SortedMap(Vec::new())
    }

    fn position<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value under `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// Whether the map holds `key`.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key).is_ok()
    }

    /// Sets the value under `key` (the key first stored is kept); returns the old value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }
}

impl<K, V> SortedMap<K, V> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k)
    }
}

/// Built like a `BTreeMap` filled by `insert` in iteration order: of equal keys, the first key
/// is kept with the last value.
impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut entries: Vec<(K, V)> = iter.into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(K, V)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        out.shrink_to_fit();
        SortedMap(out)
    }
}

impl<'m, K, V> IntoIterator for &'m SortedMap<K, V> {
    type Item = (&'m K, &'m V);
    type IntoIter = std::iter::Map<std::slice::Iter<'m, (K, V)>, fn(&(K, V)) -> (&K, &V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Serialize, V: Serialize> Serialize for SortedMap<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::spec::HeaderName;

    #[test]
    fn builds_and_reads_like_a_btree_map() {
        let pairs = [("b", 2), ("a", 1), ("c", 3), ("a", 4)];
        let map: SortedMap<&str, i32> = pairs.into_iter().collect();
        let reference: BTreeMap<&str, i32> = pairs.into_iter().collect();
        assert_eq!(
            map.iter().collect::<Vec<_>>(),
            reference.iter().collect::<Vec<_>>()
        );
        assert_eq!(map.get("a"), Some(&4));
        assert_eq!(map.get("z"), None);
        assert!(map.contains_key("c"));
        assert_eq!(map.len(), 3);
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            serde_json::to_string(&reference).unwrap()
        );
        assert_eq!(format!("{map:?}"), format!("{reference:?}"));
    }

    #[test]
    fn equal_keys_keep_the_first_spelling_and_the_last_value() {
        let name = |s: &str| s.parse::<HeaderName>().unwrap();
        let map: SortedMap<HeaderName, i32> =
            [(name("X-A"), 1), (name("x-a"), 2)].into_iter().collect();
        let (key, value) = map.iter().next().unwrap();
        assert_eq!((key.as_str(), *value), ("X-A", 2));
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn insert_keeps_order_and_replaces() {
        let mut map = SortedMap::new();
        for k in [5, 1, 3] {
            assert_eq!(map.insert(k, k * 10), None);
        }
        assert_eq!(map.insert(3, 0), Some(30));
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), [1, 3, 5]);
        assert_eq!(map.get(&3), Some(&0));
    }
}
