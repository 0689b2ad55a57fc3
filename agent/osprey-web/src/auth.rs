//! Request authentication: basic auth against bcrypt hashes and an optional bearer token.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

/// At most this many verified credentials are remembered, so bcrypt (tens of milliseconds by
/// design) runs once per credential rather than once per scrape.
const CACHE_LIMIT: usize = 64;

/// A bcrypt hash of a random password, verified against when the user is unknown so that a
/// wrong user name takes as long as a wrong password.
const DUMMY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Who a request was authenticated as; the middleware stores it in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A basic-auth user, by name.
    User(String),
    /// Whoever holds the bearer token.
    BearerToken,
}

/// Who may connect: basic-auth users, a bearer token, or both.
#[derive(Debug)]
pub struct Authenticator {
    users: BTreeMap<String, String>,
    bearer_token: Option<String>,
    verified: Mutex<HashSet<String>>,
}

impl Authenticator {
    /// `users` maps user names to bcrypt hashes.
    pub fn new(users: BTreeMap<String, String>, bearer_token: Option<String>) -> Self {
        Authenticator {
            users,
            bearer_token,
            verified: Mutex::new(HashSet::new()),
        }
    }

    /// Whether the `Authorization` header value grants access.
    pub fn allows(&self, authorization: &str) -> bool {
        self.identify(authorization).is_some()
    }

    /// Who the `Authorization` header value authenticates, if anyone.
    pub fn identify(&self, authorization: &str) -> Option<Principal> {
        if let (Some(token), Some(given)) =
            (&self.bearer_token, authorization.strip_prefix("Bearer "))
        {
            return constant_time_eq(token.as_bytes(), given.trim().as_bytes())
                .then_some(Principal::BearerToken);
        }
        let encoded = authorization.strip_prefix("Basic ")?;
        if self.users.is_empty() {
            return None;
        }
        let (user, password) = decode_basic(encoded)?;
        let verified = || self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified().contains(authorization) {
            return Some(Principal::User(user));
        }
        let hash = self.users.get(&user).map_or(DUMMY_HASH, String::as_str);
        let ok = bcrypt::verify(&password, hash).unwrap_or(false) && self.users.contains_key(&user);
        if !ok {
            return None;
        }
        let mut verified = verified();
        if verified.len() >= CACHE_LIMIT {
            verified.clear();
        }
        verified.insert(authorization.to_owned());
        Some(Principal::User(user))
    }

    /// The challenge sent with a 401.
    fn challenge(&self) -> &'static str {
        if self.users.is_empty() {
            "Bearer"
        } else {
            "Basic"
        }
    }
}

fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Axum middleware: passes the request on, with its [`Principal`] as an extension, when
/// authorized; else answers 401.
pub async fn require_auth(
    State(auth): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let principal = match authorization {
        // bcrypt is deliberately slow: keep it off the async workers.
        Some(value) => {
            let auth = Arc::clone(&auth);
            tokio::task::spawn_blocking(move || auth.identify(&value))
                .await
                .unwrap_or(None)
        }
        None => None,
    };
    if let Some(principal) = principal {
        request.extensions_mut().insert(principal);
        return next.run(request).await;
    }
    let mut response = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(auth.challenge()),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> String {
        let raw = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    fn authenticator() -> Authenticator {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        Authenticator::new(
            BTreeMap::from([("alice".to_owned(), hash)]),
            Some("tok".into()),
        )
    }

    #[test]
    fn right_password_passes_and_wrong_ones_do_not() {
        let auth = authenticator();
        assert!(auth.allows(&basic("alice", "s3cret")));
        assert!(auth.allows(&basic("alice", "s3cret")), "cached");
        assert!(!auth.allows(&basic("alice", "s3cre")));
        assert!(!auth.allows(&basic("bob", "s3cret")));
        assert!(!auth.allows("Basic !!!"));
    }

    #[test]
    fn the_dummy_hash_is_a_real_bcrypt_hash() {
        assert_eq!(bcrypt::verify("anything", DUMMY_HASH).ok(), Some(false));
    }

    #[test]
    fn identify_names_the_user_or_the_token() {
        let auth = authenticator();
        let alice = Some(Principal::User("alice".into()));
        assert_eq!(auth.identify(&basic("alice", "s3cret")), alice);
        assert_eq!(auth.identify(&basic("alice", "s3cret")), alice, "cached");
        assert_eq!(auth.identify("Bearer tok"), Some(Principal::BearerToken));
        assert_eq!(auth.identify(&basic("alice", "nope")), None);
    }

    #[test]
    fn bearer_token_must_match_exactly() {
        let auth = authenticator();
        assert!(auth.allows("Bearer tok"));
        assert!(!auth.allows("Bearer to"));
        assert!(!auth.allows("Bearer tokk"));
    }
}
