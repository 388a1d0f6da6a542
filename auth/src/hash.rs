//! Token secrets: generating them, hashing them with argon2id (PHC strings),
//! verifying a presented secret against a hash in constant time.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;

use crate::error::{Error, Result};

/// A new random secret: `tw_` and 32 random bytes, base64url.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("tw_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The argon2id PHC string of `secret`, with a random salt and the
/// library's default cost (19 MiB, 2 passes).
pub fn hash_token(secret: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Hash(e.to_string()))
}

/// Whether `secret` matches the PHC string `phc` (argon2 recomputes the
/// hash and compares in constant time). A malformed `phc` never matches.
/// Slow on purpose (tens of milliseconds): call it off the async threads.
pub fn verify(phc: &str, secret: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default().verify_password(secret.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_secret_only() {
        let secret = generate_secret();
        let phc = hash_token(&secret).expect("hash");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains(&secret));
        assert!(verify(&phc, &secret));
        assert!(!verify(&phc, &format!("{secret}x")));
        assert!(!verify(&phc, ""));
        assert!(!verify("not a phc string", &secret));
    }

    #[test]
    fn hashes_are_salted_and_secrets_random() {
        let a = generate_secret();
        assert_ne!(a, generate_secret());
        assert!(a.starts_with("tw_") && a.len() > 40);
        let (h1, h2) = (hash_token(&a).expect("hash"), hash_token(&a).expect("hash"));
        assert_ne!(h1, h2, "each hash has its own salt");
        assert!(verify(&h1, &a) && verify(&h2, &a));
    }
}
