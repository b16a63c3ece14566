//! `X-Twilio-Signature`: Twilio signs every webhook request with the account's auth token.
//!
//! The signature is the base64 HMAC-SHA1, keyed with the auth token, of the full URL
//! Twilio requested (scheme, host, path and query, as configured in the console) followed,
//! for a form-encoded `POST`, by every parameter sorted by name, each written as its name
//! then its value (the values of a repeated name sorted and each once). Checked on the
//! decoded bytes, in constant time. The test vectors are those of Twilio's own SDKs.

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;
use url::Url;

/// The signature header Twilio sends.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

type HmacSha1 = Hmac<Sha1>;

/// Why a signature was refused. Messages never contain the token or the expected value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The `X-Twilio-Signature` header is missing.
    #[error("the X-Twilio-Signature header is missing")]
    Missing,
    /// The header is not base64 of a 20-byte HMAC-SHA1.
    #[error("the X-Twilio-Signature header is not the base64 of an HMAC-SHA1")]
    Malformed,
    /// The signature does not match the URL and parameters: a wrong auth token, a URL
    /// other than the one Twilio was given (a proxy rewrote it, `http` for `https`), a body
    /// changed on the way, or a forged request.
    #[error("the X-Twilio-Signature signature does not match the URL and parameters")]
    Mismatch,
}

fn mac(auth_token: &SecretString, url: &str, params: &[(String, String)]) -> HmacSha1 {
    // HMAC takes keys of any length (long keys are hashed), so this cannot fail.
    let mut mac = <HmacSha1 as Mac>::new_from_slice(auth_token.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    // By name, then by value, each pair once: a repeated name (`MediaUrl`) has one order
    // whatever order the body gave, and a repeated pair counts once, as Twilio's own
    // validators do.
    sorted.sort();
    sorted.dedup();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The `X-Twilio-Signature` value Twilio sends for a request to `url` with the form
/// parameters `params` (empty for a `GET`), under `auth_token`. For tests and relays.
///
/// ```
/// use hubflow::twilio::{sign, verify_signature};
/// use secrecy::SecretString;
///
/// // The vector of Twilio's own SDK tests.
/// let token = SecretString::from("12345");
/// let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
/// let params = vec![
///     ("CallSid".to_owned(), "CA1234567890ABCDE".to_owned()),
///     ("Caller".to_owned(), "+14158675309".to_owned()),
///     ("Digits".to_owned(), "1234".to_owned()),
///     ("From".to_owned(), "+14158675309".to_owned()),
///     ("To".to_owned(), "+18005551212".to_owned()),
/// ];
/// let signature = sign(&token, url, &params);
/// assert_eq!(signature, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
/// assert_eq!(verify_signature(&token, url, &params, Some(&signature)), Ok(()));
/// ```
pub fn sign(auth_token: &SecretString, url: &str, params: &[(String, String)]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(mac(auth_token, url, params).finalize().into_bytes())
}

/// Checks an `X-Twilio-Signature` header (`None` if absent: an error, never a pass) for
/// a request to `url` with the form parameters `params`, in constant time.
///
/// Twilio signs the URL as configured; some of its SDKs add or drop the default port
/// (`:443`, `:80`) before signing, so the URL is also tried with the default port added or
/// removed.
pub fn verify_signature(
    auth_token: &SecretString,
    url: &str,
    params: &[(String, String)],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let given = base64::engine::general_purpose::STANDARD
        .decode(header)
        .map_err(|_| SignatureError::Malformed)?;
    if given.len() != 20 {
        return Err(SignatureError::Malformed);
    }
    // With an empty key anyone can compute the HMAC: an unset token accepts nothing.
    if auth_token.expose_secret().is_empty() {
        return Err(SignatureError::Mismatch);
    }
    let mut matched = false;
    for candidate in url_variants(url) {
        // Every variant is checked, so the time does not say which one matched.
        matched |= mac(auth_token, &candidate, params)
            .verify_slice(&given)
            .is_ok();
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// `url` as given, and without its port when it has one, or with its scheme's default
/// port when it has none. Written on the text: `Url` drops a default port it is given, and
/// the signed text is what counts.
fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Ok(parsed) = Url::parse(url) else {
        return variants;
    };
    let (Some(host), Some(default)) = (parsed.host_str(), parsed.port_or_known_default()) else {
        return variants;
    };
    let prefix = format!("{}://{host}", parsed.scheme());
    let Some(rest) = url.strip_prefix(&prefix) else {
        return variants;
    };
    match rest.strip_prefix(':') {
        Some(with_port) => {
            let after = with_port.trim_start_matches(|c: char| c.is_ascii_digit());
            variants.push(format!("{prefix}{after}"));
        }
        None => variants.push(format!("{prefix}:{default}{rest}")),
    }
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Twilio's SDK test vectors (twilio-python `tests/unit/test_request_validator.py`,
    /// twilio-node `spec/validation.spec.js`, twilio-java `RequestValidatorTest`).
    #[test]
    fn twilios_own_test_vectors() {
        let token = SecretString::from("12345");
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(sign(&token, url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(
            sign(
                &token,
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                &params
            ),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        assert_eq!(
            sign(
                &token,
                "http://mycompany.com:80/myapp.php?foo=1&bar=2",
                &params
            ),
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        );
        // Signed with the default port, checked without it, and the other way round.
        assert_eq!(
            verify_signature(&token, url, &params, Some("kvajT1Ptam85bY51eRf/AJRuM3w=")),
            Ok(())
        );
        assert_eq!(
            verify_signature(
                &token,
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                &params,
                Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
            ),
            Ok(())
        );
        let repeated = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(sign(&token, url, &repeated), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    }

    #[test]
    fn the_port_variants_of_a_url() {
        assert_eq!(
            url_variants("https://example.com/hook?x=1"),
            [
                "https://example.com/hook?x=1",
                "https://example.com:443/hook?x=1"
            ]
        );
        assert_eq!(
            url_variants("https://example.com:443/hook"),
            ["https://example.com:443/hook", "https://example.com/hook"]
        );
        assert_eq!(url_variants("not a url"), ["not a url"]);
    }

    #[test]
    fn order_of_parameters_does_not_matter_but_their_content_does() {
        let token = SecretString::from("tok");
        let url = "https://example.com/hook";
        let a = pairs(&[("b", "2"), ("a", "1"), ("MediaUrl", "y"), ("MediaUrl", "x")]);
        let b = pairs(&[("MediaUrl", "x"), ("a", "1"), ("MediaUrl", "y"), ("b", "2")]);
        assert_eq!(sign(&token, url, &a), sign(&token, url, &b));
        let changed = pairs(&[("b", "2"), ("a", "1"), ("MediaUrl", "y"), ("MediaUrl", "z")]);
        let signature = sign(&token, url, &a);
        assert_eq!(
            verify_signature(&token, url, &changed, Some(&signature)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&SecretString::from(""), url, &a, Some(&signature)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&token, url, &a, Some("not base64!")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(&token, url, &a, Some("AAAA")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(&token, url, &a, None),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn a_signature_over_the_url_with_the_default_port_is_accepted_without_it() {
        let token = SecretString::from("tok");
        let params = pairs(&[("a", "1")]);
        let signed = sign(&token, "https://example.com:443/hook", &params);
        assert_eq!(
            verify_signature(&token, "https://example.com/hook", &params, Some(&signed)),
            Ok(())
        );
        assert_eq!(
            verify_signature(&token, "https://example.com/other", &params, Some(&signed)),
            Err(SignatureError::Mismatch)
        );
    }
}
