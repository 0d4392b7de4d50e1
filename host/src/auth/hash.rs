//! Hashed tokens (PBKDF2-SHA256 PHC strings) and the cache of verified tokens.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use pbkdf2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use pbkdf2::{Algorithm, Params, Pbkdf2};
use sha2::{Digest, Sha256};

/// PBKDF2-SHA256 rounds [`hash_token`] uses (the OWASP recommendation).
pub const HASH_ROUNDS: u32 = 600_000;

/// How many verified tokens [`TokenCache`] remembers by default.
pub const CACHE_CAPACITY: usize = 1024;

/// Hashes `token` with PBKDF2-SHA256, [`HASH_ROUNDS`] rounds and a random 16-byte salt,
/// returning a PHC string (`$pbkdf2-sha256$i=600000,l=32$<salt>$<hash>`) for `[auth]`.
pub fn hash_token(token: &str) -> String {
    hash_token_with_rounds(token, HASH_ROUNDS)
}

/// [`hash_token`] with a chosen number of rounds (at least 1000): for tests, where
/// unoptimized builds make the full count slow. The PHC string records the rounds, so
/// verification needs nothing else.
pub fn hash_token_with_rounds(token: &str, rounds: u32) -> String {
    let salt =
        SaltString::encode_b64(&random_bytes::<16>()).expect("16 bytes is a valid salt length");
    let params = Params {
        rounds: rounds.max(1000),
        output_length: 32,
    };
    Pbkdf2
        .hash_password_customized(
            token.as_bytes(),
            Some(Algorithm::Pbkdf2Sha256.ident()),
            None,
            params,
            &salt,
        )
        .expect("PBKDF2-SHA256 with valid parameters cannot fail")
        .to_string()
}

/// A new random token: 32 bytes from the operating system's generator, URL-safe base64
/// without padding (43 characters, never containing a dot).
pub fn generate_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes
}

/// Why a configured hash cannot be verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhcError {
    #[error("{0}")]
    Unreadable(pbkdf2::password_hash::Error),
    #[error("unsupported algorithm `{0}`")]
    Algorithm(String),
    #[error("no hash")]
    NoHash,
}

/// Checks that `phc` is a PBKDF2 PHC string this module can verify.
pub(crate) fn check_phc(phc: &str) -> Result<(), PhcError> {
    let hash = PasswordHash::new(phc).map_err(PhcError::Unreadable)?;
    match hash.algorithm.as_str() {
        "pbkdf2-sha256" | "pbkdf2-sha512" => {}
        other => return Err(PhcError::Algorithm(other.to_string())),
    }
    if hash.hash.is_none() {
        return Err(PhcError::NoHash);
    }
    Ok(())
}

/// Whether `token` matches one of the PHC strings in `hashes`. Each comparison is the
/// password-hash crate's constant-time one; this costs one full KDF per hash tried.
pub fn verify_token(token: &str, hashes: &[String]) -> bool {
    hashes.iter().any(|phc| {
        PasswordHash::new(phc)
            .map(|hash| Pbkdf2.verify_password(token.as_bytes(), &hash).is_ok())
            .unwrap_or(false)
    })
}

/// The SHA-256 of a token: the key under which [`TokenCache`] remembers it.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A bounded set of tokens already verified, keyed by a scope (which credential set the
/// token matched) and the token's SHA-256, so a repeated token costs a hash and a lookup
/// instead of a KDF. The oldest entry goes when the cache is full. Only successful
/// verifications are remembered. Looking up a digest is not constant-time, which leaks
/// nothing usable: finding a token from its SHA-256 is a preimage attack.
pub struct TokenCache<S> {
    inner: Mutex<CacheInner<S>>,
    capacity: usize,
}

struct CacheInner<S> {
    set: HashSet<(S, [u8; 32])>,
    order: VecDeque<(S, [u8; 32])>,
}

impl<S: Copy + Eq + std::hash::Hash> TokenCache<S> {
    /// An empty cache holding at most `capacity` (at least 1) tokens.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(CacheInner {
                set: HashSet::new(),
                order: VecDeque::new(),
            }),
            capacity: capacity.max(1),
        }
    }

    /// Whether the token with this digest was verified for `scope`.
    pub fn contains(&self, scope: S, digest: &[u8; 32]) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.set.contains(&(scope, *digest))
    }

    /// Remembers that the token with this digest was verified for `scope`.
    pub fn insert(&self, scope: S, digest: [u8; 32]) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !inner.set.insert((scope, digest)) {
            return;
        }
        inner.order.push_back((scope, digest));
        while inner.order.len() > self.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.set.remove(&old);
            }
        }
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set
            .len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_token_makes_a_verifiable_phc_string() {
        let token = generate_token();
        let phc = hash_token(&token);
        assert!(phc.starts_with("$pbkdf2-sha256$i=600000,l=32$"), "{phc}");
        check_phc(&phc).unwrap();
        assert!(verify_token(&token, std::slice::from_ref(&phc)));
        assert!(!verify_token("not-the-token", &[phc]));
    }

    #[test]
    fn salts_differ() {
        let a = hash_token_with_rounds("same", 1000);
        let b = hash_token_with_rounds("same", 1000);
        assert_ne!(a, b);
        assert!(verify_token("same", std::slice::from_ref(&a)));
        assert!(verify_token("same", &[b]));
        assert!(a.starts_with("$pbkdf2-sha256$i=1000,l=32$"), "{a}");
    }

    #[test]
    fn verify_tries_every_hash_and_ignores_garbage() {
        let phc = hash_token_with_rounds("key-2", 1000);
        let hashes = vec![
            "not a phc".to_string(),
            hash_token_with_rounds("key-1", 1000),
            phc,
        ];
        assert!(verify_token("key-2", &hashes));
        assert!(!verify_token("key-3", &hashes));
    }

    #[test]
    fn check_phc_rejects_other_formats() {
        assert!(check_phc("plain").is_err());
        assert!(
            check_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA").is_err()
        );
    }

    #[test]
    fn generated_tokens_are_random_url_safe_and_dotless() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
    }

    #[test]
    fn cache_remembers_per_scope_and_evicts_the_oldest() {
        let cache = TokenCache::new(3);
        let d = |s: &str| token_digest(s);
        assert!(cache.is_empty());
        cache.insert(1u8, d("a"));
        cache.insert(1, d("b"));
        cache.insert(1, d("b"));
        assert_eq!(cache.len(), 2);
        assert!(cache.contains(1, &d("a")));
        assert!(!cache.contains(2, &d("a")), "scopes are separate");
        cache.insert(2, d("c"));
        cache.insert(1, d("d"));
        assert_eq!(cache.len(), 3);
        assert!(!cache.contains(1, &d("a")), "oldest evicted");
        assert!(cache.contains(1, &d("b")));
        assert!(cache.contains(2, &d("c")));
        assert!(cache.contains(1, &d("d")));
    }
}
