//! A marked block inside a file that siteward shares with people and other tools (a
//! `_headers` file, a `.htaccess` that WordPress also writes): find it between its two marker
//! lines and replace only it, keeping every other byte of the file.

use std::ops::Range;

/// The two lines that delimit siteward's block.
#[derive(Debug, Clone, Copy)]
pub struct Markers {
    pub begin: &'static str,
    pub end: &'static str,
}

/// Where a new block goes in a file that has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Before everything else (rules that must run before the file's own, such as a redirect
    /// ahead of WordPress's rewrites), followed by a blank line.
    Start,
    /// After everything else, preceded by a blank line.
    End,
}

impl Markers {
    /// The byte range of the block's lines in `text`, markers included; `None` without one.
    /// Duplicate or unmatched markers are an error: siteward does not guess which is its own.
    pub fn locate(&self, text: &str) -> Result<Option<Range<usize>>, String> {
        let (begin_marker, end_marker) = (self.begin, self.end);
        let mut begin = None;
        let mut found = None;
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim_end();
            if trimmed == begin_marker {
                if begin.is_some() || found.is_some() {
                    return Err(format!(
                        "`{begin_marker}` appears twice; keep one block and fix the file by hand"
                    ));
                }
                begin = Some(offset);
            } else if trimmed == end_marker {
                match begin.take() {
                    Some(b) if found.is_none() => found = Some(b..offset + line.len()),
                    _ => {
                        return Err(format!(
                            "`{end_marker}` without a matching `{begin_marker}`; fix the file by hand"
                        ));
                    }
                }
            }
            offset += line.len();
        }
        if begin.is_some() {
            return Err(format!(
                "`{begin_marker}` without `{end_marker}`; fix the file by hand"
            ));
        }
        Ok(found)
    }

    /// The block of `text` (markers included); `None` without one.
    pub fn block<'a>(&self, text: &'a str) -> Result<Option<&'a str>, String> {
        Ok(self.locate(text)?.map(|r| &text[r]))
    }

    /// `current` with the block replaced by `block`; a file without one gets it at `place`.
    pub fn splice(&self, current: &str, block: &str, place: Place) -> Result<String, String> {
        if let Some(range) = self.locate(current)? {
            let mut out = current.to_owned();
            out.replace_range(range, block);
            return Ok(out);
        }
        if current.is_empty() {
            return Ok(block.to_owned());
        }
        Ok(match place {
            Place::Start => format!("{block}\n{current}"),
            Place::End => {
                let newline = if current.ends_with('\n') { "" } else { "\n" };
                format!("{current}{newline}\n{block}")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: Markers = Markers {
        begin: "# BEGIN x",
        end: "# END x",
    };
    const BLOCK: &str = "# BEGIN x\nA\n# END x\n";

    #[test]
    fn a_new_block_goes_first_or_last_keeping_the_rest() {
        assert_eq!(M.splice("", BLOCK, Place::Start).unwrap(), BLOCK);
        assert_eq!(
            M.splice("mine\n", BLOCK, Place::Start).unwrap(),
            format!("{BLOCK}\nmine\n")
        );
        assert_eq!(
            M.splice("mine", BLOCK, Place::End).unwrap(),
            format!("mine\n\n{BLOCK}")
        );
    }

    #[test]
    fn only_the_block_is_replaced_and_again_is_the_same() {
        let text = format!("a\r\n{BLOCK}b\n");
        let new = "# BEGIN x\nB\n# END x\n";
        let once = M.splice(&text, new, Place::Start).unwrap();
        assert_eq!(once, format!("a\r\n{new}b\n"));
        assert_eq!(M.splice(&once, new, Place::End).unwrap(), once);
        assert_eq!(M.block(&once).unwrap(), Some(new));
    }

    #[test]
    fn broken_markers_are_refused() {
        for bad in [
            "# BEGIN x\n",
            "# END x\n",
            "# BEGIN x\n# END x\n# BEGIN x\n# END x\n",
            "# BEGIN x\n# BEGIN x\n# END x\n",
        ] {
            assert!(M.splice(bad, BLOCK, Place::Start).is_err(), "{bad:?}");
        }
    }
}
