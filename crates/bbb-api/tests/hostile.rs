//! Hostile getRecordings answers: each is parsed or refused with a clear error or warning, in bounded time,
//! never a panic and never a file read (a DTD is refused outright, so no entity is ever expanded or fetched).

use std::time::{Duration, Instant};

use bbb_api::response::{ParseError, parse_get_recordings, parse_version};

const LIMIT: Duration = Duration::from_secs(20);

fn answer(recordings: &str) -> String {
    format!("<response><returncode>SUCCESS</returncode><recordings>{recordings}</recordings></response>")
}

fn recording(id: &str, name: &str) -> String {
    format!(
        "<recording><recordID>{id}</recordID><meetingID>{name}</meetingID><name>{name}</name>\
         <startTime>1000</startTime><endTime>2000</endTime><metadata><meetingName>{name}</meetingName></metadata>\
         <playback><format><type>presentation</type><url>https://bbb.example/playback/presentation/2.3/{id}</url>\
         </format></playback></recording>"
    )
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    assert!(start.elapsed() < LIMIT, "{what} took {:?}", start.elapsed());
    out
}

fn xml_error(what: &str, xml: &str) -> String {
    match timed(what, || parse_get_recordings(xml)) {
        Err(ParseError::Xml(reason)) => reason,
        other => panic!("{what}: expected an XML error, got {other:?}"),
    }
}

#[test]
fn entity_expansion_and_external_entities_are_refused_with_the_dtd() {
    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE response [<!ENTITY a \"aaaaaaaaaa\">\
        <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\
        <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\
        <!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\"><!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\
        <!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\"><!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">]>\
        <response><returncode>SUCCESS</returncode><recordings><recording><recordID>r</recordID>\
        <name>&i;</name></recording></recordings></response>";
    let reason = xml_error("billion laughs", laughs);
    assert!(reason.to_lowercase().contains("dtd"), "{reason}");

    for system in ["file:///etc/passwd", "http://127.0.0.1:9/x", "/etc/passwd"] {
        let xxe = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE response [<!ENTITY x SYSTEM \"{system}\">]>\
             <response><returncode>SUCCESS</returncode><recordings>{}</recordings></response>",
            recording("r-1", "&x;")
        );
        xml_error(system, &xxe);
    }
    let parameter = "<!DOCTYPE response [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><response/>";
    xml_error("parameter entity", parameter);
    xml_error("a bare DOCTYPE", "<!DOCTYPE response><response><returncode>SUCCESS</returncode></response>");
    assert!(parse_version("<!DOCTYPE response [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><response/>").is_err());
}

#[test]
fn deep_nesting_and_huge_attributes_cost_bounded_time() {
    let depth = 100_000;
    let deep = answer(&format!(
        "<recording><recordID>r-1</recordID><startTime>1</startTime><endTime>2</endTime><metadata><x>{}{}</x>\
         </metadata></recording>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    ));
    // Either roxmltree's depth limit refuses it, or it parses; both are fine, quickly and without a stack overflow.
    match timed("100 000 levels", || parse_get_recordings(&deep)) {
        Ok(page) => assert_eq!(page.recordings.len(), 1),
        Err(e) => assert!(matches!(e, ParseError::Xml(_)), "{e}"),
    }

    let huge = "9".repeat(50 * 1024 * 1024);
    let xml = answer(&format!(
        "<recording><recordID>r-1</recordID><startTime>1</startTime><endTime>2</endTime><playback><format>\
         <type>presentation</type><url>u</url><preview><images><image width=\"{huge}\" alt=\"{huge}\">x</image>\
         </images></preview></format></playback></recording>"
    ));
    let page = timed("a 50 MB attribute", || parse_get_recordings(&xml)).unwrap();
    let image = &page.recordings[0].formats[0].previews[0];
    assert_eq!(image.width, None, "an absurd width is dropped");
    assert_eq!(image.alt.as_ref().map(String::len), Some(huge.len()));

    let unclosed = format!("<response><returncode>SUCCESS</returncode><recordings>{}", "<recording>".repeat(depth));
    xml_error("100 000 unclosed elements", &unclosed);
}

#[test]
fn hostile_names_are_kept_as_text_and_hostile_record_ids_are_skipped() {
    let long = "é".repeat(10_000);
    let names = [
        "../../../etc/passwd",
        "/etc/shadow",
        "a/b\\c",
        "\u{202e}gpj.exe\u{202c} — שלום مرحبا",
        "🎓📼 Cours 👩‍🏫",
        &long,
        "<script>alert(1)</script>",
    ];
    let body: String = names.iter().enumerate().map(|(i, n)| recording(&format!("ok-{i}"), &escape(n))).collect();
    let page = parse_get_recordings(&answer(&body)).unwrap();
    assert!(page.warnings.is_empty(), "{:?}", page.warnings);
    for (rec, name) in page.recordings.iter().zip(names) {
        assert_eq!(rec.name, name);
        assert_eq!(rec.meeting_id, name);
        assert_eq!(rec.metadata["meetingname"], name);
    }

    // A twice-escaped NUL stays text; a raw NUL or control character makes the whole answer invalid XML.
    let page = parse_get_recordings(&answer(&recording("ok-nul", "a&amp;#0;b&amp;#x1b;"))).unwrap();
    assert_eq!(page.recordings[0].name, "a&#0;b&#x1b;");
    assert!(!page.recordings[0].metadata["meetingname"].contains('\0'));
    xml_error("raw NUL", &answer(&recording("r", "a\0b")));
    xml_error("NUL reference", &answer(&recording("r", "a&#0;b")));
    xml_error("control reference", &answer(&recording("r", "a&#x1b;b")));

    let ids = ["../../x", "/etc/passwd", "a/../../b", "..", ".", "a\\b", &"f".repeat(10_000), "a&#9;b"];
    let body: String = ids.iter().map(|id| recording(id, "n")).chain([recording("🎓-\u{202e}", "n")]).collect();
    let page = parse_get_recordings(&answer(&body)).unwrap();
    assert_eq!(page.recordings.len(), 1, "only the harmless (if odd) ID is kept: {:?}", page.recordings);
    assert_eq!(page.recordings[0].record_id, "🎓-\u{202e}");
    assert_eq!(page.warnings.len(), ids.len(), "{:#?}", page.warnings);
    for (warning, n) in page.warnings.iter().zip(1..) {
        assert!(warning.starts_with(&format!("recording #{n} skipped: <recordID>")), "{warning}");
        assert!(warning.chars().count() < 200, "{warning}");
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
