//! The collector's whole app, `api::app(state)`, over a store of the test's choosing, with no
//! rules, notifications recorded but not sent, and an accepting reload.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Router;
use osprey_collector::api::lifecycle::{LifecycleState, ReloadError, Reloader};
use osprey_collector::api::tsdb_admin::TsdbAdminState;
use osprey_collector::api::{ApiState, AppState, app};
use osprey_collector::notify::{Notifier, parse_alertmanager_config};
use osprey_collector::promql::{Engine, EngineConfig};
use osprey_collector::remote_write::Receiver;
use osprey_collector::rules::{RuleDeps, RuleManager};
use osprey_collector::scrape::ScrapeManager;
use osprey_collector::tsdb::{Appendable, Querier, Storage, StorageOptions};
use osprey_web::Security;
use tempfile::TempDir;

/// A reload that always works, so `/-/reload` answers 200.
struct AcceptingReloader;

impl Reloader for AcceptingReloader {
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<(), ReloadError>> + Send + '_>> {
        Box::pin(async { Ok(()) })
    }
}

/// The app's state and the directory holding its alerting tables.
pub struct TestState {
    /// What `api::app` is built from; tests may change it first.
    pub state: AppState,
    dir: TempDir,
}

/// The router, keeping the directory of its alerting tables for as long as it lives.
pub struct TestApp {
    /// Every route of the collector.
    pub router: Router,
    _dir: TempDir,
}

impl TestState {
    /// State over `store` (queried with `config`), without a web config. The TSDB admin routes
    /// act on a store of their own in the test's directory (the one holding the alerting
    /// tables), not on `store`.
    pub fn new<S: Querier + Appendable + 'static>(store: Arc<S>, config: EngineConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let own = Arc::new(Storage::open(dir.path(), StorageOptions::default()).unwrap());
        let kv = own.key_value();
        let none =
            parse_alertmanager_config("route:\n  receiver: none\nreceivers:\n  - name: none\n")
                .unwrap();
        let notifier = Notifier::open(none, kv, "http://localhost").unwrap();
        let scrape = ScrapeManager::new(store.clone() as Arc<dyn Appendable>);
        let rules = RuleManager::new(
            Vec::new(),
            Duration::from_secs(60),
            RuleDeps {
                query: Arc::new(|_: &str, _: i64| Ok(Vec::new())),
                storage: store.clone() as Arc<dyn Appendable>,
                notify: Arc::new(notifier.clone()),
                state_store: None,
                external_labels: Default::default(),
                external_url: "http://localhost".to_owned(),
                resend_delay: Duration::from_secs(60),
                thresholds: Default::default(),
            },
        );
        let state = AppState {
            query: ApiState::new(Engine::new(store.clone() as Arc<dyn Querier>, config)),
            external_labels: Default::default(),
            remote_write: Arc::new(Receiver::new(store.clone() as Arc<dyn Appendable>)),
            lifecycle: LifecycleState {
                ready: Arc::new(AtomicBool::new(true)),
                storage: store.clone() as Arc<dyn Appendable>,
                reloader: Arc::new(AcceptingReloader),
                registry: Arc::default(),
            },
            scrape,
            rules,
            notifier,
            tsdb: TsdbAdminState {
                storage: own,
                data_dir: dir.path().to_owned(),
            },
            security: Arc::new(Security::default()),
        };
        TestState { state, dir }
    }

    /// The collector's router over this state.
    pub fn app(self) -> TestApp {
        TestApp {
            router: app(self.state),
            _dir: self.dir,
        }
    }
}
