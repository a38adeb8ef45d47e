//! Deep merge of located YAML trees: policy defaults under a site. Mappings merge key by key
//! (header names ignoring case); scalars and lists from the upper layer replace the lower one.
//! Every node keeps the location of the file it came from.

use std::collections::{HashMap, HashSet};

use crate::yaml::{Entry, Kind, Node};

/// Above this many key pairs (lower × upper), mappings are matched through hash sets instead
/// of by comparing every pair: a merge of two large mappings (labels) stays linear.
const SCANNED_PAIRS: usize = 256;

/// `top` laid over `base`. `top` is moved into the result; only what `base` adds is copied.
pub fn overlay(base: &Node, top: Node) -> Node {
    merge(base, top, false)
}

fn merge(base: &Node, top: Node, case_insensitive_keys: bool) -> Node {
    let Kind::Map(lower) = &base.kind else {
        return top;
    };
    let Node {
        kind: Kind::Map(upper),
        loc,
        ..
    } = top
    else {
        return top;
    };
    let same = |a: &str, b: &str| {
        if case_insensitive_keys {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    // For each upper entry, the index of the lower entry it merges with (the first of equal
    // keys), and which lower entries are overridden.
    let mut matched: Vec<Option<usize>> = Vec::with_capacity(upper.len());
    let mut overridden = vec![false; lower.len()];
    if lower.len() * upper.len() <= SCANNED_PAIRS {
        for u in &upper {
            matched.push(lower.iter().position(|l| same(&l.key, &u.key)));
            for (i, l) in lower.iter().enumerate() {
                overridden[i] |= same(&l.key, &u.key);
            }
        }
    } else {
        let fold = |k: &str| -> String {
            if case_insensitive_keys {
                k.to_ascii_lowercase()
            } else {
                k.to_owned()
            }
        };
        let mut lower_by_key: HashMap<String, usize> = HashMap::with_capacity(lower.len());
        for (i, l) in lower.iter().enumerate() {
            lower_by_key.entry(fold(&l.key)).or_insert(i);
        }
        let upper_keys: HashSet<String> = upper.iter().map(|u| fold(&u.key)).collect();
        for u in &upper {
            matched.push(lower_by_key.get(&fold(&u.key)).copied());
        }
        for (i, l) in lower.iter().enumerate() {
            overridden[i] = upper_keys.contains(&fold(&l.key));
        }
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(lower.len() + upper.len());
    entries.extend(
        lower
            .iter()
            .zip(&overridden)
            .filter(|(_, over)| !**over)
            .map(|(l, _)| l.clone()),
    );
    for (u, found) in upper.into_iter().zip(matched) {
        let headers = u.key == "headers";
        let value = match found {
            Some(i) => merge(&lower[i].value, u.value, headers),
            None => u.value,
        };
        entries.push(Entry { value, ..u });
    }
    Node::new(Kind::Map(entries), loc)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::yaml::node::parse;

    fn yaml(path: &str, text: &str) -> Node {
        parse(&Arc::from(path), text).unwrap()
    }

    fn text(node: &Node) -> &str {
        match &node.kind {
            Kind::Scalar { text, .. } => text,
            _ => panic!("not a scalar"),
        }
    }

    #[test]
    fn maps_merge_deeply_and_site_scalars_win() {
        let policy = yaml(
            "p.yaml",
            "sync: observe\nheaders:\n  X-Frame-Options: DENY\n  Referrer-Policy: no-referrer\n",
        );
        let site = yaml(
            "s.yaml",
            "sync: auto\nheaders:\n  x-frame-options: SAMEORIGIN\n",
        );
        let merged = overlay(&policy, site);
        assert_eq!(text(merged.get("sync").unwrap()), "auto");
        let headers = merged.get("headers").unwrap().entries().unwrap();
        assert_eq!(
            headers.len(),
            2,
            "case-insensitive header keys merge into one"
        );
        let xfo = headers
            .iter()
            .find(|e| e.key.eq_ignore_ascii_case("x-frame-options"))
            .unwrap();
        assert_eq!(text(&xfo.value), "SAMEORIGIN");
        assert_eq!(&*xfo.value.loc.path, "s.yaml");
        let rp = headers.iter().find(|e| e.key == "Referrer-Policy").unwrap();
        assert_eq!(
            &*rp.value.loc.path, "p.yaml",
            "inherited values keep their own file"
        );
    }

    #[test]
    fn lists_are_replaced_not_appended() {
        let policy = yaml("p.yaml", "checks:\n  - {name: a}\n  - {name: b}\n");
        let site = yaml("s.yaml", "checks:\n  - {name: c}\n");
        let merged = overlay(&policy, site);
        match &merged.get("checks").unwrap().kind {
            Kind::Seq(items) => assert_eq!(items.len(), 1),
            _ => panic!("checks must stay a list"),
        }
    }
}
