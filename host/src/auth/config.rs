//! `[auth]` in `moose.config.toml`.

use serde::{Deserialize, Serialize};

/// `[auth]`: who may call the ingest and query APIs and the management API.
///
/// The default configures nothing, so every surface is open. A surface requires a
/// credential as soon as any credential kind for it is configured:
///
/// * ingest and query APIs (`/ingest/…`, `/api/…`): `api_keys` and `jwt`;
/// * management API: `admin_tokens` (`/health` and `/ready` always stay open).
///
/// ```toml
/// [auth]
/// api_keys = ["$pbkdf2-sha256$i=600000,l=32$…$…"]
/// admin_tokens = ["$pbkdf2-sha256$i=600000,l=32$…$…"]
///
/// [auth.jwt]
/// public_key_pem = """
/// -----BEGIN PUBLIC KEY-----
/// …
/// -----END PUBLIC KEY-----
/// """
/// issuer = "https://auth.example.com/"
/// audience = "moose"
/// leeway_seconds = 30
/// ```
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Hashed API keys (PHC strings made by [`super::hash_token`]) accepted on the ingest
    /// and query APIs.
    pub api_keys: Vec<String>,
    /// RS256 JSON Web Tokens accepted on the ingest and query APIs.
    pub jwt: Option<JwtConfig>,
    /// Hashed tokens (PHC strings made by [`super::hash_token`]) for the management API.
    pub admin_tokens: Vec<String>,
}

/// `[auth.jwt]`: how JSON Web Tokens are checked. Only RS256 is accepted.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The issuer's RSA public key, PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`).
    pub public_key_pem: String,
    /// Required value of the `iss` claim.
    pub issuer: String,
    /// Required value (or member) of the `aud` claim.
    pub audience: String,
    /// Clock skew allowed when checking `exp` and `nbf`, in seconds.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
}

fn default_leeway() -> u64 {
    30
}
