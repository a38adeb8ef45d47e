//! Just enough HTML for the grader: the attributes of `<meta>` and `<script>` start tags, with
//! comments and raw-text elements skipped and character references decoded. Not a full HTML
//! parser; what it does not see (tags built by scripts) the Observatory does not see either.

use std::collections::BTreeMap;

/// One start tag: lowercased name and attributes (lowercased names, first occurrence wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
}

/// The `<meta>` and `<script>` start tags of `html`, in document order.
pub fn tags(html: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        i += off;
        if lower[i..].starts_with("<!--") {
            i = lower[i..].find("-->").map_or(html.len(), |e| i + e + 3);
            continue;
        }
        let name_end = lower[i + 1..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .map_or(html.len(), |e| i + 1 + e);
        let name = lower[i + 1..name_end].to_owned();
        if name.is_empty() {
            i += 1;
            continue;
        }
        let (attrs, end) = attributes(html, name_end);
        i = end;
        if matches!(name.as_str(), "script" | "style" | "textarea" | "title") {
            let close = format!("</{name}");
            i = lower[i..].find(&close).map_or(html.len(), |e| i + e);
        }
        if matches!(name.as_str(), "meta" | "script") {
            out.push(Tag { name, attrs });
        }
    }
    out
}

/// Reads attributes from `start` to the tag's `>`; returns them and the index after it.
fn attributes(html: &str, start: usize) -> (BTreeMap<String, String>, usize) {
    let b = html.as_bytes();
    let mut attrs = BTreeMap::new();
    let mut i = start;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= b.len() {
            return (attrs, b.len());
        }
        if b[i] == b'>' {
            return (attrs, i + 1);
        }
        let n0 = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let name = html[n0..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let v0 = i + 1;
                let v1 = b[v0..]
                    .iter()
                    .position(|c| *c == q)
                    .map_or(b.len(), |e| v0 + e);
                value = decode(&html[v0..v1]);
                i = (v1 + 1).min(b.len());
            } else {
                let v0 = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                value = decode(&html[v0..i]);
            }
        }
        if !name.is_empty() {
            attrs.entry(name).or_insert(value);
        }
    }
}

/// Decodes the character references attribute values commonly carry.
fn decode(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let Some(semi) = rest.find(';').filter(|n| *n <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meta_and_script_tags_but_not_inside_comments_or_scripts() {
        let html = "<!-- <meta http-equiv=x content=y> --><META HTTP-EQUIV=\"Content-Security-Policy\" \
                    content=\"default-src &#39;self&#39;\"><script>var s='<meta name=referrer content=unsafe-url>';</script>\
                    <script src='https://cdn.test/a.js' integrity=sha384-x></script>";
        let t = tags(html);
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].attrs["http-equiv"], "Content-Security-Policy");
        assert_eq!(t[0].attrs["content"], "default-src 'self'");
        assert_eq!(t[2].attrs["src"], "https://cdn.test/a.js");
        assert_eq!(t[2].attrs["integrity"], "sha384-x");
    }
}
