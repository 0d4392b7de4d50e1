//! Authentication of the HTTP surfaces: hashed API keys and RS256 JSON Web Tokens on the
//! ingest and query APIs, hashed admin tokens on the management API.
//!
//! Configured by [`AuthConfig`] (`[auth]` in `moose.config.toml`); enforced by the tower
//! layer [`require`]:
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{routing::get, Router};
//! use moose_host::auth::{self, AuthConfig, Authenticator, Surface};
//!
//! # fn main() -> anyhow::Result<()> {
//! let config = AuthConfig {
//!     api_keys: vec![auth::hash_token("secret-key")],
//!     ..Default::default()
//! };
//! let auth = Arc::new(Authenticator::new(&config)?);
//! let api: Router = Router::new()
//!     .route("/api/x", get(|| async { "ok" }))
//!     .layer(auth::require(auth.clone(), Surface::Api));
//! // `/health` and `/ready` stay open on the management surface.
//! let mgmt: Router = Router::new()
//!     .route("/health", get(|| async { "ok" }))
//!     .route("/metrics", get(|| async { "" }))
//!     .layer(auth::require(auth, Surface::Management));
//! # Ok(()) }
//! ```

mod config;
mod hash;
mod jwt;
mod layer;

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Semaphore;

pub use config::{AuthConfig, JwtConfig};
pub use hash::{
    generate_token, hash_token, hash_token_with_rounds, token_digest, verify_token, PhcError,
    TokenCache, CACHE_CAPACITY, HASH_ROUNDS,
};
pub use jwt::JwtVerifier;
pub use layer::{require, unauthorized, RequireAuth, RequireAuthLayer, UNAUTHORIZED_BODY};

/// Which HTTP surface a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// The ingest and query APIs (`/ingest/…`, `/api/…`): API keys and JWTs.
    Api,
    /// The management API: admin tokens. `/health` and `/ready` are always open.
    Management,
}

/// Who a request was authenticated as; the layer puts it in the request's extensions.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// The surface has no credentials configured, so it is open.
    Anonymous,
    /// One of `[auth] api_keys`.
    ApiKey,
    /// One of `[auth] admin_tokens`.
    AdminToken,
    /// A valid JWT, with its claims.
    Jwt {
        /// The `sub` claim, when it is a string.
        subject: Option<String>,
        /// Every claim.
        claims: Value,
    },
}

/// Why a request was refused. Only for logs: the client always gets the same 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No `Authorization` header.
    #[error("no Authorization header")]
    Missing,
    /// The header is not `Bearer <token>` in visible ASCII.
    #[error("Authorization header is not `Bearer <token>`")]
    Malformed,
    /// The token matched no configured API key or admin token.
    #[error("token matches no configured key")]
    UnknownToken,
    /// The JWT failed verification.
    #[error("invalid JWT: {0}")]
    InvalidJwt(String),
    /// A JWT was sent to a surface that does not accept JWTs.
    #[error("JWTs are not accepted here")]
    JwtNotAccepted,
}

/// A problem in `[auth]`, found when the [`Authenticator`] is built.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// An entry of `api_keys` or `admin_tokens` is not a PBKDF2 PHC string.
    #[error("[auth] {field}[{index}] is not a PBKDF2 PHC string (make one with `hash_token`): {problem}")]
    BadHash {
        /// `api_keys` or `admin_tokens`.
        field: &'static str,
        /// Position in the list.
        index: usize,
        /// What is wrong.
        problem: hash::PhcError,
    },
    /// `[auth.jwt] public_key_pem` is not an RSA public key.
    #[error("[auth.jwt] public_key_pem is not an RSA public key in PEM: {0}")]
    BadPublicKey(String),
}

/// How many KDF verifications (cache misses) may run at once, so a flood of wrong tokens
/// cannot occupy every core.
const KDF_CONCURRENCY: usize = 2;

/// Checks credentials for every surface. Build one per process and share it in an `Arc`.
pub struct Authenticator {
    api_keys: Arc<[String]>,
    admin_tokens: Arc<[String]>,
    jwt: Option<JwtVerifier>,
    cache: TokenCache<Surface>,
    kdf_permits: Semaphore,
}

impl Authenticator {
    /// Checks `config` (every hash parses, the public key is RSA) and builds the checker.
    pub fn new(config: &AuthConfig) -> Result<Self, AuthConfigError> {
        for (field, list) in [
            ("api_keys", &config.api_keys),
            ("admin_tokens", &config.admin_tokens),
        ] {
            for (index, phc) in list.iter().enumerate() {
                hash::check_phc(phc).map_err(|problem| AuthConfigError::BadHash {
                    field,
                    index,
                    problem,
                })?;
            }
        }
        let jwt = config
            .jwt
            .as_ref()
            .map(JwtVerifier::new)
            .transpose()
            .map_err(|e| AuthConfigError::BadPublicKey(e.to_string()))?;
        Ok(Self {
            api_keys: config.api_keys.clone().into(),
            admin_tokens: config.admin_tokens.clone().into(),
            jwt,
            cache: TokenCache::new(CACHE_CAPACITY),
            kdf_permits: Semaphore::new(KDF_CONCURRENCY),
        })
    }

    /// Whether `surface` requires a credential: any credential kind for it is configured.
    pub fn required(&self, surface: Surface) -> bool {
        match surface {
            Surface::Api => !self.api_keys.is_empty() || self.jwt.is_some(),
            Surface::Management => !self.admin_tokens.is_empty(),
        }
    }

    /// Checks the value of an `Authorization` header (`None` when absent) for `surface`.
    /// A surface without credentials accepts anything as [`Principal::Anonymous`].
    /// Cache misses run the KDF on the blocking thread pool.
    pub async fn authenticate(
        &self,
        surface: Surface,
        authorization: Option<&[u8]>,
    ) -> Result<Principal, Rejection> {
        if !self.required(surface) {
            return Ok(Principal::Anonymous);
        }
        let token = bearer_token(authorization)?;
        if let Some(result) = self.check_fast(surface, token) {
            return result;
        }
        let hashes = self.hashes(surface);
        let owned = token.to_owned();
        let matched = {
            let _permit = self.kdf_permits.acquire().await;
            tokio::task::spawn_blocking(move || verify_token(&owned, &hashes))
                .await
                .unwrap_or(false)
        };
        self.finish(surface, token, matched)
    }

    /// How many verified tokens are cached.
    pub fn cached_tokens(&self) -> usize {
        self.cache.len()
    }

    /// The answer when it needs no KDF: JWTs, empty key lists, cache hits.
    fn check_fast(&self, surface: Surface, token: &str) -> Option<Result<Principal, Rejection>> {
        if token.bytes().filter(|&b| b == b'.').count() == 2 {
            return Some(match (surface, &self.jwt) {
                (Surface::Api, Some(jwt)) => jwt
                    .verify(token)
                    .map(|claims| Principal::Jwt {
                        subject: claims.get("sub").and_then(Value::as_str).map(String::from),
                        claims,
                    })
                    .map_err(|e| Rejection::InvalidJwt(e.to_string())),
                _ => Err(Rejection::JwtNotAccepted),
            });
        }
        if self.hashes(surface).is_empty() {
            return Some(Err(Rejection::UnknownToken));
        }
        if self.cache.contains(surface, &token_digest(token)) {
            return Some(Ok(principal_for(surface)));
        }
        None
    }

    fn finish(&self, surface: Surface, token: &str, matched: bool) -> Result<Principal, Rejection> {
        if matched {
            self.cache.insert(surface, token_digest(token));
            Ok(principal_for(surface))
        } else {
            Err(Rejection::UnknownToken)
        }
    }

    fn hashes(&self, surface: Surface) -> Arc<[String]> {
        match surface {
            Surface::Api => self.api_keys.clone(),
            Surface::Management => self.admin_tokens.clone(),
        }
    }
}

fn principal_for(surface: Surface) -> Principal {
    match surface {
        Surface::Api => Principal::ApiKey,
        Surface::Management => Principal::AdminToken,
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive).
fn bearer_token(authorization: Option<&[u8]>) -> Result<&str, Rejection> {
    let value = authorization.ok_or(Rejection::Missing)?;
    let value = std::str::from_utf8(value).map_err(|_| Rejection::Malformed)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(Rejection::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Rejection::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth_with(api: &str, admin: &str) -> Authenticator {
        Authenticator::new(&AuthConfig {
            api_keys: vec![hash_token_with_rounds(api, 1000)],
            admin_tokens: vec![hash_token_with_rounds(admin, 1000)],
            jwt: None,
        })
        .unwrap()
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(Some(b"Bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(Some(b"bearer  abc ")), Ok("abc"));
        assert_eq!(bearer_token(None), Err(Rejection::Missing));
        assert_eq!(bearer_token(Some(b"Basic abc")), Err(Rejection::Malformed));
        assert_eq!(bearer_token(Some(b"Bearer")), Err(Rejection::Malformed));
        assert_eq!(bearer_token(Some(b"Bearer a b")), Err(Rejection::Malformed));
        assert_eq!(
            bearer_token(Some(b"Bearer \xff")),
            Err(Rejection::Malformed)
        );
    }

    #[tokio::test]
    async fn no_config_means_open() {
        let auth = Authenticator::new(&AuthConfig::default()).unwrap();
        assert!(!auth.required(Surface::Api));
        assert!(!auth.required(Surface::Management));
        assert_eq!(
            auth.authenticate(Surface::Api, None).await,
            Ok(Principal::Anonymous)
        );
    }

    #[tokio::test]
    async fn surfaces_are_separate_and_successes_are_cached() {
        let auth = auth_with("api", "admin");
        assert_eq!(
            auth.authenticate(Surface::Api, Some(b"Bearer api")).await,
            Ok(Principal::ApiKey)
        );
        assert_eq!(auth.cached_tokens(), 1);
        assert_eq!(
            auth.authenticate(Surface::Api, Some(b"Bearer api")).await,
            Ok(Principal::ApiKey)
        );
        assert_eq!(auth.cached_tokens(), 1);
        assert_eq!(
            auth.authenticate(Surface::Management, Some(b"Bearer api"))
                .await,
            Err(Rejection::UnknownToken)
        );
        assert_eq!(
            auth.authenticate(Surface::Api, Some(b"Bearer admin")).await,
            Err(Rejection::UnknownToken)
        );
        assert_eq!(auth.cached_tokens(), 1, "failures are not cached");
        assert_eq!(
            auth.authenticate(Surface::Management, Some(b"Bearer admin"))
                .await,
            Ok(Principal::AdminToken)
        );
        assert_eq!(auth.cached_tokens(), 2);
        assert_eq!(
            auth.authenticate(Surface::Management, Some(b"Bearer a.b.c"))
                .await,
            Err(Rejection::JwtNotAccepted)
        );
    }

    #[test]
    fn bad_config_is_reported_without_the_value() {
        let err = Authenticator::new(&AuthConfig {
            admin_tokens: vec!["plaintext-secret".into()],
            ..Default::default()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("admin_tokens[0]"), "{err}");
        assert!(!err.contains("plaintext-secret"), "{err}");
        let err = Authenticator::new(&AuthConfig {
            jwt: Some(JwtConfig {
                public_key_pem: "nope".into(),
                issuer: "i".into(),
                audience: "a".into(),
                leeway_seconds: 30,
            }),
            ..Default::default()
        })
        .err()
        .unwrap();
        assert!(matches!(err, AuthConfigError::BadPublicKey(_)), "{err}");
    }

    #[test]
    fn config_parses_from_toml() {
        let config: AuthConfig = toml::from_str(
            r#"
            api_keys = ["$pbkdf2-sha256$i=1000,l=32$c2FsdA$aGFzaA"]
            [jwt]
            public_key_pem = "pem"
            issuer = "iss"
            audience = "aud"
            "#,
        )
        .unwrap();
        assert_eq!(config.api_keys.len(), 1);
        assert_eq!(config.jwt.unwrap().leeway_seconds, 30);
        assert!(toml::from_str::<AuthConfig>("api_key = []").is_err());
        assert!(toml::from_str::<AuthConfig>(
            "[jwt]\npublic_key_pem = \"p\"\nissuer = \"i\"\naudience = \"a\"\nalg = \"HS256\""
        )
        .is_err());
        assert_eq!(
            toml::from_str::<AuthConfig>("").unwrap(),
            AuthConfig::default()
        );
    }
}
