//! Reading the secret out of an `Authorization` value.

use base64::Engine;

/// The secret in an `Authorization` value: `Bearer <token>`, or
/// `Basic base64(<user>:<token>)` (any user name). None when the value has
/// neither form.
pub fn secret_from_authorization(value: &str) -> Option<String> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return (!rest.is_empty()).then(|| rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_user, password) = text.split_once(':')?;
        return (!password.is_empty()).then(|| password.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic_give_the_secret() {
        assert_eq!(secret_from_authorization("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(secret_from_authorization("bearer  abc ").as_deref(), Some("abc"));
        let basic = base64::engine::general_purpose::STANDARD.encode("grafana:tw_x:y");
        assert_eq!(secret_from_authorization(&format!("Basic {basic}")).as_deref(), Some("tw_x:y"));
    }

    #[test]
    fn other_forms_give_nothing() {
        assert_eq!(secret_from_authorization("abc"), None);
        assert_eq!(secret_from_authorization("Bearer "), None);
        assert_eq!(secret_from_authorization("Digest abc"), None);
        assert_eq!(secret_from_authorization("Basic !!!"), None);
        let no_password = base64::engine::general_purpose::STANDARD.encode("user:");
        assert_eq!(secret_from_authorization(&format!("Basic {no_password}")), None);
    }
}
