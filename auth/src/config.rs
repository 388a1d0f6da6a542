//! `[auth]`: whether authentication is on and which tokens exist.

use std::path::{Path, PathBuf};

use argon2::password_hash::PasswordHash;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::scope::{Principal, Scope, TenantSet};
use tidewater_tenant::Tenant;

/// `[auth]` in the server configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Require a token on every listener (off by default, for a local start).
    pub enabled: bool,
    /// Tokens (`[[auth.tokens]]`).
    pub tokens: Vec<TokenConfig>,
    /// A TOML file with more `[[tokens]]` entries (empty: none). Read at start.
    pub tokens_file: PathBuf,
}

/// One static token.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// A name for logs and `system` views; never secret.
    pub name: String,
    /// The argon2 PHC string of the secret (`tidewater auth hash-token`).
    pub hash: String,
    /// What the token may do: `read`, `write`, `admin`.
    pub scopes: Vec<Scope>,
    /// The token's tenant: whose data it writes and reads (default `default`).
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Further tenants the token may act for by sending `X-Scope-OrgID`
    /// (or naming it as the PostgreSQL database); `["*"]`: any tenant.
    #[serde(default)]
    pub tenants: Vec<String>,
}

impl TokenConfig {
    /// The principal this token stands for (names checked by [`AuthConfig::validate`]).
    pub fn principal(&self) -> Result<Principal> {
        let invalid = |e: tidewater_tenant::InvalidTenant| Error::InvalidToken {
            name: self.name.clone(),
            message: e.to_string(),
        };
        let tenant = Tenant::new(&self.tenant).map_err(invalid)?;
        let other_tenants = if self.tenants.iter().any(|t| t == "*") {
            TenantSet::Any
        } else if self.tenants.is_empty() {
            TenantSet::None
        } else {
            TenantSet::Some(
                self.tenants.iter().map(|t| Tenant::new(t)).collect::<std::result::Result<_, _>>().map_err(invalid)?,
            )
        };
        Ok(Principal { name: self.name.clone(), tenant, other_tenants, scopes: self.scopes.clone() })
    }
}

fn default_tenant() -> String {
    "default".into()
}

/// The shape of a tokens file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    tokens: Vec<TokenConfig>,
}

impl AuthConfig {
    /// Every token: the inline ones, then those of `tokens_file`.
    pub fn all_tokens(&self) -> Result<Vec<TokenConfig>> {
        let mut all = self.tokens.clone();
        if !self.tokens_file.as_os_str().is_empty() {
            all.extend(read_tokens_file(&self.tokens_file)?);
        }
        Ok(all)
    }

    /// Check the tokens: names unique and non-empty, hashes parse as PHC
    /// strings, at least one scope; with `enabled`, at least one token.
    pub fn validate(&self) -> Result<()> {
        let tokens = self.all_tokens()?;
        if self.enabled && tokens.is_empty() {
            return Err(Error::Config(
                "enabled = true needs at least one token ([[auth.tokens]] or tokens_file)".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for t in &tokens {
            let invalid = |message: &str| Error::InvalidToken { name: t.name.clone(), message: message.into() };
            if t.name.is_empty() {
                return Err(invalid("name is empty"));
            }
            if !names.insert(t.name.as_str()) {
                return Err(invalid("name is used twice"));
            }
            if t.scopes.is_empty() {
                return Err(invalid("needs at least one scope (read, write, admin)"));
            }
            t.principal()?;
            PasswordHash::new(&t.hash).map_err(|e| {
                invalid(&format!("hash is not an argon2 PHC string ({e}); use `tidewater auth hash-token`"))
            })?;
        }
        Ok(())
    }
}

fn read_tokens_file(path: &Path) -> Result<Vec<TokenConfig>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    let file: TokensFile =
        toml::from_str(&text).map_err(|e| Error::Parse { path: path.to_path_buf(), message: e.to_string() })?;
    Ok(file.tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_token;

    #[test]
    fn tokens_come_from_the_config_and_the_tokens_file() {
        let dir = std::env::temp_dir().join(format!("tw-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("tokens.toml");
        let hash = hash_token("s3cret").expect("hash");
        std::fs::write(&file, format!("[[tokens]]\nname = \"b\"\nhash = \"{hash}\"\nscopes = [\"read\"]\n"))
            .expect("write");
        let text = format!(
            "enabled = true\ntokens_file = {:?}\n[[tokens]]\nname = \"a\"\nhash = \"{hash}\"\nscopes = [\"write\", \"admin\"]\ntenant = \"acme\"\n",
            file.display().to_string()
        );
        let c: AuthConfig = toml::from_str(&text).expect("parses");
        c.validate().expect("valid");
        let all = c.all_tokens().expect("tokens");
        assert_eq!(
            all.iter().map(|t| (t.name.as_str(), t.tenant.as_str())).collect::<Vec<_>>(),
            [("a", "acme"), ("b", "default")]
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn bad_tokens_are_refused_by_name_without_the_secret() {
        let on: AuthConfig = toml::from_str("enabled = true").expect("parses");
        assert!(on.validate().unwrap_err().to_string().contains("at least one token"));
        let plain: AuthConfig =
            toml::from_str("[[tokens]]\nname = \"x\"\nhash = \"plaintext-secret\"\nscopes = [\"read\"]\n")
                .expect("parses");
        let e = plain.validate().unwrap_err().to_string();
        assert!(e.contains("\"x\"") && e.contains("PHC") && !e.contains("plaintext-secret"), "{e}");
        assert!(toml::from_str::<AuthConfig>("[[tokens]]\nname = \"x\"\nhash = \"h\"\nscopes = [\"root\"]\n").is_err());
        assert!(AuthConfig::default().validate().is_ok(), "off with no tokens is the default");
        let hash = hash_token("s").expect("hash");
        let bad_tenant: AuthConfig = toml::from_str(&format!(
            "[[tokens]]\nname = \"x\"\nhash = \"{hash}\"\nscopes = [\"read\"]\ntenant = \"A/B\"\n"
        ))
        .expect("parses");
        assert!(bad_tenant.validate().unwrap_err().to_string().contains("invalid tenant"));
    }
}
