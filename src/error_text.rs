//! One line of error text with its causes (`what: why: root cause`), for errors that end up in a
//! plan, record or message rather than going up to `main` (where anyhow prints the chain).
//! Error types keep their cause as `#[source]` only, never also in their own message.

/// `e` and its sources joined by `: `, innermost last, skipping a cause already contained in
/// the text before it.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("cannot read `x`")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_are_joined_once() {
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        assert_eq!(super::chain(&e), "cannot read `x`: no such file");
    }
}
