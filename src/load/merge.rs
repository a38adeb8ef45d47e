//! Deep merge of located YAML trees: policy defaults under a site. Mappings merge key by key
//! (header names ignoring case); scalars and lists from the upper layer replace the lower one.
//! Every node keeps the location of the file it came from.

use std::collections::{HashMap, HashSet};

use crate::yaml::{Entry, Kind, Node};

/// `top` laid over `base`.
pub fn overlay(base: &Node, top: &Node) -> Node {
    merge(base, top, false)
}

fn merge(base: &Node, top: &Node, case_insensitive_keys: bool) -> Node {
    let (Kind::Map(lower), Kind::Map(upper)) = (&base.kind, &top.kind) else {
        return top.clone();
    };
    let fold = |k: &str| -> String {
        if case_insensitive_keys {
            k.to_ascii_lowercase()
        } else {
            k.to_owned()
        }
    };
    // Lookups by key keep a merge of two large mappings (labels) linear.
    let upper_keys: HashSet<String> = upper.iter().map(|u| fold(&u.key)).collect();
    let mut lower_by_key: HashMap<String, &Entry> = HashMap::with_capacity(lower.len());
    for l in lower {
        lower_by_key.entry(fold(&l.key)).or_insert(l);
    }
    let mut entries: Vec<Entry> = lower
        .iter()
        .filter(|l| !upper_keys.contains(&fold(&l.key)))
        .cloned()
        .collect();
    for u in upper {
        let value = match lower_by_key.get(&fold(&u.key)) {
            Some(l) => merge(&l.value, &u.value, u.key == "headers"),
            None => u.value.clone(),
        };
        entries.push(Entry {
            key: u.key.clone(),
            key_loc: u.key_loc.clone(),
            value,
        });
    }
    Node::new(Kind::Map(entries), top.loc.clone())
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
        let merged = overlay(&policy, &site);
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
        let merged = overlay(&policy, &site);
        match &merged.get("checks").unwrap().kind {
            Kind::Seq(items) => assert_eq!(items.len(), 1),
            _ => panic!("checks must stay a list"),
        }
    }
}
