//! The ledger suite, written once over a URL and run on SQLite and on PostgreSQL. Every check
//! reads the rows back through a fresh query rather than trusting return values.

mod common;

use common::TestDb;

/// Generates `sqlite::<case>` and `postgres::<case>` for every case in `cases`.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let db = super::TestDb::sqlite().await;
                    super::cases::$case(&db.url).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let db = super::TestDb::postgres().await;
                    super::cases::$case(&db.url).await;
                }
            )*
        }
    };
}

on_both_backends!(
    migrations_are_idempotent,
    concurrent_first_open,
    record_seen_counts_new_updated_unchanged,
    recordings_read_back_every_field,
    recordings_newest_first,
    record_seen_large_batch_and_duplicates,
    concurrent_record_seen_from_two_handles,
    ensure_action_twice_gives_one_row,
    ensure_actions_in_bulk_keeps_existing_rows,
    lease_complete_then_already_done,
    fail_then_reset_failed_gives_pending,
    expired_lease_is_taken_over,
    lease_of_a_dead_holder_is_taken_over,
    renew_extends_only_for_the_holder,
    complete_by_non_holder_is_lease_lost,
    skip_records_reason_and_refuses_done,
    unknown_keys_are_reported,
    concurrent_try_lease_exactly_one_acquired,
    concurrent_try_lease_from_two_pools,
    actions_filter_and_counts,
    runs_start_finish_read_back,
);

mod cases {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use chrono::{DateTime, TimeZone, Utc};
    use migrate_ledger::*;
    use serde_json::{Value, json};

    const TTL: Duration = Duration::from_secs(60);

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).unwrap()
    }

    fn rec(id: &str, start_ms: i64, extra: &str) -> SeenRecording {
        SeenRecording {
            record_id: id.to_owned(),
            meeting_id: format!("meeting-{id}"),
            name: format!("Cours «{id}» – été"),
            state: "published".to_owned(),
            published: true,
            start_time: at(start_ms),
            end_time: at(start_ms + 3_600_123),
            origin: Some("Moodle".to_owned()),
            snapshot: json!({
                "recordID": id,
                "extra": extra,
                "playback": [{"type": "presentation", "url": format!("https://old.example/playback/{id}")}],
                "metadata": {"bbb-context": "L2 Physique", "n": 1.5, "big": 9_007_199_254_740_993_u64, "none": null},
            }),
        }
    }

    fn new_action(key: &str, kind: &str, record_id: Option<&str>) -> NewAction {
        NewAction {
            key: key.to_owned(),
            kind: kind.to_owned(),
            record_id: record_id.map(str::to_owned),
            target: format!("target of {key}"),
            details: json!({"source": "https://old.example/x", "owner": "jdupont"}),
        }
    }

    pub async fn migrations_are_idempotent(url: &str) {
        let a = Ledger::open(url).await.unwrap();
        a.record_seen("https://old.example", &[rec("r1", 1_700_000_000_000, "")]).await.unwrap();
        a.close().await;
        let b = Ledger::open(url).await.unwrap();
        let c = Ledger::open(url).await.unwrap();
        assert_eq!(b.recording_count().await.unwrap(), 1);
        assert_eq!(c.recording("r1").await.unwrap().unwrap().record_id, "r1");
        let expected = if url.starts_with("sqlite") { Backend::Sqlite } else { Backend::Postgres };
        assert_eq!(b.backend(), expected);
    }

    pub async fn concurrent_first_open(url: &str) {
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let url = url.to_owned();
                tokio::spawn(async move { Ledger::open(&url).await })
            })
            .collect();
        for open in opens {
            let ledger = open.await.unwrap().unwrap();
            assert_eq!(ledger.recording_count().await.unwrap(), 0);
        }
    }

    pub async fn record_seen_counts_new_updated_unchanged(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        let server = "https://old.example/bigbluebutton/";
        let batch = vec![rec("a", 1000, ""), rec("b", 2000, ""), rec("c", 3000, "")];
        let s = l.record_seen(server, &batch).await.unwrap();
        assert_eq!(s, SeenStats { new: 3, updated: 0, unchanged: 0 });

        let s = l.record_seen(server, &batch).await.unwrap();
        assert_eq!(s, SeenStats { new: 0, updated: 0, unchanged: 3 });

        let mut next = batch.clone();
        next[1].snapshot["extra"] = json!("changed");
        next.push(rec("d", 4000, ""));
        let s = l.record_seen(server, &next).await.unwrap();
        assert_eq!(s, SeenStats { new: 1, updated: 1, unchanged: 2 });
        assert_eq!(s.total(), 4);

        // After the change, the same snapshot is unchanged again.
        let s = l.record_seen(server, &next).await.unwrap();
        assert_eq!(s, SeenStats { new: 0, updated: 0, unchanged: 4 });

        assert_eq!(l.record_seen(server, &[]).await.unwrap(), SeenStats::default());
        assert_eq!(l.recording_count().await.unwrap(), 4);
        let b = l.recording("b").await.unwrap().unwrap();
        assert_eq!(b.seen_count, 4);
        assert_eq!(b.snapshot["extra"], json!("changed"));
        assert_eq!(l.recording("d").await.unwrap().unwrap().seen_count, 2);
    }

    pub async fn recordings_read_back_every_field(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        let before = Utc::now() - chrono::Duration::milliseconds(1);
        let mut r = rec("rec-1", 1_717_236_000_123, "x");
        r.origin = None;
        r.published = false;
        r.state = "unpublished".to_owned();
        l.record_seen("https://first.example", std::slice::from_ref(&r)).await.unwrap();
        let after = Utc::now() + chrono::Duration::milliseconds(1);

        let got = l.recording("rec-1").await.unwrap().unwrap();
        assert_eq!(got.record_id, r.record_id);
        assert_eq!(got.meeting_id, r.meeting_id);
        assert_eq!(got.name, r.name);
        assert_eq!(got.state, "unpublished");
        assert!(!got.published);
        assert_eq!(got.start_time, r.start_time);
        assert_eq!(got.end_time, r.end_time);
        assert_eq!(got.start_time.to_rfc3339(), "2024-06-01T10:00:00.123+00:00");
        assert_eq!(got.origin, None);
        assert_eq!(got.snapshot, r.snapshot);
        assert_eq!(got.snapshot["metadata"]["big"], json!(9_007_199_254_740_993_u64));
        assert_eq!(got.server, "https://first.example");
        assert_eq!(got.seen_count, 1);
        assert_eq!(got.first_seen, got.last_seen);
        assert!(got.first_seen >= before && got.first_seen <= after, "{got:?}");

        tokio::time::sleep(Duration::from_millis(5)).await;
        r.origin = Some("Greenlight".to_owned());
        r.published = true;
        l.record_seen("https://second.example", std::slice::from_ref(&r)).await.unwrap();
        let again = l.recording("rec-1").await.unwrap().unwrap();
        assert_eq!(again.first_seen, got.first_seen);
        assert!(again.last_seen > got.last_seen);
        assert_eq!(again.seen_count, 2);
        assert_eq!(again.server, "https://second.example");
        assert_eq!(again.origin.as_deref(), Some("Greenlight"));
        assert!(again.published);
        assert!(l.recording("nope").await.unwrap().is_none());
    }

    pub async fn recordings_newest_first(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        let batch = vec![
            rec("mid", 1_600_000_000_000, ""),
            rec("old", 1_500_000_000_000, ""),
            rec("new", 1_700_000_000_000, ""),
            rec("newest", 1_700_000_000_001, ""),
        ];
        l.record_seen("s", &batch).await.unwrap();
        let ids: Vec<String> = l.recordings().await.unwrap().into_iter().map(|r| r.record_id).collect();
        assert_eq!(ids, ["newest", "new", "mid", "old"]);
    }

    pub async fn record_seen_large_batch_and_duplicates(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        let mut batch: Vec<SeenRecording> =
            (0..1234).map(|i| rec(&format!("r{i:05}"), 1_600_000_000_000 + i * 1000, "")).collect();
        // The same id twice in one page: counted once, last one wins.
        let mut dup = rec("r00007", 1_600_000_007_000, "second copy");
        dup.name = "second copy".to_owned();
        batch.push(dup);
        let s = l.record_seen("s", &batch).await.unwrap();
        assert_eq!(s, SeenStats { new: 1234, updated: 0, unchanged: 0 });
        assert_eq!(l.recording_count().await.unwrap(), 1234);
        let r7 = l.recording("r00007").await.unwrap().unwrap();
        assert_eq!(r7.name, "second copy");
        assert_eq!(r7.seen_count, 1);
        let s = l.record_seen("s", &batch).await.unwrap();
        assert_eq!(s, SeenStats { new: 0, updated: 0, unchanged: 1234 });
    }

    pub async fn concurrent_record_seen_from_two_handles(url: &str) {
        let a = Ledger::open(url).await.unwrap();
        let b = Ledger::open(url).await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let l = if t % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move {
                    let mut total = SeenStats::default();
                    for round in 0..5 {
                        // Overlapping ids across tasks: every task writes r0..r49.
                        let page: Vec<_> =
                            (0..50).map(|i| rec(&format!("r{i}"), 1_000 * i, &format!("{t}-{round}"))).collect();
                        let s = l.record_seen("s", &page).await.unwrap();
                        total.new += s.new;
                        total.updated += s.updated;
                        total.unchanged += s.unchanged;
                    }
                    total
                })
            })
            .collect();
        let mut new = 0;
        for t in tasks {
            let s = t.await.unwrap();
            assert_eq!(s.total(), 250);
            new += s.new;
        }
        assert_eq!(new, 50, "each id is new exactly once");
        let all = a.recordings().await.unwrap();
        assert_eq!(all.len(), 50);
        assert!(all.iter().all(|r| r.seen_count == 40), "8 tasks x 5 rounds");
    }

    pub async fn ensure_action_twice_gives_one_row(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        let first = l.ensure_action(&new_action("claim:r1", "claim", Some("r1"))).await.unwrap();
        assert_eq!(first.status, ActionStatus::Pending);
        assert_eq!(first.attempts, 0);
        assert_eq!(first.kind, "claim");
        assert_eq!(first.record_id.as_deref(), Some("r1"));
        assert_eq!(first.target, "target of claim:r1");
        assert_eq!(first.details, json!({"source": "https://old.example/x", "owner": "jdupont"}));
        assert_eq!(first.lease_owner, None);
        assert_eq!(first.finished_at, None);
        assert_eq!(first.created_at, first.updated_at);

        let mut other = new_action("claim:r1", "other-kind", None);
        other.target = "something else".to_owned();
        let second = l.ensure_action(&other).await.unwrap();
        assert_eq!(second, first, "existing row is returned unchanged");
        let all = l.actions(&ActionFilter::default()).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(l.action("claim:r1").await.unwrap().unwrap(), first);
    }

    pub async fn ensure_actions_in_bulk_keeps_existing_rows(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        let first = l.ensure_action(&new_action("claim:r1", "claim", Some("r1"))).await.unwrap();
        let batch: Vec<NewAction> =
            (1..=3).map(|i| new_action(&format!("claim:r{i}"), "other", Some(&format!("r{i}")))).collect();
        assert_eq!(l.ensure_actions(&batch).await.unwrap(), 2, "r1 existed");
        assert_eq!(l.ensure_actions(&batch).await.unwrap(), 0);
        assert_eq!(l.action("claim:r1").await.unwrap().unwrap(), first, "an existing row is left unchanged");
        let r3 = l.action("claim:r3").await.unwrap().unwrap();
        assert_eq!((r3.kind.as_str(), r3.status), ("other", ActionStatus::Pending));
        assert_eq!(l.actions(&ActionFilter::default()).await.unwrap().len(), 3);
    }

    pub async fn lease_of_a_dead_holder_is_taken_over(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        l.ensure_action(&new_action("claim:dead", "claim", Some("dead"))).await.unwrap();
        let dead = format!("{}:{}", hostname(), exited_pid());
        assert!(matches!(l.try_lease("claim:dead", &dead, TTL).await.unwrap(), Lease::Acquired(_)));
        assert!(is_dead_local_holder(&dead));
        assert!(!is_dead_local_holder(&default_owner()), "this process is alive");
        assert!(!is_dead_local_holder("another-host:1"), "other hosts are judged by expiry only");
        assert!(matches!(l.try_lease("claim:dead", "me:1", TTL).await.unwrap(), Lease::Busy { .. }));
        assert!(l.take_over("claim:dead", "someone-else:2", "me:1", TTL).await.unwrap().is_none());
        let row = l.take_over("claim:dead", &dead, "me:1", TTL).await.unwrap().expect("taken over");
        assert_eq!((row.lease_owner.as_deref(), row.attempts), (Some("me:1"), 2));
        l.complete("claim:dead", "me:1", &ActionOutput::default()).await.unwrap();
        assert!(l.take_over("claim:dead", "me:1", "me:2", TTL).await.unwrap().is_none(), "done stays done");
    }

    /// The pid of a process that has exited.
    fn exited_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    pub async fn lease_complete_then_already_done(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        let key = "import:https://old.example/r2:jdupont";
        l.ensure_action(&new_action(key, "import", Some("r2"))).await.unwrap();
        let owner = "host-a:100";
        let before = Utc::now() - chrono::Duration::milliseconds(1);
        let row = match l.try_lease(key, owner, TTL).await.unwrap() {
            Lease::Acquired(row) => row,
            other => panic!("expected Acquired, got {other:?}"),
        };
        assert_eq!(row.status, ActionStatus::Running);
        assert_eq!(row.attempts, 1);
        assert_eq!(row.lease_owner.as_deref(), Some(owner));
        let exp = row.lease_expires.unwrap();
        assert!(exp >= before + chrono::Duration::seconds(59), "{exp}");
        assert_eq!(l.action(key).await.unwrap().unwrap(), row);

        let output = ActionOutput {
            path: Some("/srv/pod/media/video.mp4".to_owned()),
            size: Some(5_000_000_000),
            sha256: Some("ab".repeat(32)),
            details: json!({"duration_s": 3600.5, "pod_id": 42}),
        };
        l.complete(key, owner, &output).await.unwrap();
        let done = l.action(key).await.unwrap().unwrap();
        assert_eq!(done.status, ActionStatus::Done);
        assert_eq!(done.output_path, output.path);
        assert_eq!(done.output_size, Some(5_000_000_000));
        assert_eq!(done.output_sha256, output.sha256);
        assert_eq!(done.output_details, Some(output.details.clone()));
        assert_eq!(done.details, row.details, "plan details are kept");
        assert_eq!(done.lease_expires, None);
        assert!(done.finished_at.is_some());
        assert!(done.finished_at.unwrap() >= row.updated_at);

        for who in [owner, "host-b:200"] {
            match l.try_lease(key, who, TTL).await.unwrap() {
                Lease::AlreadyDone(r) => assert_eq!(r, done),
                other => panic!("expected AlreadyDone, got {other:?}"),
            }
        }
        // A repeated complete (e.g. after a lost reply) is harmless; nothing moved.
        l.complete(key, owner, &output).await.unwrap();
        assert_eq!(l.action(key).await.unwrap().unwrap().attempts, 1);
    }

    pub async fn fail_then_reset_failed_gives_pending(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        l.ensure_action(&new_action("render:r3", "render", Some("r3"))).await.unwrap();
        l.ensure_action(&new_action("claim:r3", "claim", Some("r3"))).await.unwrap();
        for key in ["render:r3", "claim:r3"] {
            assert!(matches!(l.try_lease(key, "w", TTL).await.unwrap(), Lease::Acquired(_)));
            l.fail(key, "w", "ffmpeg exited with status 1: moov atom not found").await.unwrap();
        }
        let failed = l.action("render:r3").await.unwrap().unwrap();
        assert_eq!(failed.status, ActionStatus::Failed);
        assert_eq!(failed.last_error.as_deref(), Some("ffmpeg exited with status 1: moov atom not found"));
        assert_eq!(failed.lease_expires, None);
        assert!(failed.finished_at.is_some());
        // Repeating the same fail is harmless.
        l.fail("render:r3", "w", "again").await.unwrap();

        assert_eq!(l.reset_failed(Some("archive")).await.unwrap(), 0);
        assert_eq!(l.reset_failed(Some("render")).await.unwrap(), 1);
        let pending = l.action("render:r3").await.unwrap().unwrap();
        assert_eq!(pending.status, ActionStatus::Pending);
        assert_eq!(pending.finished_at, None);
        assert_eq!(pending.attempts, 1, "attempts are history, not reset");
        assert_eq!(l.action("claim:r3").await.unwrap().unwrap().status, ActionStatus::Failed);
        assert_eq!(l.reset_failed(None).await.unwrap(), 1);
        assert_eq!(l.reset_failed(None).await.unwrap(), 0);

        match l.try_lease("render:r3", "w2", TTL).await.unwrap() {
            Lease::Acquired(r) => assert_eq!(r.attempts, 2),
            other => panic!("expected Acquired, got {other:?}"),
        }
    }

    pub async fn expired_lease_is_taken_over(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        let key = "archive:r4:/archive/r4.tar";
        l.ensure_action(&new_action(key, "archive", Some("r4"))).await.unwrap();
        assert!(matches!(l.try_lease(key, "a:1", Duration::from_millis(300)).await.unwrap(), Lease::Acquired(_)));
        match l.try_lease(key, "b:2", TTL).await.unwrap() {
            Lease::Busy { owner, expires } => {
                assert_eq!(owner, "a:1");
                assert!(expires > Utc::now() - chrono::Duration::milliseconds(50));
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        match l.try_lease(key, "b:2", TTL).await.unwrap() {
            Lease::Acquired(r) => {
                assert_eq!(r.attempts, 2);
                assert_eq!(r.lease_owner.as_deref(), Some("b:2"));
            }
            other => panic!("expected takeover, got {other:?}"),
        }
        // The old holder wakes up: everything it tries is refused.
        assert!(!l.renew_lease(key, "a:1", TTL).await.unwrap());
        assert!(matches!(
            l.complete(key, "a:1", &ActionOutput::default()).await,
            Err(LedgerError::LeaseLost { key: k }) if k == key
        ));
        assert!(matches!(l.fail(key, "a:1", "late").await, Err(LedgerError::LeaseLost { .. })));
        l.complete(key, "b:2", &ActionOutput::default()).await.unwrap();
        let done = l.action(key).await.unwrap().unwrap();
        assert_eq!(done.status, ActionStatus::Done);
        assert_eq!(done.lease_owner.as_deref(), Some("b:2"));
        assert_eq!(done.output_details, None);
        assert_eq!(done.output_size, None);
    }

    pub async fn renew_extends_only_for_the_holder(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        l.ensure_action(&new_action("k", "claim", None)).await.unwrap();
        assert!(!l.renew_lease("k", "a", TTL).await.unwrap(), "not leased yet");
        let Lease::Acquired(row) = l.try_lease("k", "a", Duration::from_secs(1)).await.unwrap() else {
            panic!("expected Acquired");
        };
        assert!(l.renew_lease("k", "a", Duration::from_secs(3600)).await.unwrap());
        assert!(!l.renew_lease("k", "b", Duration::from_secs(3600)).await.unwrap());
        let renewed = l.action("k").await.unwrap().unwrap();
        assert!(renewed.lease_expires.unwrap() > row.lease_expires.unwrap() + chrono::Duration::seconds(3000));
        // The same owner asking again re-acquires its own lease (a retry after a crash).
        assert!(matches!(l.try_lease("k", "a", TTL).await.unwrap(), Lease::Acquired(r) if r.attempts == 2));
    }

    pub async fn complete_by_non_holder_is_lease_lost(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        l.ensure_action(&new_action("k1", "claim", None)).await.unwrap();
        // Nobody holds a pending action.
        let err = l.complete("k1", "x", &ActionOutput::default()).await.unwrap_err();
        assert!(matches!(&err, LedgerError::LeaseLost { key } if key == "k1"), "{err}");
        assert!(err.to_string().contains("k1"));
        assert!(matches!(l.try_lease("k1", "holder", TTL).await.unwrap(), Lease::Acquired(_)));
        assert!(matches!(
            l.complete("k1", "intruder", &ActionOutput::default()).await,
            Err(LedgerError::LeaseLost { .. })
        ));
        assert_eq!(l.action("k1").await.unwrap().unwrap().status, ActionStatus::Running);
    }

    pub async fn skip_records_reason_and_refuses_done(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        l.ensure_action(&new_action("s1", "import", None)).await.unwrap();
        l.skip("s1", "no owner found and no fallback configured").await.unwrap();
        let s = l.action("s1").await.unwrap().unwrap();
        assert_eq!(s.status, ActionStatus::Skipped);
        assert_eq!(s.last_error.as_deref(), Some("no owner found and no fallback configured"));
        assert!(s.finished_at.is_some());
        // A skipped action may be retried later (the condition may have changed).
        assert!(matches!(l.try_lease("s1", "w", TTL).await.unwrap(), Lease::Acquired(_)));
        l.complete("s1", "w", &ActionOutput::default()).await.unwrap();
        assert!(matches!(
            l.skip("s1", "too late").await,
            Err(LedgerError::InvalidTransition { wanted: "skipped", .. })
        ));
        assert_eq!(l.action("s1").await.unwrap().unwrap().status, ActionStatus::Done);
    }

    pub async fn unknown_keys_are_reported(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        assert!(l.action("missing").await.unwrap().is_none());
        assert!(matches!(l.try_lease("missing", "w", TTL).await, Err(LedgerError::UnknownAction { .. })));
        assert!(matches!(
            l.complete("missing", "w", &ActionOutput::default()).await,
            Err(LedgerError::UnknownAction { .. })
        ));
        assert!(matches!(l.fail("missing", "w", "e").await, Err(LedgerError::UnknownAction { .. })));
        assert!(matches!(l.skip("missing", "r").await, Err(LedgerError::UnknownAction { .. })));
        assert!(!l.renew_lease("missing", "w", TTL).await.unwrap());
    }

    async fn race(ledgers: &[Ledger], key: &str, contenders: usize) -> (usize, usize) {
        ledgers[0].ensure_action(&new_action(key, "claim", None)).await.unwrap();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(contenders));
        let tasks: Vec<_> = (0..contenders)
            .map(|i| {
                let l = ledgers[i % ledgers.len()].clone();
                let key = key.to_owned();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    l.try_lease(&key, &format!("worker-{i}"), TTL).await.unwrap()
                })
            })
            .collect();
        let (mut acquired, mut busy) = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                Lease::Acquired(_) => acquired += 1,
                Lease::Busy { .. } => busy += 1,
                Lease::AlreadyDone(_) => panic!("nobody completed it"),
            }
        }
        let row = ledgers[0].action(key).await.unwrap().unwrap();
        assert_eq!(row.attempts, 1, "exactly one lease was granted: {row:?}");
        (acquired, busy)
    }

    pub async fn concurrent_try_lease_exactly_one_acquired(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        for round in 0..5 {
            let (acquired, busy) = race(std::slice::from_ref(&l), &format!("race:{round}"), 20).await;
            assert_eq!((acquired, busy), (1, 19));
        }
    }

    pub async fn concurrent_try_lease_from_two_pools(url: &str) {
        let a = Ledger::open(url).await.unwrap();
        let b = Ledger::open(url).await.unwrap();
        let ledgers = [a, b];
        for round in 0..5 {
            let (acquired, busy) = race(&ledgers, &format!("race2:{round}"), 20).await;
            assert_eq!((acquired, busy), (1, 19));
        }
    }

    pub async fn actions_filter_and_counts(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        for (key, kind, rid) in [
            ("claim:a", "claim", "a"),
            ("claim:b", "claim", "b"),
            ("import:a", "import", "a"),
            ("archive:a", "archive", "a"),
        ] {
            l.ensure_action(&new_action(key, kind, Some(rid))).await.unwrap();
        }
        assert!(matches!(l.try_lease("claim:a", "w", TTL).await.unwrap(), Lease::Acquired(_)));
        l.complete("claim:a", "w", &ActionOutput::default()).await.unwrap();
        assert!(matches!(l.try_lease("import:a", "w", TTL).await.unwrap(), Lease::Acquired(_)));
        l.fail("import:a", "w", "boom").await.unwrap();
        assert!(matches!(l.try_lease("archive:a", "w", TTL).await.unwrap(), Lease::Acquired(_)));

        let keys = |rows: Vec<ActionRow>| rows.into_iter().map(|r| r.key).collect::<Vec<_>>();
        let by_kind = ActionFilter { kind: Some("claim".into()), ..Default::default() };
        assert_eq!(keys(l.actions(&by_kind).await.unwrap()), ["claim:a", "claim:b"]);
        let by_record = ActionFilter { record_id: Some("a".into()), ..Default::default() };
        assert_eq!(keys(l.actions(&by_record).await.unwrap()), ["claim:a", "import:a", "archive:a"]);
        let failed = ActionFilter { status: Some(ActionStatus::Failed), ..Default::default() };
        assert_eq!(keys(l.actions(&failed).await.unwrap()), ["import:a"]);
        let all3 = ActionFilter {
            kind: Some("claim".into()),
            status: Some(ActionStatus::Pending),
            record_id: Some("b".into()),
        };
        assert_eq!(keys(l.actions(&all3).await.unwrap()), ["claim:b"]);
        assert_eq!(l.actions(&ActionFilter::default()).await.unwrap().len(), 4);

        let counts = l.action_counts().await.unwrap();
        let expected: BTreeMap<(String, ActionStatus), u64> = [
            (("archive".to_owned(), ActionStatus::Running), 1),
            (("claim".to_owned(), ActionStatus::Done), 1),
            (("claim".to_owned(), ActionStatus::Pending), 1),
            (("import".to_owned(), ActionStatus::Failed), 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(counts, expected);
    }

    pub async fn runs_start_finish_read_back(url: &str) {
        let l = Ledger::open(url).await.unwrap();
        let first = l.start_run("inventory --server old").await.unwrap();
        let second = l.start_run("migrate --jobs 4").await.unwrap();
        assert!(second.0 > first.0);
        let r = l.run(first).await.unwrap().unwrap();
        assert_eq!(r.command, "inventory --server old");
        assert_eq!(r.status, "running");
        assert_eq!(r.finished_at, None);
        assert_eq!(r.summary, None);
        assert_eq!(r.pid, std::process::id());
        assert_eq!(r.host, hostname());
        let summary = json!({"recordings": 1234, "new": 10, "errors": []});
        l.finish_run(first, "ok", &summary).await.unwrap();
        let r = l.run(first).await.unwrap().unwrap();
        assert_eq!(r.status, "ok");
        assert_eq!(r.summary, Some(summary));
        assert!(r.finished_at.unwrap() >= r.started_at);
        let runs = l.runs().await.unwrap();
        assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [second, first]);
        assert!(matches!(
            l.finish_run(RunId(987_654), "ok", &Value::Null).await,
            Err(LedgerError::UnknownRun { id: 987_654 })
        ));
    }
}

// ------------------------------------------------------------------ backend-specific

#[tokio::test]
async fn postgres_password_is_masked_in_errors() {
    let err = migrate_ledger::Ledger::open("postgres://postgres:Sup3rS3cret@127.0.0.1:1/ledger").await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("postgres:****@127.0.0.1:1/ledger"), "{text}");
    assert!(!text.contains("Sup3rS3cret"), "{text}");
    assert!(!format!("{err:?}").contains("Sup3rS3cret"));

    let err = migrate_ledger::Ledger::open("postgresql://127.0.0.1:1/ledger?user=postgres&password=Sup3rS3cret")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("password=****") && !text.contains("Sup3rS3cret"), "{text}");
}

#[tokio::test]
async fn postgres_display_url_is_masked() {
    let db = TestDb::postgres().await;
    // Trust authentication ignores the password, so the connection works and we can check
    // what the handle shows.
    let with_pw = db.url.replacen("postgres@", "postgres:Sup3rS3cret@", 1);
    let l = migrate_ledger::Ledger::open(&with_pw).await.unwrap();
    assert!(l.display_url().contains("postgres:****@"), "{}", l.display_url());
    assert!(!l.display_url().contains("Sup3rS3cret"));
    assert!(!format!("{l:?}").contains("Sup3rS3cret"));
    l.close().await;
}

#[tokio::test]
async fn sqlite_file_and_parent_dir_are_created() {
    let db = TestDb::sqlite().await;
    let path = db.sqlite_path().unwrap();
    assert!(!path.parent().unwrap().exists());
    let l = migrate_ledger::Ledger::open(&db.url).await.unwrap();
    assert!(path.is_file());
    assert_eq!(l.display_url(), db.url);
    assert_eq!(l.backend(), migrate_ledger::Backend::Sqlite);
    // WAL mode is a property of the file.
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn sqlite_plain_path_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.sqlite");
    let l = migrate_ledger::Ledger::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(l.recording_count().await.unwrap(), 0);
    assert!(path.is_file());

    let m = migrate_ledger::Ledger::open("sqlite::memory:").await.unwrap();
    m.ensure_action(&migrate_ledger::NewAction {
        key: "k".into(),
        kind: "claim".into(),
        record_id: None,
        target: "t".into(),
        details: serde_json::json!({}),
    })
    .await
    .unwrap();
    assert_eq!(m.actions(&Default::default()).await.unwrap().len(), 1);
    assert_eq!(m.display_url(), "sqlite::memory:");
}

#[tokio::test]
async fn sqlite_unwritable_location_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let bad = blocker.join("ledger.sqlite");
    let err = migrate_ledger::Ledger::open(&format!("sqlite://{}", bad.display())).await.unwrap_err();
    assert!(matches!(err, migrate_ledger::LedgerError::SqliteFile { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&bad.display().to_string()), "{text}");

    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(&garbage, vec![b'z'; 4096]).unwrap();
    let err = migrate_ledger::Ledger::open(&format!("sqlite://{}", garbage.display())).await.unwrap_err();
    assert!(err.to_string().contains("garbage.sqlite"), "{err}");
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    let err = migrate_ledger::Ledger::open("mysql://root:pw@localhost/pod").await.unwrap_err();
    assert!(matches!(err, migrate_ledger::LedgerError::UnsupportedUrl { .. }));
    assert!(!err.to_string().contains(":pw@"));
}
