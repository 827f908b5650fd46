//! Owners from Greenlight v2 and v3 databases on the local PostgreSQL, with their real table shapes.

mod common;

use common::{Engine, TestDb, recording};
use migrate_owners::Resolver;
use migrate_owners::greenlight::Greenlight;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../../tests/fixtures/greenlight/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

const ROOM_A: &str = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0";
const ROOM_B: &str = "0000000000000000000000000000000000000abc";

fn greenlight_recordings() -> Vec<bbb_api::Recording> {
    let gl = [("bbb-origin", "Greenlight"), ("bbb-origin-server-name", "gl.univ.fr")];
    vec![
        recording("ra", ROOM_A, &gl),
        recording("rb", ROOM_B, &[]),
        recording("rc", "ffffffffffffffffffffffffffffffffffffffff", &gl),
        recording("rd", "abc-1-2[0]", &[("bbb-origin", "Moodle")]),
    ]
}

#[tokio::test]
async fn greenlight_v2_room_owner_and_shared_accesses() {
    let rows = format!(
        "INSERT INTO users (id, uid, name, username, email, created_at, updated_at, deleted) VALUES
          (1, 'gl-1', 'Claire Martin', 'cmartin', 'claire.martin@univ.fr', now(), now(), false),
          (2, 'gl-2', 'Jean Dupont', '', 'jean.dupont@univ.fr', now(), now(), false),
          (3, 'gl-3', 'Parti Ailleurs', 'parti', 'p@univ.fr', now(), now(), true);
         INSERT INTO rooms (id, user_id, name, uid, bbb_id, created_at, updated_at) VALUES
          (10, 1, 'Salle de Claire', 'cla-xyz', '{ROOM_A}', now(), now()),
          (11, 3, 'Salle partie', 'par-xyz', '{ROOM_B}', now(), now());
         INSERT INTO shared_accesses (room_id, user_id, created_at, updated_at) VALUES (10, 2, now(), now());"
    );
    let db = TestDb::create(Engine::Postgres, &[&fixture("v2.sql"), &rows]).await;
    let source = Greenlight { server_name: String::new(), db: Ok(db.open(true).await) };
    let res = Resolver::new(vec![Box::new(source)]).resolve(&greenlight_recordings()).await;
    let names: Vec<_> = res[0].owners.iter().map(|o| o.username.clone().unwrap()).collect();
    assert_eq!(names, ["cmartin", "gl-2"], "owner, then shared with (uid when no username)");
    assert_eq!((res[0].owners[1].first_name.as_str(), res[0].owners[1].last_name.as_str()), ("Jean", "Dupont"));
    assert!(res[0].owners[1].evidence.contains("V2 room «Salle de Claire»: shared with"));
    assert_eq!(
        res[1].fallback_reason.as_deref(),
        Some("greenlight: the owner of Greenlight room «Salle partie» is deleted")
    );
    assert_eq!(res[2].fallback_reason.as_deref(), Some("no source matched this recording"));
    assert_eq!(
        res[3].fallback_reason.as_deref(),
        Some("no source matched this recording"),
        "Moodle's is not Greenlight's"
    );
    db.drop().await;
}

#[tokio::test]
async fn greenlight_v3_by_record_id_and_by_meeting_id() {
    let rows = format!(
        "INSERT INTO users (id, name, email, external_id, provider, created_at, updated_at, language) VALUES
          ('11111111-1111-1111-1111-111111111111', 'Zoé Lefèvre', 'zoe@univ.fr', 'zlefevre', 'openid_connect', now(), now(), 'fr'),
          ('22222222-2222-2222-2222-222222222222', 'Hugo Bernard', 'hugo@univ.fr', NULL, 'greenlight', now(), now(), 'fr');
         INSERT INTO rooms (id, user_id, name, friendly_id, meeting_id, created_at, updated_at) VALUES
          ('aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa', '11111111-1111-1111-1111-111111111111', 'Amphi Zoé', 'zoe-abc', '{ROOM_A}', now(), now()),
          ('bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb', '22222222-2222-2222-2222-222222222222', 'Bureau Hugo', 'hug-abc', 'renamed-meeting-id', now(), now());
         INSERT INTO shared_accesses (user_id, room_id, created_at, updated_at) VALUES
          ('22222222-2222-2222-2222-222222222222', 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa', now(), now());
         INSERT INTO recordings (room_id, name, record_id, created_at, updated_at, visibility, length, participants) VALUES
          ('bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb', 'r', 'rb', now(), now(), 'Published', 10, 2);"
    );
    let db = TestDb::create(Engine::Postgres, &[&fixture("v3.sql"), &rows]).await;
    let source = Greenlight { server_name: "gl.univ.fr".into(), db: Ok(db.open(true).await) };
    let res = Resolver::new(vec![Box::new(source)]).resolve(&greenlight_recordings()).await;
    let who =
        |i: usize| res[i].owners.iter().map(|o| o.username.clone().or(o.email.clone()).unwrap()).collect::<Vec<_>>();
    assert_eq!(
        who(0),
        ["zlefevre", "hugo@univ.fr"],
        "room owner by meetingID, then shared access; e-mail when no SSO id"
    );
    assert_eq!(who(1), ["hugo@univ.fr"], "found by recordings.record_id although the meetingID changed");
    assert!(res[1].owners[0].evidence.contains("V3 room «Bureau Hugo»: owner"));
    db.drop().await;
}
