//! The web config applied to the collector's routes: authentication on every route (the
//! agent's), and state-changing routes limited to the admin users when the config names any.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use osprey_web::{Principal, Security};

use super::routes::{Access, access_for};

/// Wraps every route in authentication and the admin check; unchanged without credentials.
pub fn secure(router: Router, security: &Security) -> Router {
    if security.auth.is_none() {
        return router;
    }
    let admins = Arc::new(security.admin_users.clone());
    // The admin check runs inside authentication, which records who the client is.
    security.protect(router.layer(axum::middleware::from_fn_with_state(admins, require_admin)))
}

async fn require_admin(
    State(admins): State<Arc<BTreeSet<String>>>,
    request: Request,
    next: Next,
) -> Response {
    let pattern = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(request.uri().path(), MatchedPath::as_str);
    let needs_admin = access_for(request.method().as_str(), pattern) == Access::Admin;
    let is_admin = match request.extensions().get::<Principal>() {
        Some(Principal::User(name)) => admins.contains(name),
        Some(Principal::BearerToken) | None => false,
    };
    if needs_admin && !admins.is_empty() && !is_admin {
        return (
            StatusCode::FORBIDDEN,
            "Forbidden: this route changes state and is limited to admin_users\n",
        )
            .into_response();
    }
    next.run(request).await
}
