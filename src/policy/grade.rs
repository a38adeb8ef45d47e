//! Letter grades: the site grade from the grader's score, and a separate TLS grade from the
//! certificate facts alone.
//!
//! Site grade: A+ 95–100, A 85–94, B 70–84, C 55–69, D 40–54, F 0–39.
//!
//! TLS grade: F when there is no certificate, it is not trusted, not valid for the host,
//! expired or refused by clients right now, or its key is below 112-bit security (RSA 2048);
//! otherwise A+ for a key of at least 128-bit security (ECDSA P-256, Ed25519, RSA 3072), A for
//! 112-bit (RSA 2048), capped at B when it expires within 14 days and at C when it is signed
//! with SHA-1.

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
    B,
    C,
    D,
    F,
}

impl Grade {
    /// Every grade, best first.
    pub const ALL: [Grade; 6] = [
        Grade::APlus,
        Grade::A,
        Grade::B,
        Grade::C,
        Grade::D,
        Grade::F,
    ];

    /// The grade as written: `A+`, `A`, … `F`.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::APlus => "A+",
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
            Grade::F => "F",
        }
    }

    /// The site grade for a 0–100 score.
    pub fn from_score(score: u8) -> Grade {
        match score {
            95.. => Grade::APlus,
            85..95 => Grade::A,
            70..85 => Grade::B,
            55..70 => Grade::C,
            40..55 => Grade::D,
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
    let broken = !tls.trusted || !tls.host_match || tls.days_left < 0 || tls.verify_error.is_some();
    if broken || bits < 112 {
        return Grade::F;
    }
    let mut grade = if bits >= 128 { Grade::APlus } else { Grade::A };
    if tls.days_left < CERT_MIN_DAYS {
        grade = grade.max(Grade::B);
    }
    if tls.leaf.signature.to_ascii_lowercase().contains("sha1") {
        grade = grade.max(Grade::C);
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
            (100, Grade::APlus),
            (95, Grade::APlus),
            (94, Grade::A),
            (85, Grade::A),
            (84, Grade::B),
            (70, Grade::B),
            (69, Grade::C),
            (55, Grade::C),
            (54, Grade::D),
            (40, Grade::D),
            (39, Grade::F),
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
        assert_eq!(tls_grade(Some(&cert("ecdsa-p256", -1))), Grade::F);
        assert_eq!(tls_grade(Some(&cert("rsa-1024", 90))), Grade::F);
        let mut sha1 = cert("rsa-2048", 5);
        sha1.leaf.signature = "sha1-rsa".into();
        assert_eq!(tls_grade(Some(&sha1)), Grade::C);
        let untrusted = TlsObservation {
            trusted: false,
            ..cert("ecdsa-p256", 90)
        };
        assert_eq!(tls_grade(Some(&untrusted)), Grade::F);
        let mismatch = TlsObservation {
            host_match: false,
            ..cert("ecdsa-p256", 90)
        };
        assert_eq!(tls_grade(Some(&mismatch)), Grade::F);
        assert_eq!(tls_grade(None), Grade::F);
    }
}
