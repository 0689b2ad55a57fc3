use super::*;
use crate::tsdb::{Storage, StorageOptions};

fn labels(instance: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("alertname".into(), "Cpu".into()),
        ("instance".into(), instance.into()),
        ("severity".into(), "warning".into()),
    ])
}

fn fingerprint_of(instance: &str) -> u64 {
    super::super::payload::fingerprint(&labels(instance))
}

fn history(dir: &tempfile::TempDir) -> AlertHistory {
    let storage = Storage::open(dir.path(), StorageOptions::default()).unwrap();
    AlertHistory::open(storage.key_value()).unwrap()
}

fn ack(by: &str, at: i64, until: Option<i64>) -> Acknowledgement {
    Acknowledgement {
        by: by.into(),
        comment: "looking".into(),
        at,
        until,
    }
}

const NONE: BTreeMap<String, String> = BTreeMap::new();

#[test]
fn a_firing_the_disk_refused_is_not_left_half_open() {
    let dir = tempfile::tempdir().unwrap();
    let full = StorageOptions {
        min_free_bytes: Some(u64::MAX),
        ..StorageOptions::default()
    };
    let history = AlertHistory::open(Storage::open(dir.path(), full).unwrap().key_value());
    let history = history.unwrap();
    let refused = history.observe(&labels("a:9100"), &NONE, 91.0, 1000, None);
    assert!(
        matches!(refused, Err(HistoryError::Storage(_))),
        "{refused:?}"
    );
    let resolved = history.observe(&labels("a:9100"), &NONE, 70.0, 1000, Some(5000));
    assert!(resolved.is_ok(), "nothing open to close: {resolved:?}");
    assert!(
        history.resolve(&[], "ana", 6000).unwrap().is_empty(),
        "no record is open"
    );
    assert!(history.list(&HistoryQuery::default()).unwrap().is_empty());
}

#[test]
fn records_firing_resolve_ack_and_manual_resolve_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let history = history(&dir);
        for (instance, value, start, resolved) in [
            ("a:9100", 91.0, 1000, None),
            ("a:9100", 95.0, 1000, None),
            ("b:9100", 85.0, 2000, None),
            ("a:9100", 70.0, 1000, Some(5000)),
        ] {
            let observed = history.observe(&labels(instance), &NONE, value, start, resolved);
            assert_eq!(observed.unwrap(), Observed::Notify);
        }
    }
    let history = history(&dir);
    let all = history.list(&HistoryQuery::default()).unwrap();
    assert_eq!(all.len(), 2);
    let a = all
        .iter()
        .find(|r| r.label("instance") == "a:9100")
        .unwrap();
    assert_eq!(
        (a.value, a.last_value, a.resolved_at),
        (91.0, 70.0, Some(5000))
    );
    assert_eq!(a.resolved_by.as_deref(), Some("rule"));
    let by_host = history
        .list(&HistoryQuery {
            host: Some("b".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_host.len(), 1);
    let later = history
        .list(&HistoryQuery {
            from: Some(6000),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(later.len(), 1, "a resolved before 6000");
    let acked = history
        .acknowledge(by_host[0].id, ack("ana", 7000, None))
        .unwrap();
    assert_eq!(acked.state(), RecordState::Acknowledged);
    let resolved = history.resolve(&[], "ana", 8000).unwrap();
    assert_eq!(resolved.len(), 1, "bulk resolve closes every open record");
    assert_eq!(resolved[0].resolved_by.as_deref(), Some("ana"));
    let open = HistoryQuery {
        state: Some(RecordState::Firing),
        ..Default::default()
    };
    assert!(history.list(&open).unwrap().is_empty());
    history
        .observe(&labels("a:9100"), &NONE, 99.0, 9000, None)
        .unwrap();
    assert_eq!(
        history.list(&HistoryQuery::default()).unwrap().len(),
        3,
        "a new firing opens a new record"
    );
}

#[test]
fn the_history_filters_by_severity_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let history = history(&dir);
    let mut critical = labels("c:9100");
    critical.insert("severity".into(), "critical".into());
    history.observe(&critical, &NONE, 1.0, 1000, None).unwrap();
    history
        .observe(&labels("w:9100"), &NONE, 1.0, 1000, None)
        .unwrap();
    history
        .observe(&labels("r:9100"), &NONE, 1.0, 3000, None)
        .unwrap();
    history
        .observe(&labels("r:9100"), &NONE, 1.0, 3000, Some(4000))
        .unwrap();
    let list = |severity: Option<&str>, state| -> Vec<String> {
        let query = HistoryQuery {
            severity: severity.map(str::to_owned),
            state,
            ..Default::default()
        };
        (history.list(&query).unwrap().into_iter())
            .map(|r| r.label("instance").to_owned())
            .collect()
    };
    assert_eq!(list(Some("critical"), None), ["c:9100"]);
    assert_eq!(list(Some("warning"), None), ["r:9100", "w:9100"]);
    assert_eq!(list(None, Some(RecordState::Resolved)), ["r:9100"]);
    assert_eq!(list(Some("warning"), Some(RecordState::Firing)), ["w:9100"]);
}

#[test]
fn an_acknowledgement_mutes_until_its_time_or_the_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let history = history(&dir);
    let fp = fingerprint_of("a:9100");
    history
        .observe(&labels("a:9100"), &NONE, 91.0, 1000, None)
        .unwrap();
    assert!(!history.is_acknowledged(fp, 2000));
    let id = history.list(&HistoryQuery::default()).unwrap()[0].id;
    history
        .acknowledge(id, ack("ana", 2000, Some(10_000)))
        .unwrap();
    assert!(history.is_acknowledged(fp, 9_999));
    assert!(!history.is_acknowledged(fp, 10_000), "until passed");
    history.acknowledge(id, ack("bob", 3000, None)).unwrap();
    assert!(history.is_acknowledged(fp, 1 << 50), "until it resolves");
    history
        .observe(&labels("a:9100"), &NONE, 50.0, 1000, Some(20_000))
        .unwrap();
    assert!(!history.is_acknowledged(fp, 20_001), "resolved");
    history
        .observe(&labels("a:9100"), &NONE, 91.0, 30_000, None)
        .unwrap();
    assert!(
        !history.is_acknowledged(fp, 30_001),
        "a new firing is not acknowledged"
    );
}

#[test]
fn a_hand_resolve_holds_the_same_firing_until_its_condition_clears_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let history = history(&dir);
        history
            .observe(&labels("a:9100"), &NONE, 91.0, 1000, None)
            .unwrap();
        let resolved = history.resolve(&[], "ana", 5000).unwrap();
        assert_eq!(resolved[0].resolved_by.as_deref(), Some("ana"));
        resolved[0].id
    };
    let history = history(&dir);
    for at in [6000, 7000] {
        assert_eq!(
            history
                .observe(&labels("a:9100"), &NONE, 93.0, 1000, None)
                .unwrap(),
            Observed::HeldResolved(5000),
            "still firing at {at}: held, not reopened"
        );
    }
    assert_eq!(history.list(&HistoryQuery::default()).unwrap().len(), 1);
    assert_eq!(
        history
            .observe(&labels("a:9100"), &NONE, 50.0, 1000, Some(8000))
            .unwrap(),
        Observed::HeldResolved(5000)
    );
    let record = history.get(id).unwrap();
    assert_eq!(
        (
            record.resolved_at,
            record.resolved_by.as_deref(),
            record.condition_cleared_at
        ),
        (Some(5000), Some("ana"), Some(8000))
    );
    assert_eq!(
        history
            .observe(&labels("a:9100"), &NONE, 97.0, 9000, None)
            .unwrap(),
        Observed::Notify,
        "after the condition cleared, a new firing"
    );
    assert_eq!(history.list(&HistoryQuery::default()).unwrap().len(), 2);
}

#[test]
fn a_held_alert_firing_anew_opens_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let history = history(&dir);
    history
        .observe(&labels("a:9100"), &NONE, 91.0, 1000, None)
        .unwrap();
    history.resolve(&[], "ana", 5000).unwrap();
    assert_eq!(
        history
            .observe(&labels("a:9100"), &NONE, 91.0, 7000, None)
            .unwrap(),
        Observed::Notify,
        "another start: the held firing ended unseen"
    );
    let open = HistoryQuery {
        state: Some(RecordState::Firing),
        ..Default::default()
    };
    assert_eq!(history.list(&open).unwrap()[0].started_at, 7000);
}

#[test]
fn retention_prunes_resolved_records_and_keeps_open_and_held_ones() {
    let dir = tempfile::tempdir().unwrap();
    let history = history(&dir);
    history.set_retention(Duration::from_secs(60));
    let observe = |instance, start, resolved| {
        history
            .observe(&labels(instance), &NONE, 1.0, start, resolved)
            .unwrap();
    };
    observe("old:1", 1_000, None);
    observe("old:1", 1_000, Some(2_000));
    observe("recent:1", 1_000, None);
    observe("recent:1", 1_000, Some(50_000));
    observe("open:1", 1_000, None);
    observe("held:1", 1_000, None);
    let held = history
        .list(&HistoryQuery {
            host: Some("held".into()),
            ..Default::default()
        })
        .unwrap()[0]
        .id;
    history.resolve(&[held], "ana", 3_000).unwrap();
    history.prune(62_001).unwrap();
    let mut kept: Vec<String> = (history.list(&HistoryQuery::default()).unwrap())
        .into_iter()
        .map(|r| r.label("instance").to_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["held:1", "open:1", "recent:1"]);
    history.prune(110_001).unwrap();
    assert_eq!(
        history.list(&HistoryQuery::default()).unwrap().len(),
        2,
        "recent:1 passed the retention too"
    );
}
