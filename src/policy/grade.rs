//! Letter grades: the site grade from the grader's score, and a separate TLS grade from the
//! certificate facts alone.
//!
//! Site grade: the MDN HTTP Observatory's chart over its score rounded down to a multiple of 5
//! (anything above 100 counts as 100): A+ 100, A 90–95, A- 85, B+ 80, B 70–75, B- 65, C+ 60,
//! C 50–55, C- 45, D+ 40, D 30–35, D- 25, F below 25.
//!
//! TLS grade, SSL Labs-style caps on what the server presented: no certificate → F; not
//! trusted (unknown issuer, self-signed, expired, refused now) → T; not valid for the host →
//! M; a key below 112-bit security (RSA < 2048) → F; a SHA-1 signature → T. Otherwise A+ for a
//! key of at least 128-bit security (ECDSA P-256, Ed25519, RSA 3072), A for 112-bit (RSA 2048),
//! capped at B when an intermediate is missing or the certificate expires within 14 days.

use serde::Serialize;

use super::grader::CERT_MIN_DAYS;
use super::strength;
use crate::observe::live::TlsObservation;

/// A letter grade, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Grade {
    #[serde(rename = "A+")]
    APlus,
    A,
    #[serde(rename = "A-")]
    AMinus,
    #[serde(rename = "B+")]
    BPlus,
    B,
    #[serde(rename = "B-")]
    BMinus,
    #[serde(rename = "C+")]
    CPlus,
    C,
    #[serde(rename = "C-")]
    CMinus,
    #[serde(rename = "D+")]
    DPlus,
    D,
    #[serde(rename = "D-")]
    DMinus,
    F,
    /// TLS only: the certificate is not trusted (SSL Labs' T).
    T,
    /// TLS only: the certificate is not valid for the host name (SSL Labs' M).
    M,
}

impl Grade {
    /// Every web grade, best first (T and M are TLS grades only).
    pub const ALL: [Grade; 13] = [
        Grade::APlus,
        Grade::A,
        Grade::AMinus,
        Grade::BPlus,
        Grade::B,
        Grade::BMinus,
        Grade::CPlus,
        Grade::C,
        Grade::CMinus,
        Grade::DPlus,
        Grade::D,
        Grade::DMinus,
        Grade::F,
    ];

    /// The grade as written: `A+`, `A`, … `F`.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::APlus => "A+",
            Grade::A => "A",
            Grade::AMinus => "A-",
            Grade::BPlus => "B+",
            Grade::B => "B",
            Grade::BMinus => "B-",
            Grade::CPlus => "C+",
            Grade::C => "C",
            Grade::CMinus => "C-",
            Grade::DPlus => "D+",
            Grade::D => "D",
            Grade::DMinus => "D-",
            Grade::F => "F",
            Grade::T => "T",
            Grade::M => "M",
        }
    }

    /// The site grade for an Observatory score (0 and up; above 100 grades as 100).
    pub fn from_score(score: u16) -> Grade {
        match score - score % 5 {
            100.. => Grade::APlus,
            90..100 => Grade::A,
            85 => Grade::AMinus,
            80 => Grade::BPlus,
            70..80 => Grade::B,
            65 => Grade::BMinus,
            60 => Grade::CPlus,
            50..60 => Grade::C,
            45 => Grade::CMinus,
            40 => Grade::DPlus,
            30..40 => Grade::D,
            25 => Grade::DMinus,
            _ => Grade::F,
        }
    }
}

impl std::fmt::Display for Grade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The TLS grade of what the server presented (`None`: no certificate observed).
pub fn tls_grade(tls: Option<&TlsObservation>) -> Grade {
    let Some(tls) = tls else {
        return Grade::F;
    };
    let bits = strength::observed_bits(&tls.leaf.key).unwrap_or(0);
    if !tls.trusted || tls.days_left < 0 {
        return Grade::T;
    }
    if !tls.host_match {
        return Grade::M;
    }
    if bits < 112 {
        return Grade::F;
    }
    if tls.leaf.signature.to_ascii_lowercase().contains("sha1") || tls.verify_error.is_some() {
        return Grade::T;
    }
    let mut grade = if bits >= 128 { Grade::APlus } else { Grade::A };
    if tls.days_left < CERT_MIN_DAYS || tls.missing_intermediate {
        grade = grade.max(Grade::B);
    }
    grade
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::live::CertInfo;

    #[test]
    fn score_scale_boundaries() {
        let cases = [
            (135, Grade::APlus),
            (100, Grade::APlus),
            (99, Grade::A),
            (90, Grade::A),
            (89, Grade::AMinus),
            (84, Grade::BPlus),
            (79, Grade::B),
            (69, Grade::BMinus),
            (64, Grade::CPlus),
            (50, Grade::C),
            (49, Grade::CMinus),
            (40, Grade::DPlus),
            (30, Grade::D),
            (25, Grade::DMinus),
            (24, Grade::F),
            (0, Grade::F),
        ];
        for (score, grade) in cases {
            assert_eq!(Grade::from_score(score), grade, "{score}");
        }
        assert_eq!(serde_json::json!(Grade::APlus), "A+");
    }

    fn cert(key: &str, days_left: i64) -> TlsObservation {
        TlsObservation {
            leaf: CertInfo {
                key: key.into(),
                signature: "ecdsa-sha256".into(),
                ..CertInfo::default()
            },
            trusted: true,
            host_match: true,
            days_left,
            ..TlsObservation::default()
        }
    }

    #[test]
    fn tls_grade_from_certificate_facts() {
        assert_eq!(tls_grade(Some(&cert("ecdsa-p256", 90))), Grade::APlus);
        assert_eq!(tls_grade(Some(&cert("rsa-2048", 90))), Grade::A);
        assert_eq!(tls_grade(Some(&cert("ecdsa-p256", 5))), Grade::B);
        assert_eq!(tls_grade(Some(&cert("ecdsa-p256", -1))), Grade::T);
        assert_eq!(tls_grade(Some(&cert("rsa-1024", 90))), Grade::F);
        let mut sha1 = cert("rsa-2048", 5);
        sha1.leaf.signature = "sha1-rsa".into();
        assert_eq!(tls_grade(Some(&sha1)), Grade::T);
        let untrusted = TlsObservation {
            trusted: false,
            ..cert("ecdsa-p256", 90)
        };
        assert_eq!(tls_grade(Some(&untrusted)), Grade::T);
        let mismatch = TlsObservation {
            host_match: false,
            ..cert("ecdsa-p256", 90)
        };
        assert_eq!(tls_grade(Some(&mismatch)), Grade::M);
        // Untrusted wins over a name mismatch, as in SSL Labs.
        let both = TlsObservation {
            trusted: false,
            host_match: false,
            ..cert("ecdsa-p256", 90)
        };
        assert_eq!(tls_grade(Some(&both)), Grade::T);
        assert_eq!(tls_grade(None), Grade::F);
    }
}
