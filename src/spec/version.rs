//! Software versions as CMSs write them (`6.4`, `6.4.3`, `8.5.2.1`, `6.5-RC1`) and constraints
//! over them (`>=6.4, <7`). Not semver: WordPress and friends use 2 to 4 numeric parts.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A version: 1 to 4 numeric parts and an optional pre-release suffix (`-RC1`, `-beta2`).
#[derive(Debug, Clone)]
pub struct Version {
    parts: Vec<u64>,
    pre: Option<String>,
}

impl Version {
    /// Whether this is a pre-release (`6.5-RC1`).
    pub fn is_pre_release(&self) -> bool {
        self.pre.is_some()
    }

    fn part(&self, i: usize) -> u64 {
        self.parts.get(i).copied().unwrap_or(0)
    }
}

impl FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a version (like `6.4`, `6.4.3` or `8.5.2.1`)");
        let (nums, pre) = match s.split_once('-') {
            Some((n, p))
                if !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') =>
            {
                (n, Some(p.to_owned()))
            }
            Some(_) => return Err(bad()),
            None => (s, None),
        };
        let parts = nums
            .split('.')
            .map(|p| {
                if p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    None
                } else {
                    p.parse().ok()
                }
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(bad)?;
        if parts.is_empty() || parts.len() > 4 {
            return Err(bad());
        }
        Ok(Version { parts, pre })
    }
}

impl Ord for Version {
    /// Missing parts count as zero (`6.4` == `6.4.0`); a pre-release sorts before its release.
    fn cmp(&self, other: &Self) -> Ordering {
        (0..4)
            .map(|i| self.part(i).cmp(&other.part(i)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nums: Vec<String> = self.parts.iter().map(u64::to_string).collect();
        f.write_str(&nums.join("."))?;
        if let Some(p) = &self.pre {
            write!(f, "-{p}")?;
        }
        Ok(())
    }
}

/// A comparison operator in a constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    const ALL: [(&'static str, Op); 7] = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!=", Op::Ne),
        ("==", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
    ];

    fn text(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("=", |(t, _)| t)
    }

    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Eq => o.is_eq(),
            Op::Ne => o.is_ne(),
            Op::Gt => o.is_gt(),
            Op::Ge => o.is_ge(),
            Op::Lt => o.is_lt(),
            Op::Le => o.is_le(),
        }
    }
}

/// A desired version: exact (`"6.4.3"`) or a constraint (`">=6.4, <7"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSpec {
    Exact(Version),
    Constraint(Vec<(Op, Version)>),
}

impl VersionSpec {
    /// Whether a live version satisfies this desired version.
    pub fn matches(&self, live: &Version) -> bool {
        match self {
            VersionSpec::Exact(v) => v == live,
            VersionSpec::Constraint(cs) => cs.iter().all(|(op, v)| op.holds(live.cmp(v))),
        }
    }

    /// The exact version to install, when the spec pins one.
    pub fn exact(&self) -> Option<&Version> {
        match self {
            VersionSpec::Exact(v) => Some(v),
            VersionSpec::Constraint(_) => None,
        }
    }
}

impl FromStr for VersionSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            return s.parse().map(VersionSpec::Exact);
        }
        let mut cs = Vec::new();
        for part in s.split(',').map(str::trim) {
            let (text, op) = Op::ALL
                .iter()
                .find(|(t, _)| part.starts_with(t))
                .ok_or_else(|| {
                    format!("`{s}` is not a version or constraint (like `6.4.3` or `>=6.4, <7`)")
                })?;
            let v = part[text.len()..]
                .trim()
                .parse()
                .map_err(|e| format!("in `{s}`: {e}"))?;
            cs.push((*op, v));
        }
        Ok(VersionSpec::Constraint(cs))
    }
}

impl fmt::Display for VersionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSpec::Exact(v) => write!(f, "{v}"),
            VersionSpec::Constraint(cs) => {
                let parts: Vec<String> = cs
                    .iter()
                    .map(|(op, v)| format!("{}{v}", op.text()))
                    .collect();
                f.write_str(&parts.join(", "))
            }
        }
    }
}

impl Serialize for VersionSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn real_cms_versions_parse_and_order() {
        assert!(v("6.4") == v("6.4.0"));
        assert!(v("6.4.3") > v("6.4"));
        assert!(v("8.5.2.1") > v("8.5.2"));
        assert!(v("6.5-RC1") < v("6.5"));
        assert!("6.4.3.2.1".parse::<Version>().is_err());
        assert!("6..4".parse::<Version>().is_err());
        assert!("latest".parse::<Version>().is_err());
    }

    #[test]
    fn constraints_match() {
        let c: VersionSpec = ">=6.4, <7".parse().unwrap();
        assert!(c.matches(&v("6.4")));
        assert!(c.matches(&v("6.9.9")));
        assert!(!c.matches(&v("7.0")));
        assert!(!c.matches(&v("6.3.2")));
        assert_eq!(c.to_string(), ">=6.4, <7");
        let e: VersionSpec = "6.4.3".parse().unwrap();
        assert!(e.matches(&v("6.4.3")) && !e.matches(&v("6.4.4")));
        assert!(">=6.4, banana".parse::<VersionSpec>().is_err());
        assert!("~>6".parse::<VersionSpec>().is_err());
    }
}
