//! Hostile published files (issue 8): entity expansion, external entities, deep nesting, enormous attributes and
//! references to local files or other hosts. Each gives a warning naming the file, in bounded time, never a
//! panic; the parser reads nothing but the bytes it is handed, and references stay strings for the renderer and
//! the archive to refuse.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bbb_presentation::{Timeline, Warning, parse};

const LIMIT: Duration = Duration::from_secs(30);
const XML_FILES: &[&str] =
    &["metadata.xml", "shapes.svg", "panzooms.xml", "cursor.xml", "deskshare.xml", "slides_new.xml"];

fn run(name: &str, bytes: Vec<u8>) -> (Timeline, Vec<Warning>) {
    let files: BTreeMap<String, Vec<u8>> = [(name.to_owned(), bytes)].into();
    let start = Instant::now();
    let out = parse(&files);
    assert!(start.elapsed() < LIMIT, "{name}: {:?}", start.elapsed());
    let _ = out.0.change_points();
    let _ = out.0.picture_at(out.0.duration);
    out
}

fn warned(name: &str, what: &str, bytes: Vec<u8>) -> Vec<Warning> {
    let (t, warnings) = run(name, bytes);
    let own: Vec<Warning> = warnings.into_iter().filter(|w| w.file == name).collect();
    assert!(!own.is_empty(), "{name} ({what}): a warning expected");
    let everything = format!("{t:?} {own:?}");
    assert!(!everything.contains("root:x:0:0"), "{name} ({what}): /etc/passwd was read");
    own
}

fn root_of(name: &str) -> &'static str {
    match name {
        "shapes.svg" => "svg",
        "slides_new.xml" => "popcorn",
        _ => "recording",
    }
}

#[test]
fn entity_declarations_are_refused_in_every_xml_file() {
    let big = "x".repeat(1 << 20);
    for &name in XML_FILES {
        let root = root_of(name);
        let laughs = {
            let mut dtd = String::from("<!ENTITY l0 \"lol\">");
            for i in 1..12 {
                dtd.push_str(&format!("<!ENTITY l{i} \"{}\">", format!("&l{};", i - 1).repeat(10)));
            }
            format!("<?xml version=\"1.0\"?><!DOCTYPE {root} [{dtd}]><{root} a=\"&l11;\">&l11;</{root}>")
        };
        let quadratic = format!("<!DOCTYPE {root} [<!ENTITY a \"{big}\">]><{root}>{}</{root}>", "&a;".repeat(3000));
        let cases = [
            ("billion laughs", laughs),
            ("quadratic blowup", quadratic),
            (
                "external file",
                format!("<!DOCTYPE {root} [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><{root}>&x;</{root}>"),
            ),
            (
                "external URL",
                format!("<!DOCTYPE {root} [<!ENTITY x SYSTEM \"http://127.0.0.1:9/\">]><{root}>&x;</{root}>"),
            ),
            (
                "parameter entity",
                format!("<!DOCTYPE {root} [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><{root}/>"),
            ),
        ];
        for (what, doc) in cases {
            let own = warned(name, what, doc.into_bytes());
            assert!(own.iter().any(|w| w.reason.contains("entities")), "{name} ({what}): {own:#?}");
        }
        // BBB's own DOCTYPE, without an internal subset, is still read.
        let svg11 = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE {root} PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \
             \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\"><{root}/>"
        );
        let (_, warnings) = run(name, svg11.into_bytes());
        assert!(!warnings.iter().any(|w| w.file == name && w.reason.contains("XML")), "{name}: {warnings:#?}");
    }
}

#[test]
fn deep_nesting_and_enormous_attributes_cost_bounded_time() {
    let depth = 100_000;
    for &name in XML_FILES {
        let root = root_of(name);
        let deep = format!("<{root}>{}{}</{root}>", "<g>".repeat(depth), "</g>".repeat(depth));
        let _ = run(name, deep.into_bytes());
        // Cut off: the truncation repair closes 100 000 elements, or gives up; either way quickly.
        let unclosed = format!("<{root}>{}", "<g class=\"canvas\" image=\"image1\">".repeat(depth));
        let _ = run(name, unclosed.into_bytes());
    }
    let huge = "1".repeat(50 * 1024 * 1024);
    let shapes = format!(
        "<svg xmlns:xlink=\"http://www.w3.org/1999/xlink\"><image id=\"image1\" class=\"slide\" in=\"0\" out=\"{huge}\" \
         xlink:href=\"presentation/p/slide-{huge}.png\" width=\"{huge}\" height=\"1\"/>\
         <g class=\"canvas\" image=\"image1\"><g class=\"shape\" timestamp=\"1\" undo=\"-1\" shape=\"image1-line1\">\
         <path d=\"M {huge} L 1 1\" style=\"stroke:#000;stroke-width:{huge}\"/></g></g></svg>"
    );
    let _ = warned("shapes.svg", "50 MB attributes", shapes.into_bytes());
    let cursor = format!("<recording><event timestamp=\"{huge}\"><cursor>{huge} 1</cursor></event></recording>");
    let _ = warned("cursor.xml", "50 MB attribute", cursor.into_bytes());
    let tldraw =
        format!("{{\"1\": {{\"shapes\": [{{\"timestamp\": {huge}, \"shape_data\": {{\"id\": \"{huge}\"}}}}]}}}}");
    let _ = run("tldraw.json", tldraw.into_bytes());
}

#[test]
fn references_to_local_files_and_other_hosts_stay_strings() {
    let hrefs =
        ["file:///etc/passwd", "http://127.0.0.1:9/x.png", "../../../etc/passwd", "/etc/passwd", "\\\\host\\share"];
    let images: String = hrefs
        .iter()
        .enumerate()
        .map(|(i, h)| {
            format!(
                "<image id=\"image{i}\" class=\"slide\" in=\"{i}\" out=\"{}\" xlink:href=\"{h}\" width=\"1600\" \
                 height=\"900\" text=\"{h}\"/><g class=\"canvas\" image=\"image{i}\"><g class=\"shape\" \
                 timestamp=\"{i}.5\" undo=\"-1\" shape=\"image{i}-poll_result1\"><image xlink:href=\"{h}\" x=\"0\" \
                 y=\"0\" width=\"10\" height=\"10\"/></g></g>",
                i + 1
            )
        })
        .collect();
    let svg = format!("<svg xmlns:xlink=\"http://www.w3.org/1999/xlink\">{images}</svg>");
    let (t, _) = run("shapes.svg", svg.into_bytes());
    // The parser does no I/O: the references are kept as written, and the renderer (RecordingDir::path_of,
    // plain components only) and the archive (resolve_reference) refuse them.
    let kept: Vec<&str> = t.slides.iter().map(|s| s.href.as_str()).collect();
    assert_eq!(kept, hrefs);
    assert!(t.slides.iter().all(|s| matches!(s.content, bbb_presentation::SlideContent::Other)), "{:?}", t.slides);
}
