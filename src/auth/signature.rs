//! Standard Webhooks signatures (standardwebhooks.com, the scheme of Svix):
//! `webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256>` of
//! `"{webhook-id}.{webhook-timestamp}.{raw body}"` under the secret's key
//! bytes. Verified on the raw bytes, before anything parses them.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::secret::signing_key_bytes;

/// How far `webhook-timestamp` may be from now, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// The signature headers of a request, as sent.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// A request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub id: String,
    pub timestamp: i64,
}

/// Why a signed request was refused (all 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("this key requires signed webhooks: the `{0}` header is missing")]
    Missing(&'static str),
    #[error("`webhook-timestamp` must be Unix seconds")]
    BadTimestamp,
    #[error("`webhook-timestamp` is {0} s from now: more than the 300 s tolerance (check the sender's clock, or it is a replay)")]
    Stale(i64),
    #[error("`webhook-signature` matches none of this key's signing secrets")]
    NoMatch,
}

/// Checks a request against every signing secret of its key: any one
/// matching any `v1` signature is enough (secrets rotate). `now` is Unix
/// seconds.
pub fn verify(
    headers: SignedHeaders<'_>,
    body: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<Verified, SignatureError> {
    let id = headers
        .id
        .filter(|v| !v.is_empty())
        .ok_or(SignatureError::Missing("webhook-id"))?;
    let timestamp_text = headers
        .timestamp
        .ok_or(SignatureError::Missing("webhook-timestamp"))?;
    let signature = headers
        .signature
        .ok_or(SignatureError::Missing("webhook-signature"))?;
    let timestamp: i64 = timestamp_text
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew = timestamp.saturating_sub(now);
    if skew.abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale(skew));
    }
    let candidates: Vec<Vec<u8>> = signature
        .split_whitespace()
        .filter_map(|part| part.strip_prefix("v1,"))
        .filter_map(|b64| data_encoding::BASE64.decode(b64.as_bytes()).ok())
        .collect();
    for secret in secrets {
        let Ok(key) = signing_key_bytes(secret) else {
            continue;
        };
        for candidate in &candidates {
            // `verify_slice` compares in constant time.
            if mac(&key, id, timestamp_text, body)
                .verify_slice(candidate)
                .is_ok()
            {
                return Ok(Verified {
                    id: id.to_owned(),
                    timestamp,
                });
            }
        }
    }
    Err(SignatureError::NoMatch)
}

fn mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value a sender puts on `body` (for tests, the
/// benchmark and the documentation's examples).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let key = signing_key_bytes(secret)?;
    let tag = mac(&key, id, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    Ok(format!("v1,{}", data_encoding::BASE64.encode(&tag)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference tests.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers<'a>(sig: &'a str, ts: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            id: Some(ID),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn signs_as_the_specification_example_does() {
        assert_eq!(sign(SECRET, ID, TS, BODY).unwrap(), EXPECTED);
    }

    #[test]
    fn a_matching_signature_among_several_verifies() {
        let sig = format!("v1,bm90IGl0 {EXPECTED} v2,whatever");
        let ts = TS.to_string();
        let ok = verify(headers(&sig, &ts), BODY, &[SECRET.into()], TS + 10).unwrap();
        assert_eq!(ok.id, ID);
    }

    #[test]
    fn any_of_the_keys_secrets_may_have_signed() {
        let ts = TS.to_string();
        let other = super::super::secret::new_signing_secret().unwrap();
        assert!(verify(
            headers(EXPECTED, &ts),
            BODY,
            &[other.clone(), SECRET.into()],
            TS
        )
        .is_ok());
        assert_eq!(
            verify(headers(EXPECTED, &ts), BODY, &[other], TS),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn a_changed_body_or_id_fails() {
        let ts = TS.to_string();
        assert_eq!(
            verify(
                headers(EXPECTED, &ts),
                b"{\"test\": 1}",
                &[SECRET.into()],
                TS
            ),
            Err(SignatureError::NoMatch)
        );
        let h = SignedHeaders {
            id: Some("msg_other"),
            ..headers(EXPECTED, &ts)
        };
        assert_eq!(
            verify(h, BODY, &[SECRET.into()], TS),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn timestamps_outside_five_minutes_fail_either_way() {
        let ts = TS.to_string();
        assert!(verify(headers(EXPECTED, &ts), BODY, &[SECRET.into()], TS + 300).is_ok());
        assert_eq!(
            verify(headers(EXPECTED, &ts), BODY, &[SECRET.into()], TS + 301),
            Err(SignatureError::Stale(-301))
        );
        assert!(matches!(
            verify(headers(EXPECTED, &ts), BODY, &[SECRET.into()], TS - 301),
            Err(SignatureError::Stale(301))
        ));
        assert_eq!(
            verify(headers(EXPECTED, "soon"), BODY, &[SECRET.into()], TS),
            Err(SignatureError::BadTimestamp)
        );
    }

    #[test]
    fn missing_headers_are_named() {
        let h = SignedHeaders {
            id: None,
            timestamp: None,
            signature: None,
        };
        assert_eq!(
            verify(h, BODY, &[SECRET.into()], TS),
            Err(SignatureError::Missing("webhook-id"))
        );
    }
}
