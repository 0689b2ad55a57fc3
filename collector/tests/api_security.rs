//! The web config on the collector: every route in the route table refuses a client without
//! credentials, serves one with them, and refuses state-changing routes to non-admin users.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use osprey_agent::web::{Security, SecuritySources};
use osprey_collector::api::lifecycle::{LifecycleState, Reloader};
use osprey_collector::api::routes::{Access, ROUTES};
use osprey_collector::api::{
    ApiState, alerts_admin, app, federate, lifecycle, rules, security, targets,
};
use osprey_collector::notify::{Notifier, Silence, SilenceMatcher};
use osprey_collector::promql::{Engine, EngineConfig};
use osprey_collector::rules::{RuleDeps, RuleManager};
use osprey_collector::scrape::ScrapeManager;
use osprey_collector::tsdb::{Appendable, MemoryStorage, Querier};
use tower::ServiceExt;

/// A reload that always works, so `/-/reload` answers 200 to whoever gets through.
struct AcceptingReloader;

impl Reloader for AcceptingReloader {
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async { Ok(()) })
    }
}

/// The collector's routers, merged as the server merges them.
/// Every router the collector serves, and the id of a silence it holds.
fn collector_routes(dir: &Path) -> (Router, String) {
    let storage = Arc::new(MemoryStorage::new());
    let manager = ScrapeManager::new(storage.clone() as Arc<dyn Appendable>);
    let lifecycle = LifecycleState {
        ready: Arc::new(AtomicBool::new(true)),
        reloader: Arc::new(AcceptingReloader),
        registry: Arc::default(),
    };
    let db = Arc::new(redb::Database::create(dir.join("alerts.redb")).unwrap());
    let notifications = osprey_collector::notify::parse_alertmanager_config(
        "route:\n  receiver: none\nreceivers:\n  - name: none\n",
    )
    .unwrap();
    let notifier = Notifier::open(notifications, db, "http://localhost").unwrap();
    let silence_id = notifier
        .silences
        .create(Silence {
            id: String::new(),
            matchers: vec![SilenceMatcher {
                name: "alertname".to_owned(),
                value: "Test".to_owned(),
                is_regex: false,
                is_equal: true,
            }],
            starts_at: 0,
            ends_at: i64::MAX / 2,
            created_by: "test".to_owned(),
            comment: "route walk".to_owned(),
        })
        .unwrap();
    let query = |_: &str, _: i64| Ok(Vec::new());
    let rules = RuleManager::new(
        Vec::new(),
        Duration::from_secs(60),
        RuleDeps {
            query: Arc::new(query),
            storage: storage.clone() as Arc<dyn Appendable>,
            notify: Arc::new(notifier.clone()),
            state_store: None,
            external_labels: Default::default(),
            external_url: "http://localhost".to_owned(),
            resend_delay: Duration::from_secs(60),
        },
    );
    let router = targets::router(manager)
        .merge(rules::router(rules))
        .merge(alerts_admin::router(notifier))
        .merge(lifecycle::router(lifecycle))
        .merge(federate::router(storage.clone() as Arc<dyn Querier>))
        .merge(app(ApiState::new(Engine::new(
            storage as Arc<dyn Querier>,
            EngineConfig::default(),
        ))));
    (router, silence_id)
}

/// alice (admin) and bob, both with password `pw`, and a bearer token.
fn load_security(dir: &Path, admin_users: &str) -> Security {
    let hash = bcrypt::hash("pw", 4).unwrap();
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        format!("basic_auth_users:\n  alice: {hash}\n  bob: {hash}\nadmin_users: {admin_users}\n"),
    )
    .unwrap();
    let token = dir.join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    Security::load_from(SecuritySources {
        web_config_file: Some(&web),
        bearer_token_file: Some(&token),
        listen: "127.0.0.1:9718".parse().unwrap(),
        allow_insecure_credentials: false,
        how_to_allow: "",
    })
    .unwrap()
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// A path for `pattern`, with `{id}` naming a silence that exists.
fn concrete(pattern: &str, silence_id: &str) -> String {
    pattern
        .replace("{name}", "job")
        .replace("{file}", "app.js")
        .replace("{id}", silence_id)
}

async fn status(router: &Router, method: &str, path: &str, auth: Option<&str>) -> StatusCode {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth);
    }
    let request = request.body(Body::empty()).unwrap();
    router.clone().oneshot(request).await.unwrap().status()
}

/// Got through authentication and authorization and reached a handler that knows the route.
fn served(status: StatusCode) -> bool {
    ![
        StatusCode::UNAUTHORIZED,
        StatusCode::FORBIDDEN,
        StatusCode::NOT_FOUND,
        StatusCode::METHOD_NOT_ALLOWED,
    ]
    .contains(&status)
}

#[tokio::test]
async fn every_route_needs_credentials_and_admin_routes_need_an_admin() {
    let dir = tempfile::tempdir().unwrap();
    let (routes, id) = collector_routes(dir.path());
    let router = security::secure(routes, &load_security(dir.path(), "[alice]"));
    let alice = basic("alice", "pw");
    let bob = basic("bob", "pw");
    let wrong = basic("alice", "nope");
    let token = "Bearer s3cret-token";
    for &(verb, pattern, access) in ROUTES {
        let (method, path) = (verb.as_str(), concrete(pattern, &id));
        let at = format!("{method} {path}");
        assert_eq!(
            status(&router, method, &path, None).await,
            StatusCode::UNAUTHORIZED,
            "{at}"
        );
        assert_eq!(
            status(&router, method, &path, Some(&wrong)).await,
            StatusCode::UNAUTHORIZED,
            "{at}"
        );
        let admin = status(&router, method, &path, Some(&alice)).await;
        assert!(served(admin), "{at} as admin: {admin}");
        for other in [bob.as_str(), token] {
            let got = status(&router, method, &path, Some(other)).await;
            match access {
                Access::Read => assert!(served(got), "{at} as {other}: {got}"),
                Access::Admin => assert_eq!(got, StatusCode::FORBIDDEN, "{at} as {other}"),
            }
        }
    }
}

#[tokio::test]
async fn without_admin_users_every_authenticated_client_may_change_state() {
    let dir = tempfile::tempdir().unwrap();
    let (routes, id) = collector_routes(dir.path());
    let router = security::secure(routes, &load_security(dir.path(), "[]"));
    let admin_routes = ROUTES
        .iter()
        .filter(|(_, _, access)| *access == Access::Admin);
    let mut checked = 0;
    for &(verb, pattern, _) in admin_routes {
        let got = status(
            &router,
            verb.as_str(),
            &concrete(pattern, &id),
            Some(&basic("bob", "pw")),
        )
        .await;
        assert!(served(got), "{} {pattern}: {got}", verb.as_str());
        checked += 1;
    }
    assert!(checked > 0, "the route table lists no admin route");
}

#[tokio::test]
async fn a_state_changing_method_missing_from_the_table_needs_an_admin() {
    let dir = tempfile::tempdir().unwrap();
    let unlisted = Router::new().route(
        "/api/v1/unlisted",
        axum::routing::delete(|| async { "deleted" }),
    );
    let router = security::secure(unlisted, &load_security(dir.path(), "[alice]"));
    let bob = basic("bob", "pw");
    let alice = basic("alice", "pw");
    assert_eq!(
        status(&router, "DELETE", "/api/v1/unlisted", Some(&bob)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&router, "DELETE", "/api/v1/unlisted", Some(&alice)).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_a_web_config_nothing_asks_for_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let (routes, id) = collector_routes(dir.path());
    let router = security::secure(routes, &Security::default());
    for &(verb, pattern, _) in ROUTES {
        let got = status(&router, verb.as_str(), &concrete(pattern, &id), None).await;
        assert!(served(got), "{} {pattern}: {got}", verb.as_str());
    }
}
