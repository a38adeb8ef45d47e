//! A stapled OCSP response, read (RFC 6960): the answer for the served certificate — good,
//! revoked or unknown — and the window it is valid in (`thisUpdate` to `nextUpdate`).
//!
//! The response's signature is not checked: the server that staples it is the one being
//! observed, and a client that relies on stapling checks it itself. What is read is what the
//! server presents to every client.

use chrono::{DateTime, NaiveDateTime, Utc};

/// What the responder said about the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertStatus {
    Good,
    /// Revoked at this time (RFC 3339).
    Revoked(String),
    Unknown,
}

/// A stapled response's answer for the served certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stapled {
    pub status: CertStatus,
    pub this_update: DateTime<Utc>,
    /// `None`: the responder promises no newer information.
    pub next_update: Option<DateTime<Utc>>,
}

/// Reads the DER `response` for the certificate with serial number `serial` (its DER
/// integer content bytes). An error says in words what is wrong with it.
pub fn read(response: &[u8], serial: &[u8]) -> Result<Stapled, String> {
    let mut outer = Der::new(response).sequence()?;
    let status = outer.take(0x0a)?;
    match status.bytes {
        [0] => {}
        [code] => return Err(format!("the responder answered an error (status {code})")),
        _ => return Err("malformed response status".to_owned()),
    }
    let mut bytes = outer.take(0xa0)?.sequence()?;
    bytes.take(0x06)?; // responseType: id-pkix-ocsp-basic is the only one defined.
    let basic = bytes.take(0x04)?;
    let mut basic = basic.sequence()?;
    let mut data = basic.take(0x30)?;
    if data.peek() == Some(0xa0) {
        data.take(0xa0)?; // version
    }
    data.next()?; // responderID
    data.take(0x18)?; // producedAt
    let mut responses = data.take(0x30)?;
    while !responses.is_empty() {
        let mut single = responses.take(0x30)?;
        let mut cert_id = single.take(0x30)?;
        cert_id.take(0x30)?; // hashAlgorithm
        cert_id.take(0x04)?; // issuerNameHash
        cert_id.take(0x04)?; // issuerKeyHash
        if cert_id.take(0x02)?.bytes != serial {
            continue;
        }
        let status = single.next()?;
        let status = match status.tag {
            0x80 => CertStatus::Good,
            0xa1 => CertStatus::Revoked(time(status.contents().take(0x18)?.bytes)?.to_rfc3339()),
            0x82 => CertStatus::Unknown,
            _ => return Err("malformed certificate status".to_owned()),
        };
        let this_update = time(single.take(0x18)?.bytes)?;
        let next_update = match single.peek() {
            Some(0xa0) => Some(time(single.take(0xa0)?.contents().take(0x18)?.bytes)?),
            _ => None,
        };
        return Ok(Stapled {
            status,
            this_update,
            next_update,
        });
    }
    Err("it answers for another certificate, not the one served".to_owned())
}

/// A GeneralizedTime (`YYYYMMDDHHMMSS[.fff]Z`).
fn time(bytes: &[u8]) -> Result<DateTime<Utc>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "malformed time".to_owned())?;
    let whole = text
        .strip_suffix('Z')
        .map(|t| t.split('.').next().unwrap_or(t))
        .ok_or_else(|| format!("malformed time `{text}`"))?;
    NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S")
        .map(|t| t.and_utc())
        .map_err(|_| format!("malformed time `{text}`"))
}

/// One DER element — its tag and content, read as the run of elements it holds — or (tag 0)
/// a reader over a run of elements.
#[derive(Debug, Clone, Copy)]
struct Der<'a> {
    tag: u8,
    bytes: &'a [u8],
}

impl<'a> Der<'a> {
    /// A reader over `bytes`, a run of elements.
    fn new(bytes: &'a [u8]) -> Der<'a> {
        Der { tag: 0, bytes }
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.first().copied()
    }

    /// The next element.
    fn next(&mut self) -> Result<Der<'a>, String> {
        let truncated = || "truncated DER".to_owned();
        let (&tag, rest) = self.bytes.split_first().ok_or_else(truncated)?;
        let (&first, rest) = rest.split_first().ok_or_else(truncated)?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err("unsupported DER length".to_owned());
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return Err(truncated());
        }
        let (bytes, rest) = rest.split_at(len);
        self.bytes = rest;
        Ok(Der { tag, bytes })
    }

    /// The next element, which must have `tag`.
    fn take(&mut self, tag: u8) -> Result<Der<'a>, String> {
        let element = self.next()?;
        if element.tag != tag {
            return Err(format!(
                "unexpected DER tag 0x{:02x} where 0x{tag:02x} belongs",
                element.tag
            ));
        }
        Ok(element)
    }

    /// A reader over this SEQUENCE's elements, or over those of the one SEQUENCE this
    /// element (a reader, an OCTET STRING, an explicit tag) holds.
    fn sequence(self) -> Result<Der<'a>, String> {
        if self.tag == 0x30 {
            return Ok(self);
        }
        Ok(Der::new(Der::new(self.bytes).take(0x30)?.bytes))
    }

    /// A reader over this constructed element's content (an explicit tag, a RevokedInfo).
    fn contents(self) -> Der<'a> {
        Der::new(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_or_foreign_bytes_are_errors_not_panics() {
        for bytes in [
            &[][..],
            &[0x30],
            &[0x30, 0x82, 0xff],
            &[0x30, 0x03, 0x0a, 0x01, 0x01],
            &[0x30, 0x03, 0x0a, 0x01, 0x00],
            &[0x04, 0x00],
        ] {
            assert!(read(bytes, &[1]).is_err(), "{bytes:?}");
        }
        assert_eq!(
            read(&[0x30, 0x03, 0x0a, 0x01, 0x06], &[1]).unwrap_err(),
            "the responder answered an error (status 6)"
        );
    }

    #[test]
    fn generalized_times() {
        assert_eq!(
            time(b"20261201093000Z").unwrap().to_rfc3339(),
            "2026-12-01T09:30:00+00:00"
        );
        assert_eq!(
            time(b"20261201093000.123Z").unwrap().to_rfc3339(),
            "2026-12-01T09:30:00+00:00"
        );
        assert!(time(b"20261201093000").is_err());
    }
}
