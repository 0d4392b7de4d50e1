//! RS256 JSON Web Token verification.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::config::JwtConfig;

/// Checks JSON Web Tokens against one RSA public key: the algorithm is pinned to RS256
/// (`none`, HS256 and every other one are refused), `iss` and `aud` must equal the
/// configured values, `exp` is required and checked, and `nbf` is checked when present.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl JwtVerifier {
    /// A verifier for `config`; fails when the PEM is not an RSA public key.
    pub fn new(config: &JwtConfig) -> Result<Self, jsonwebtoken::errors::Error> {
        let key = DecodingKey::from_rsa_pem(config.public_key_pem.as_bytes())?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = config.leeway_seconds;
        Ok(Self { key, validation })
    }

    /// The token's claims when it is valid; the reason it is not otherwise (for logs only,
    /// never for the client).
    pub fn verify(&self, token: &str) -> Result<Value, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Value>(token, &self.key, &self.validation).map(|data| data.claims)
    }
}
