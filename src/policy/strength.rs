//! Certificate key strength as NIST SP 800-57 Part 1 (Table 2) rates it, in bits of security:
//! RSA 2048 = 112; RSA 3072 and RSA 4096 = 128 (4096 is below the 7680 needed for 192);
//! ECDSA P-256 and Ed25519 = 128; ECDSA P-384 = 192; P-521 = 256. Keys compare by these bits
//! only, so `cert_min_key: rsa-3072` accepts `ecdsa-p256` and `rsa-4096` alike.

use crate::spec::KeyType;

/// Bits of security a required key type stands for.
pub fn required_bits(key: KeyType) -> u16 {
    match key {
        KeyType::Rsa2048 => 112,
        KeyType::Rsa3072 | KeyType::Rsa4096 | KeyType::EcdsaP256 | KeyType::Ed25519 => 128,
        KeyType::EcdsaP384 => 192,
    }
}

/// Bits of security of an observed key (`rsa-2048`, `ecdsa-p384`, `ed25519`, …); `None` when
/// the key type is not known.
pub fn observed_bits(key: &str) -> Option<u16> {
    if let Some(size) = key.strip_prefix("rsa-") {
        let n: u32 = size.parse().ok()?;
        return Some(match n {
            0..1024 => 0,
            1024..2048 => 80,
            2048..3072 => 112,
            3072..7680 => 128,
            7680..15360 => 192,
            _ => 256,
        });
    }
    match key {
        "ecdsa-p256" | "ed25519" => Some(128),
        "ecdsa-p384" => Some(192),
        "ecdsa-p521" => Some(256),
        "ed448" => Some(224),
        _ => None,
    }
}

/// A key type to suggest when a certificate must reach `bits`.
pub fn suggestion(bits: u16) -> &'static str {
    if bits <= 128 {
        "ecdsa-p256"
    } else {
        "ecdsa-p384"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_p256_equals_rsa_3072_and_beats_rsa_2048() {
        let p256 = observed_bits("ecdsa-p256");
        assert_eq!(p256, Some(required_bits(KeyType::Rsa3072)));
        assert_eq!(p256, Some(required_bits(KeyType::Rsa4096)));
        assert!(observed_bits("rsa-2048") < p256);
        assert!(observed_bits("ecdsa-p384") > observed_bits("rsa-4096"));
        assert_eq!(observed_bits("rsa-1024"), Some(80));
        assert_eq!(observed_bits("dsa-1024"), None);
        assert_eq!(observed_bits("rsa-lots"), None);
    }

    #[test]
    fn every_key_type_observed_under_its_own_name_meets_itself() {
        for name in KeyType::ALL {
            let key: KeyType = name.parse().expect("keyword");
            assert_eq!(observed_bits(name), Some(required_bits(key)), "{name}");
        }
    }
}
