//! `[auth]` over real HTTP: a tiny axum app on 127.0.0.1:0 behind `auth::require`,
//! called with ureq.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use moose_host::auth::{self, AuthConfig, Authenticator, JwtConfig, Principal, Surface};
use serde_json::{json, Value};

const PRIVATE_PEM: &str = include_str!("../fixtures/jwt_test_private.pem");
const PUBLIC_PEM: &str = include_str!("../fixtures/jwt_test_public.pem");
const ISSUER: &str = "https://issuer.test/";
const AUDIENCE: &str = "moose-test";
const API_KEY: &str = "api-key-for-tests";
const ADMIN_TOKEN: &str = "admin-token-for-tests";

struct Servers {
    api: SocketAddr,
    mgmt: SocketAddr,
}

/// Serves the routers on a runtime of their own for the whole test binary.
fn serve(routers: Vec<Router>) -> Vec<SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let mut addrs = Vec::new();
            for router in routers {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addrs.push(listener.local_addr().unwrap());
                tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
            }
            tx.send(addrs).unwrap();
            std::future::pending::<()>().await
        })
    });
    rx.recv().unwrap()
}

async fn who(Extension(principal): Extension<Principal>) -> String {
    match principal {
        Principal::Anonymous => "anonymous".into(),
        Principal::ApiKey => "api-key".into(),
        Principal::AdminToken => "admin-token".into(),
        Principal::Jwt { subject, .. } => format!("jwt:{}", subject.unwrap_or_default()),
    }
}

fn api_router(auth: Arc<Authenticator>) -> Router {
    Router::new()
        .route("/ingest/Order", post(who))
        .route("/api/revenue", get(who))
        .layer(auth::require(auth, Surface::Api))
}

fn mgmt_router(auth: Arc<Authenticator>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(|| async { "ready" }))
        .route("/metrics", get(who))
        .route("/catalog", get(who))
        .route("/openapi.json", get(who))
        .layer(auth::require(auth, Surface::Management))
}

fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let config = AuthConfig {
            // Few rounds: unoptimized test builds make the production count slow.
            api_keys: vec![
                auth::hash_token_with_rounds("another-key", 1000),
                auth::hash_token_with_rounds(API_KEY, 1000),
            ],
            jwt: Some(JwtConfig {
                public_key_pem: PUBLIC_PEM.into(),
                issuer: ISSUER.into(),
                audience: AUDIENCE.into(),
                leeway_seconds: 30,
            }),
            admin_tokens: vec![auth::hash_token_with_rounds(ADMIN_TOKEN, 1000)],
        };
        let auth = Arc::new(Authenticator::new(&config).unwrap());
        let addrs = serve(vec![api_router(auth.clone()), mgmt_router(auth)]);
        Servers {
            api: addrs[0],
            mgmt: addrs[1],
        }
    })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    body: String,
}

fn call(method: &str, addr: SocketAddr, path: &str, authorization: Option<&str>) -> Answer {
    let url = format!("http://{addr}{path}");
    let agent = agent();
    let response = match method {
        "GET" => {
            let mut request = agent.get(&url);
            if let Some(value) = authorization {
                request = request.header("Authorization", value);
            }
            request.call()
        }
        _ => {
            let mut request = agent.post(&url);
            if let Some(value) = authorization {
                request = request.header("Authorization", value);
            }
            request.send(r#"{"id":"o1"}"#)
        }
    };
    let mut response = response.unwrap();
    Answer {
        status: response.status().as_u16(),
        www_authenticate: response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        body: response.body_mut().read_to_string().unwrap(),
    }
}

fn get_api(authorization: Option<&str>) -> Answer {
    call("GET", servers().api, "/api/revenue", authorization)
}

fn assert_unauthorized(answer: &Answer) {
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body, json!({ "error": "unauthorized" }));
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> Value {
    json!({
        "sub": "user-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now(),
        "exp": now() + 600,
    })
}

fn rs256(claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(PRIVATE_PEM.as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

// --- API keys -------------------------------------------------------------------------

#[test]
fn api_without_credentials_is_401() {
    assert_unauthorized(&get_api(None));
    assert_unauthorized(&call("POST", servers().api, "/ingest/Order", None));
}

#[test]
fn api_with_wrong_key_is_401() {
    assert_unauthorized(&get_api(Some(&bearer("wrong-key"))));
    assert_unauthorized(&get_api(Some(&bearer(ADMIN_TOKEN))));
}

#[test]
fn api_with_malformed_header_is_401() {
    assert_unauthorized(&get_api(Some(API_KEY)));
    assert_unauthorized(&get_api(Some(&format!("Basic {API_KEY}"))));
    assert_unauthorized(&get_api(Some("Bearer ")));
    assert_unauthorized(&get_api(Some(&bearer("a.b.c"))));
}

#[test]
fn api_with_valid_key_passes_on_ingest_and_query() {
    let answer = get_api(Some(&bearer(API_KEY)));
    assert_eq!((answer.status, answer.body.as_str()), (200, "api-key"));
    // The second time comes from the cache.
    let answer = call(
        "POST",
        servers().api,
        "/ingest/Order",
        Some(&bearer(API_KEY)),
    );
    assert_eq!((answer.status, answer.body.as_str()), (200, "api-key"));
    let answer = get_api(Some(&format!("bearer {API_KEY}")));
    assert_eq!(answer.status, 200);
}

#[test]
fn unknown_api_path_also_needs_credentials() {
    assert_unauthorized(&call("GET", servers().api, "/api/unknown", None));
    let answer = call("GET", servers().api, "/api/unknown", Some(&bearer(API_KEY)));
    assert_eq!(answer.status, 404);
}

// --- JWT ------------------------------------------------------------------------------

#[test]
fn jwt_valid_passes() {
    let answer = get_api(Some(&bearer(&rs256(&claims()))));
    assert_eq!((answer.status, answer.body.as_str()), (200, "jwt:user-1"));
    let mut with_nbf = claims();
    with_nbf["nbf"] = json!(now() - 10);
    with_nbf["aud"] = json!(["other", AUDIENCE]);
    let answer = call(
        "POST",
        servers().api,
        "/ingest/Order",
        Some(&bearer(&rs256(&with_nbf))),
    );
    assert_eq!((answer.status, answer.body.as_str()), (200, "jwt:user-1"));
}

#[test]
fn jwt_expired_is_401() {
    let mut expired = claims();
    expired["exp"] = json!(now() - 120); // beyond the 30 s leeway
    assert_unauthorized(&get_api(Some(&bearer(&rs256(&expired)))));
}

#[test]
fn jwt_within_leeway_passes() {
    let mut just_expired = claims();
    just_expired["exp"] = json!(now() - 5);
    assert_eq!(get_api(Some(&bearer(&rs256(&just_expired)))).status, 200);
}

#[test]
fn jwt_not_yet_valid_is_401() {
    let mut early = claims();
    early["nbf"] = json!(now() + 300);
    assert_unauthorized(&get_api(Some(&bearer(&rs256(&early)))));
}

#[test]
fn jwt_without_exp_is_401() {
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_unauthorized(&get_api(Some(&bearer(&rs256(&no_exp)))));
}

#[test]
fn jwt_wrong_issuer_is_401() {
    let mut wrong = claims();
    wrong["iss"] = json!("https://evil.test/");
    assert_unauthorized(&get_api(Some(&bearer(&rs256(&wrong)))));
    wrong.as_object_mut().unwrap().remove("iss");
    assert_unauthorized(&get_api(Some(&bearer(&rs256(&wrong)))));
}

#[test]
fn jwt_wrong_audience_is_401() {
    let mut wrong = claims();
    wrong["aud"] = json!("someone-else");
    assert_unauthorized(&get_api(Some(&bearer(&rs256(&wrong)))));
    wrong.as_object_mut().unwrap().remove("aud");
    assert_unauthorized(&get_api(Some(&bearer(&rs256(&wrong)))));
}

#[test]
fn jwt_hs256_forged_with_the_public_key_is_401() {
    // The classic key-confusion attack: HMAC "signed" with the RSA public key as secret.
    let key = EncodingKey::from_secret(PUBLIC_PEM.as_bytes());
    let forged = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims(), &key).unwrap();
    assert_unauthorized(&get_api(Some(&bearer(&forged))));
}

#[test]
fn jwt_alg_none_is_401() {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    assert_unauthorized(&get_api(Some(&bearer(&format!("{header}.{payload}.")))));
}

#[test]
fn jwt_with_tampered_claims_is_401() {
    let token = rs256(&claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut other = claims();
    other["sub"] = json!("admin");
    let payload = URL_SAFE_NO_PAD.encode(other.to_string());
    parts[1] = &payload;
    assert_unauthorized(&get_api(Some(&bearer(&parts.join(".")))));
}

// --- Management -----------------------------------------------------------------------

#[test]
fn health_and_ready_stay_open() {
    let mgmt = servers().mgmt;
    let health = call("GET", mgmt, "/health", None);
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    let ready = call("GET", mgmt, "/ready", Some(&bearer("wrong")));
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready"));
}

#[test]
fn management_without_or_with_wrong_token_is_401() {
    let mgmt = servers().mgmt;
    for path in ["/metrics", "/catalog", "/openapi.json", "/unknown"] {
        assert_unauthorized(&call("GET", mgmt, path, None));
        assert_unauthorized(&call("GET", mgmt, path, Some(&bearer("wrong"))));
    }
    // API credentials do not open the management API.
    assert_unauthorized(&call("GET", mgmt, "/metrics", Some(&bearer(API_KEY))));
    assert_unauthorized(&call(
        "GET",
        mgmt,
        "/metrics",
        Some(&bearer(&rs256(&claims()))),
    ));
}

#[test]
fn management_with_admin_token_passes() {
    let mgmt = servers().mgmt;
    for path in ["/metrics", "/catalog", "/openapi.json"] {
        let answer = call("GET", mgmt, path, Some(&bearer(ADMIN_TOKEN)));
        assert_eq!((answer.status, answer.body.as_str()), (200, "admin-token"));
    }
}

// --- Partial and empty configurations ---------------------------------------------------

#[test]
fn nothing_configured_passes_through() {
    let auth = Arc::new(Authenticator::new(&AuthConfig::default()).unwrap());
    let addrs = serve(vec![api_router(auth.clone()), mgmt_router(auth)]);
    let answer = call("GET", addrs[0], "/api/revenue", None);
    assert_eq!((answer.status, answer.body.as_str()), (200, "anonymous"));
    let answer = call("GET", addrs[1], "/metrics", Some(&bearer("anything")));
    assert_eq!((answer.status, answer.body.as_str()), (200, "anonymous"));
}

#[test]
fn each_surface_is_required_only_by_its_own_credentials() {
    let auth = Arc::new(
        Authenticator::new(&AuthConfig {
            admin_tokens: vec![auth::hash_token_with_rounds(ADMIN_TOKEN, 1000)],
            ..Default::default()
        })
        .unwrap(),
    );
    let addrs = serve(vec![api_router(auth.clone()), mgmt_router(auth)]);
    assert_eq!(call("GET", addrs[0], "/api/revenue", None).status, 200);
    assert_unauthorized(&call("GET", addrs[1], "/metrics", None));

    let auth = Arc::new(
        Authenticator::new(&AuthConfig {
            jwt: Some(JwtConfig {
                public_key_pem: PUBLIC_PEM.into(),
                issuer: ISSUER.into(),
                audience: AUDIENCE.into(),
                leeway_seconds: 0,
            }),
            ..Default::default()
        })
        .unwrap(),
    );
    let addrs = serve(vec![api_router(auth.clone()), mgmt_router(auth)]);
    assert_unauthorized(&call("GET", addrs[0], "/api/revenue", None));
    // JWT only: a non-JWT token matches nothing.
    assert_unauthorized(&call(
        "GET",
        addrs[0],
        "/api/revenue",
        Some(&bearer(API_KEY)),
    ));
    assert_eq!(
        call(
            "GET",
            addrs[0],
            "/api/revenue",
            Some(&bearer(&rs256(&claims())))
        )
        .status,
        200
    );
    assert_eq!(call("GET", addrs[1], "/metrics", None).status, 200);
}
