//! OSV range evaluation: is a version inside an affected range, and which release fixes it.
//! Pure; follows the OSV schema's algorithm (events sorted by version, `introduced: "0"` first;
//! `fixed` and `limit` end a range exclusively, `last_affected` inclusively).

use std::cmp::Ordering;

use crate::spec::Version;

/// One event of an `ECOSYSTEM` or `SEMVER` range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Affected from this version on; `None` is OSV's `"0"` (every version before too).
    Introduced(Option<Version>),
    /// Not affected from this version on.
    Fixed(Version),
    /// Affected up to and including this version.
    LastAffected(Version),
    /// Outside the range from this version on (an upper bound, not a fix).
    Limit(Version),
}

impl Event {
    fn version(&self) -> Option<&Version> {
        match self {
            Event::Introduced(v) => v.as_ref(),
            Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => Some(v),
        }
    }
}

/// An affected range: its events in version order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Range {
    events: Vec<Event>,
}

impl Range {
    /// A range from events in any order (OSV does not require them sorted).
    pub fn new(mut events: Vec<Event>) -> Range {
        events.sort_by(|a, b| match (a.version(), b.version()) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(y),
        });
        Range { events }
    }

    /// Whether `v` is inside the range.
    pub fn contains(&self, v: &Version) -> bool {
        let mut affected = false;
        for e in &self.events {
            match e {
                Event::Introduced(None) => affected = true,
                Event::Introduced(Some(at)) if v >= at => affected = true,
                Event::Fixed(at) | Event::Limit(at) if v >= at => affected = false,
                Event::LastAffected(at) if v > at => affected = false,
                _ => {}
            }
        }
        affected
    }

    /// The first `fixed` version above `v`: the release to upgrade to (`None` when no fix is
    /// known, e.g. the range ends with `last_affected` or is open).
    pub fn fixed_after(&self, v: &Version) -> Option<&Version> {
        self.events.iter().find_map(|e| match e {
            Event::Fixed(at) if at > v => Some(at),
            _ => None,
        })
    }

    /// Every `fixed` version of the range.
    pub fn fixes(&self) -> impl Iterator<Item = &Version> {
        self.events.iter().filter_map(|e| match e {
            Event::Fixed(v) => Some(v),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn range(events: &[(&str, &str)]) -> Range {
        Range::new(
            events
                .iter()
                .map(|(k, ver)| match *k {
                    "introduced" if *ver == "0" => Event::Introduced(None),
                    "introduced" => Event::Introduced(Some(v(ver))),
                    "fixed" => Event::Fixed(v(ver)),
                    "last_affected" => Event::LastAffected(v(ver)),
                    _ => Event::Limit(v(ver)),
                })
                .collect(),
        )
    }

    #[test]
    fn introduced_inclusive_fixed_exclusive() {
        let r = range(&[("introduced", "5.0"), ("fixed", "5.8.4")]);
        assert!(!r.contains(&v("4.9.9")));
        assert!(r.contains(&v("5.0")));
        assert!(r.contains(&v("5.8.3")));
        assert!(!r.contains(&v("5.8.4")));
        assert!(!r.contains(&v("6.0")));
        assert_eq!(r.fixed_after(&v("5.8.3")), Some(&v("5.8.4")));
    }

    #[test]
    fn introduced_zero_covers_everything_before_the_fix() {
        let r = range(&[("fixed", "2.1"), ("introduced", "0")]);
        assert!(r.contains(&v("0.1")));
        assert!(r.contains(&v("2.0.9")));
        assert!(!r.contains(&v("2.1.0")));
    }

    #[test]
    fn short_and_long_versions_are_the_same_version() {
        // `6.4` and `6.4.0` are one release: fixed in 6.4 means 6.4.0 is safe, and a range
        // introduced at 6.4.0 contains 6.4.
        let r = range(&[("introduced", "6.3"), ("fixed", "6.4")]);
        assert!(!r.contains(&v("6.4.0")));
        assert!(!r.contains(&v("6.4")));
        assert!(r.contains(&v("6.3.9")));
        let r = range(&[("introduced", "6.4.0"), ("fixed", "6.4.2")]);
        assert!(r.contains(&v("6.4")));
        assert!(r.contains(&v("6.4.1")));
        assert!(!r.contains(&v("6.4.2.0")));
    }

    #[test]
    fn several_intervals_in_one_range() {
        // Affected 1.0–1.2.3 and again 2.0–2.0.5 (a regression).
        let r = range(&[
            ("introduced", "1.0"),
            ("fixed", "1.2.3"),
            ("introduced", "2.0"),
            ("fixed", "2.0.5"),
        ]);
        assert!(r.contains(&v("1.1")));
        assert!(!r.contains(&v("1.5")));
        assert!(r.contains(&v("2.0.4")));
        assert!(!r.contains(&v("2.0.5")));
        assert_eq!(r.fixed_after(&v("1.1")), Some(&v("1.2.3")));
        assert_eq!(r.fixed_after(&v("2.0.1")), Some(&v("2.0.5")));
    }

    #[test]
    fn last_affected_is_inclusive_and_has_no_fix() {
        let r = range(&[("introduced", "0"), ("last_affected", "3.2.1")]);
        assert!(r.contains(&v("3.2.1")));
        assert!(!r.contains(&v("3.2.2")));
        assert_eq!(r.fixed_after(&v("3.0")), None);
    }

    #[test]
    fn limit_bounds_without_fixing() {
        let r = range(&[("introduced", "1.0"), ("limit", "2.0")]);
        assert!(r.contains(&v("1.9")));
        assert!(!r.contains(&v("2.0")));
        assert_eq!(r.fixed_after(&v("1.5")), None);
    }

    #[test]
    fn pre_releases_sort_before_their_release() {
        let r = range(&[("introduced", "0"), ("fixed", "6.5")]);
        assert!(r.contains(&v("6.5-RC1")));
        assert!(!r.contains(&v("6.5")));
    }
}
