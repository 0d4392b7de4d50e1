//! The tower layer that enforces authentication on a router.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use super::{Authenticator, Principal, Surface};

/// The body of every 401: it never says which part of the credential was wrong.
pub const UNAUTHORIZED_BODY: &str = r#"{"error":"unauthorized"}"#;

/// Paths of the management surface that never require a credential.
const OPEN_MANAGEMENT_PATHS: &[&str] = &["/health", "/ready"];

/// A layer requiring a valid `Authorization: Bearer <token>` on `surface`:
///
/// ```ignore
/// router.layer(moose_host::auth::require(auth.clone(), Surface::Api))
/// ```
///
/// A token with exactly two dots is checked as a JWT, any other as an API key (on
/// [`Surface::Api`]) or admin token (on [`Surface::Management`]). Missing, wrong,
/// expired or malformed credentials get 401 `{"error":"unauthorized"}` with
/// `WWW-Authenticate: Bearer`. When nothing is configured for the surface every request
/// passes. On [`Surface::Management`], `/health` and `/ready` are always open. The
/// accepted [`Principal`] ([`Principal::Anonymous`] on open routes) is put in the
/// request's extensions.
///
/// Apply it with `Router::layer` after adding the routes (it wraps the routes present
/// when it is applied), so unknown paths also need a credential and reveal nothing.
pub fn require(auth: Arc<Authenticator>, surface: Surface) -> RequireAuthLayer {
    RequireAuthLayer { auth, surface }
}

/// The layer [`require`] returns.
#[derive(Clone)]
pub struct RequireAuthLayer {
    auth: Arc<Authenticator>,
    surface: Surface,
}

impl<S> Layer<S> for RequireAuthLayer {
    type Service = RequireAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireAuth {
            inner,
            auth: self.auth.clone(),
            surface: self.surface,
        }
    }
}

/// The service [`RequireAuthLayer`] wraps around a router's routes.
#[derive(Clone)]
pub struct RequireAuth<S> {
    inner: S,
    auth: Arc<Authenticator>,
    surface: Surface,
}

impl<S> Service<Request<Body>> for RequireAuth<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // Use the service that was polled ready; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let open = !self.auth.required(self.surface)
            || (self.surface == Surface::Management
                && OPEN_MANAGEMENT_PATHS.contains(&request.uri().path()));
        if open {
            request.extensions_mut().insert(Principal::Anonymous);
            return Box::pin(inner.call(request));
        }
        let auth = self.auth.clone();
        let surface = self.surface;
        Box::pin(async move {
            let authorization = request
                .headers()
                .get(header::AUTHORIZATION)
                .map(|v| v.as_bytes());
            match auth.authenticate(surface, authorization).await {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    inner.call(request).await
                }
                Err(rejection) => {
                    tracing::debug!(
                        surface = ?surface,
                        path = request.uri().path(),
                        reason = %rejection,
                        "request refused"
                    );
                    Ok(unauthorized())
                }
            }
        })
    }
}

/// 401 `{"error":"unauthorized"}` with `WWW-Authenticate: Bearer`.
pub fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        UNAUTHORIZED_BODY,
    )
        .into_response()
}
