//! The `bbb-migrate` binary run as a subprocess against the in-process demo old server: what a sysadmin types,
//! what they read back.

use std::path::Path;

use assert_cmd::Command;
use migrate_demo::{DemoServer, ServerOptions};
use predicates::prelude::*;
use serde_json::Value;

async fn server(recordings: usize) -> DemoServer {
    DemoServer::start(ServerOptions { recordings, ..Default::default() }).await.expect("demo server starts")
}

/// The binary with a clean environment: no config file around, the old server and ledger from variables.
fn bbb_migrate(dir: &Path, server: &DemoServer) -> Command {
    let mut cmd = Command::cargo_bin("bbb-migrate").unwrap();
    cmd.current_dir(dir)
        .env_remove("BBB_MIGRATE_CONFIG")
        .env("BBB_MIGRATE_SOURCE__URL", server.api_url())
        .env("BBB_MIGRATE_SOURCE__SECRET", server.secret())
        .env("BBB_MIGRATE_SOURCE__RETRIES", "0")
        .env("BBB_MIGRATE_LEDGER__DATABASE", format!("sqlite://{}", dir.join("ledger.sqlite").display()));
    cmd
}

fn json_of(output: &[u8]) -> Vec<Value> {
    serde_json::from_slice::<Value>(output).expect("JSON output").as_array().expect("an array").clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn inventory_json_numbers_the_newest_first_and_the_range_takes_the_two_most_recent() {
    let server = server(40).await;
    let dir = tempfile::tempdir().unwrap();
    let out = bbb_migrate(dir.path(), &server).args(["inventory", "--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let all = json_of(&out.stdout);
    let listed_by_default =
        server.recordings().iter().filter(|r| r.recording.state.as_str().ends_with("published")).count();
    assert_eq!(all.len(), listed_by_default, "published and unpublished, as BBB's default");
    let starts: Vec<&str> = all.iter().map(|e| e["start_time"].as_str().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "newest first: {starts:?}");
    let positions: Vec<u64> = all.iter().map(|e| e["position"].as_u64().unwrap()).collect();
    assert_eq!(positions, (1..=all.len() as u64).collect::<Vec<_>>());
    let first = &all[0];
    for field in
        ["record_id", "meeting_id", "name", "state", "published", "end_time", "duration_seconds", "metadata", "formats"]
    {
        assert!(first.get(field).is_some(), "field {field} in {first}");
    }
    assert!(first["start_time"].as_str().unwrap().ends_with('Z'), "RFC 3339 UTC");

    let out = bbb_migrate(dir.path(), &server)
        .args(["inventory", "--from", "1", "--to", "2", "-f", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let two = json_of(&out.stdout);
    assert_eq!(
        two.iter().map(|e| &e["record_id"]).collect::<Vec<_>>(),
        vec![&all[0]["record_id"], &all[1]["record_id"]]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_by_origin_state_and_dates_then_numbers() {
    let server = server(60).await;
    let dir = tempfile::tempdir().unwrap();
    let out = bbb_migrate(dir.path(), &server)
        .args(["inventory", "--origin", "Moodle", "--state", "any", "-f", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let moodle = json_of(&out.stdout);
    let expected = server.recordings().iter().filter(|r| r.recording.origin() == Some("Moodle")).count();
    assert_eq!(moodle.len(), expected);
    assert!(moodle.iter().all(|e| e["metadata"]["bbb-origin"] == "Moodle"));
    assert_eq!(moodle[0]["position"], 1);

    let newest = server.recordings().iter().map(|r| r.recording.start_time).max().unwrap();
    let day = newest.format("%Y-%m-%d").to_string();
    let out = bbb_migrate(dir.path(), &server)
        .args(["inventory", "--state", "any", "--since", &day, "--until", &day, "-f", "json"])
        .output()
        .unwrap();
    let that_day = json_of(&out.stdout);
    let expected =
        server.recordings().iter().filter(|r| r.recording.start_time.format("%Y-%m-%d").to_string() == day).count();
    assert_eq!(that_day.len(), expected);
    assert!(that_day.iter().all(|e| e["start_time"].as_str().unwrap().starts_with(&day)));
}

#[tokio::test(flavor = "multi_thread")]
async fn range_edge_cases_fail_clearly_before_any_work() {
    let server = server(5).await;
    let dir = tempfile::tempdir().unwrap();
    bbb_migrate(dir.path(), &server)
        .args(["inventory", "--from", "0"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("0 is not a position"));
    bbb_migrate(dir.path(), &server)
        .args(["inventory", "--from", "4", "--to", "2"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--from 4 is after --to 2"));
    assert!(server.requests().is_empty(), "a bad range is refused before calling the server");
    bbb_migrate(dir.path(), &server)
        .args(["inventory", "--from", "50", "--state", "any"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--from 50 is beyond the last recording: only 5 recording(s)"));
    let out = bbb_migrate(dir.path(), &server)
        .args(["inventory", "--from", "4", "--to", "500", "--state", "any", "-f", "json"])
        .output()
        .unwrap();
    assert_eq!(json_of(&out.stdout).len(), 2, "--to beyond the end stops at the last recording");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_remembers_and_a_rerun_changes_nothing() {
    let server = server(25).await;
    let dir = tempfile::tempdir().unwrap();
    bbb_migrate(dir.path(), &server)
        .args(["inventory", "--state", "any", "-f", "csv"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("position,record_id,"))
        .stderr(predicate::str::contains("ledger: 25 new, 0 changed, 0 unchanged"));
    bbb_migrate(dir.path(), &server)
        .args(["inventory", "--state", "any"])
        .assert()
        .success()
        .stdout(predicate::str::contains("25 recording"))
        .stderr(predicate::str::contains("ledger: 0 new, 0 changed, 25 unchanged"));
    assert!(dir.path().join("ledger.sqlite").is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn config_check_reaches_the_server_and_never_prints_the_secret() {
    let server = server(3).await;
    let dir = tempfile::tempdir().unwrap();
    bbb_migrate(dir.path(), &server)
        .args(["config", "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("configuration is usable"))
        .stdout(predicate::str::contains(server.secret()).not());

    let wrong = "wrong-secret-0123456789abcdef";
    let out = bbb_migrate(dir.path(), &server)
        .env("BBB_MIGRATE_SOURCE__SECRET", wrong)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("source.secret"), "{text}");
    assert!(text.contains("secret or checksum algorithm is wrong"), "{text}");
    assert!(!text.contains(wrong), "{text}");

    let out =
        bbb_migrate(dir.path(), &server).env("BBB_MIGRATE_SOURCE__SECRET", wrong).arg("inventory").output().unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains(wrong));
}

#[tokio::test(flavor = "multi_thread")]
async fn config_init_writes_a_template_that_check_reads() {
    let server = server(2).await;
    let dir = tempfile::tempdir().unwrap();
    let out = bbb_migrate(dir.path(), &server).args(["config", "init"]).output().unwrap();
    let template = String::from_utf8(out.stdout).unwrap();
    for section in ["[source]", "[ledger]", "[pod]", "[render]", "[queue]"] {
        assert!(template.contains(section), "{section} in the template");
    }
    std::fs::write(dir.path().join("bbb-migrate.toml"), &template).unwrap();
    bbb_migrate(dir.path(), &server)
        .args(["config", "show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("bbb-migrate.toml"))
        .stdout(predicate::str::contains(server.secret()).not());
}

#[test]
fn demo_runs_end_to_end_and_leaves_files_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    let mut cmd = Command::cargo_bin("bbb-migrate").unwrap();
    cmd.current_dir(dir.path()).env_remove("BBB_MIGRATE_CONFIG");
    cmd.args(["demo", "--recordings", "12", "--output"])
        .arg(&output)
        .assert()
        .success()
        .stdout(predicate::str::contains("inventory"));
    let inventory: Vec<Value> = serde_json::from_slice(&std::fs::read(output.join("inventory.json")).unwrap()).unwrap();
    assert_eq!(inventory.len(), 12, "the demo lists every state");
    assert!(output.join("ledger.sqlite").is_file());
    let csv = std::fs::read_to_string(output.join("inventory.csv")).unwrap();
    assert_eq!(csv.lines().count(), 13);
    let published = std::fs::read_dir(output.join("published")).unwrap().next().unwrap().unwrap().path();
    for file in ["metadata.xml", "shapes.svg", "panzooms.xml", "cursor.xml", "deskshare.xml"] {
        assert!(published.join(file).is_file(), "{file}");
    }
    let owners: Vec<Value> = serde_json::from_slice(&std::fs::read(output.join("owners.json")).unwrap()).unwrap();
    assert_eq!(owners.len(), 12);
    assert!(output.join("pod.sqlite").is_file());
    let claimed: Vec<_> =
        std::fs::read_dir(output.join("ftp-pod/bbb-migration")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert!(claimed[0].extension().is_some_and(|e| e == "mp4"));
    assert!(claimed[0].metadata().is_ok_and(|m| m.len() > 10_000), "the rendered recording is there to claim");
    let import: Value = serde_json::from_slice(&std::fs::read(output.join("report-import.json")).unwrap()).unwrap();
    assert_eq!(import["failed"], 0);
    assert!(import["done"].as_u64().unwrap() > 0, "external recordings were created: {}", import["done"]);
    let media = ["video/webcams.webm", "audio/audio.webm"];
    assert!(media.iter().any(|m| published.join(m).metadata().is_ok_and(|m| m.len() > 1000)), "media downloaded");
}
