//! The soak at CI scale: `bbb-migrate bench soak` on 300 recordings with 5 % faults (the local PostgreSQL holds the
//! throw-away Pod). The command checks its invariants itself and exits 1 when one breaks; this test also reads the
//! figures it wrote and asserts the same invariants from them, so that a soak that checked nothing would fail.

use assert_cmd::Command;
use serde_json::Value;

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn soak_300_recordings_with_5_percent_faults() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("soak.json");
    let out = Command::cargo_bin("bbb-migrate")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("BBB_MIGRATE_CONFIG")
        .args(["bench", "soak", "--recordings", "300", "--fault-rate", "0.05", "--seed", "7", "--compare-with", "0"])
        .arg("--work-dir")
        .arg(dir.path().join("work"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the soak failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("every invariant holds"), "{stdout}");

    let summary: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(summary["violations"].as_array().unwrap().len(), 0, "{}", summary["violations"]);
    let scale = &summary["scales"][0];
    let n = count(&scale["recordings"]);
    assert_eq!(n, 300);
    let with_playback = count(&scale["with_playback"]);

    // Faults were really injected: 5 % of the recordings with a playback, every cause, and some API requests.
    let causes = scale["file_faults"].as_object().unwrap();
    let injected: u64 = causes.values().map(|c| count(&c["injected"])).sum();
    assert_eq!(injected, (with_playback as f64 * 0.05).round() as u64);
    assert_eq!(causes.len(), 5, "every cause at least once: {causes:?}");
    let api: u64 = scale["api_faults"].as_object().unwrap().values().map(count).sum();
    assert!(api >= 1, "{}", scale["api_faults"]);

    // Every recording accounted for, in every run, in the report and in the ledger.
    for mode in ["import", "claim"] {
        for run in ["first", "second"] {
            let r = &scale[mode][run];
            let accounted = count(&r["done"]) + count(&r["already_done"]) + count(&r["failed"]) + count(&r["skipped"]);
            assert_eq!(accounted, n, "{mode} {run}: {r}");
            assert_eq!(count(&r["busy"]), 0);
            let ledger = &r["ledger"];
            let ledger_done = ledger.get("done").map_or(0, count);
            let ledger_failed = ledger.get("failed").map_or(0, count);
            assert_eq!(ledger_done + ledger_failed, n - count(&r["skipped"]), "{mode} {run}: {ledger}");
            assert_eq!(ledger_failed, count(&r["failed"]), "{mode} {run}");
            assert!(count(&r["usage"]["peak_rss_kb"]) > 0 && count(&r["usage"]["max_fds"]) > 0);
        }
    }

    // Import: the API faults are retried away; the second run has nothing left to do.
    assert_eq!(count(&scale["import"]["first"]["failed"]), 0);
    assert_eq!(count(&scale["import"]["second"]["done"]), 0);
    assert_eq!(count(&scale["import"]["second"]["failed"]), 0);

    // Claim: the transient faults fail the first run and the second fixes them; only the permanent 404s remain.
    let permanent = count(&causes["video file 404 (permanent)"]["injected"]);
    let first_failed = count(&scale["claim"]["first"]["failed"]);
    assert!(first_failed > permanent, "some transient faults fail the first run: {first_failed}");
    assert_eq!(count(&scale["claim"]["second"]["failed"]), permanent);
    for (cause, c) in causes {
        let expected_left = if cause.contains("permanent") { count(&c["injected"]) } else { 0 };
        assert_eq!(count(&c["failed_second"]), expected_left, "{cause}: {c}");
        if count(&c["failed_first"]) > 0 {
            assert!(!c["example"].as_str().unwrap().is_empty(), "{cause}: a failure has its cause");
        }
    }
    let done = count(&scale["claim"]["first"]["done"]) + count(&scale["claim"]["second"]["done"]);
    assert_eq!(done, with_playback - permanent);

    // Pod: exactly one row per planned (recording, owner); files: exactly one verified file per recording.
    let pod = &scale["pod"];
    assert!(count(&pod["rows"]) >= with_playback, "{pod}");
    assert_eq!(count(&pod["rows"]), count(&pod["expected_rows"]), "{pod}");
    for key in ["duplicate_pairs", "missing_pairs", "unexpected_pairs", "recordings_without_row"] {
        assert_eq!(count(&pod[key]), 0, "{key}: {pod}");
    }
    let files = &scale["files"];
    assert_eq!(count(&files["files"]), done, "{files}");
    assert_eq!(count(&files["verified"]), done, "{files}");
    for key in ["mismatched", "missing", "leftovers", "recordings_with_several_files"] {
        assert_eq!(count(&files[key]), 0, "{key}: {files}");
    }
}
