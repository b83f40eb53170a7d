//! Key and signing-secret material: generation, hashing, comparison.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every API key starts with this, so that secret scanners (and people)
/// recognise one in a log or a repository.
pub const KEY_PREFIX: &str = "ga_";
/// The Standard Webhooks prefix of a signing secret.
pub const SIGNING_PREFIX: &str = "whsec_";

/// A new API key: `ga_` + 32 random bytes in lower-case base32.
pub fn new_key() -> anyhow::Result<String> {
    let bytes = random_bytes::<32>()?;
    Ok(format!(
        "{KEY_PREFIX}{}",
        data_encoding::BASE32_NOPAD
            .encode(&bytes)
            .to_ascii_lowercase()
    ))
}

/// A new signing secret: `whsec_` + base64 of 32 random bytes, as Svix and
/// the Standard Webhooks libraries generate and expect them.
pub fn new_signing_secret() -> anyhow::Result<String> {
    let bytes = random_bytes::<32>()?;
    Ok(format!(
        "{SIGNING_PREFIX}{}",
        data_encoding::BASE64.encode(&bytes)
    ))
}

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("the operating system's random source failed: {e}"))?;
    Ok(bytes)
}

/// What is stored for a key: lower-case hex SHA-256 of its text.
pub fn hash_key(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        use std::fmt::Write;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Compares two secrets (or their hashes) in time that does not depend on
/// where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Whether a chosen key (`BOOTSTRAP_ADMIN_KEY`) is long enough to be one:
/// at least 32 characters, printable ASCII, no spaces.
pub fn check_chosen_key(key: &str) -> Result<(), String> {
    if key.len() < 32 {
        return Err(
            "must be at least 32 characters (generate one with `openssl rand -hex 32`)".into(),
        );
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces".into());
    }
    Ok(())
}

/// The key bytes of a `whsec_` secret.
pub fn signing_key_bytes(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix(SIGNING_PREFIX)
        .ok_or_else(|| format!("a signing secret starts with `{SIGNING_PREFIX}`"))?;
    data_encoding::BASE64
        .decode(encoded.as_bytes())
        .map_err(|_| "a signing secret is `whsec_` followed by base64".to_string())
        .and_then(|bytes| {
            if bytes.len() < 16 {
                Err("a signing secret holds at least 16 bytes".into())
            } else {
                Ok(bytes)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_random_and_hashed_to_hex() {
        let a = new_key().unwrap();
        let b = new_key().unwrap();
        assert!(a.starts_with("ga_") && a.len() == 3 + 52, "{a}");
        assert_ne!(a, b);
        let h = hash_key(&a);
        assert_eq!(h.len(), 64);
        assert!(h
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn signing_secrets_decode_to_their_key_bytes() {
        let s = new_signing_secret().unwrap();
        assert_eq!(signing_key_bytes(&s).unwrap().len(), 32);
        assert!(signing_key_bytes("nope").is_err());
        assert!(signing_key_bytes("whsec_!!!").is_err());
        assert!(signing_key_bytes("whsec_AAAA").is_err());
    }

    #[test]
    fn comparison_is_exact() {
        assert!(same("ga_abc", "ga_abc"));
        assert!(!same("ga_abc", "ga_abd"));
        assert!(!same("ga_abc", "ga_ab"));
    }

    #[test]
    fn chosen_keys_must_be_long_and_printable() {
        assert!(check_chosen_key("short").is_err());
        assert!(check_chosen_key(&"x".repeat(32)).is_ok());
        assert!(check_chosen_key(&format!("{} y", "x".repeat(32))).is_err());
    }
}
