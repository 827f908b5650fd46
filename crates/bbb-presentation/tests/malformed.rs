//! Parsing never panics: thousands of mutated real and hand-made files, plus hostile XML, and every query
//! run on what came out.

use std::collections::BTreeMap;
use std::path::Path;

use bbb_presentation::{FILES, Time, Timeline, parse};

/// SplitMix64: deterministic, so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

const JUNK: &[&str] = &[
    "NaN",
    "-1",
    "-0.0",
    "1e308",
    "inf",
    "\"",
    "<",
    ">",
    "&",
    "&amp;",
    "&#0;",
    "&#xD800;",
    "]]>",
    "<!--",
    ":",
    ";",
    "#",
    "é",
    "\u{0}",
    "\u{fffd}",
    " ",
    "\n",
    "{",
    "}",
    "[",
    "]",
    ",",
    "null",
    "true",
    "99999999999999999999",
    "</g>",
    "<g class=\"shape\" timestamp=\"5\">",
    "<image id=\"image9\" in=\"3 4 5\" out=\"2\"/>",
    "M",
    "A1 1",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 => out.truncate(at),
            1 => {
                let end = (at + rng.below(40)).min(out.len());
                out.drain(at..end);
            }
            2 => {
                let junk = JUNK[rng.below(JUNK.len())].as_bytes();
                out.splice(at..at, junk.iter().copied());
            }
            3 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] = rng.next() as u8;
            }
            _ => {
                // Duplicate a slice elsewhere (shuffles events, repeats revisions).
                let end = (at + rng.below(200)).min(out.len());
                let piece = out[at..end].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, piece);
            }
        }
    }
    out
}

fn exercise(t: &Timeline) {
    let mut points = t.change_points();
    points.extend(t.cursor_points());
    points.extend([Time::ZERO, t.duration, Time::from_millis(u64::MAX)]);
    for p in points.iter().take(300) {
        let picture = t.picture_at(*p);
        let _ = (picture.shapes.len(), t.cursor_at(*p), t.cursor_in_page_at(*p), t.view_rect_at(*p));
        for shape in &t.shapes {
            let _ = shape.at(*p);
        }
    }
    assert!(t.slides.windows(2).all(|w| w[0].end <= w[1].start), "slides sorted, no overlap");
    assert!(t.views.windows(2).all(|w| w[0].at < w[1].at));
    assert!(t.cursor.windows(2).all(|w| w[0].at < w[1].at));
    assert!(t.deskshare.windows(2).all(|w| w[0].end <= w[1].start));
    for s in &t.shapes {
        assert!(s.revisions.windows(2).all(|w| w[0].at <= w[1].at));
    }
}

fn recording(dir: &str, shapes: &str) -> BTreeMap<String, Vec<u8>> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut map = BTreeMap::new();
    for name in FILES {
        let path = if *name == "shapes.svg" { base.join(dir).join(shapes) } else { base.join(dir).join(name) };
        let fallback = base.join("extras").join(name);
        if let Ok(bytes) = std::fs::read(&path).or_else(|_| std::fs::read(&fallback)) {
            map.insert(name.to_string(), bytes);
        }
    }
    map
}

#[test]
fn mutated_files_never_panic() {
    let sets = [
        recording("svg22", "multislide.svg"),
        recording("svg22", "multishape.svg"),
        recording("tldraw26", "shapes.svg"),
        recording("tldraw30", "shapes.svg"),
    ];
    let mut rng = Rng(0x5eed);
    for case in 0..1500 {
        let mut files = sets[case % sets.len()].clone();
        let names: Vec<String> = files.keys().cloned().collect();
        for _ in 0..1 + rng.below(3) {
            let name = &names[rng.below(names.len())];
            let mutated = mutate(&mut rng, &files[name]);
            files.insert(name.clone(), mutated);
        }
        let result = std::panic::catch_unwind(|| {
            let (t, _) = parse(&files);
            exercise(&t);
        });
        assert!(result.is_ok(), "case {case} panicked");
    }
}

#[test]
fn hostile_and_degenerate_inputs() {
    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE svg [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\
        <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\
        <!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\"><!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\
        <!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\"><!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">]>\
        <svg><image id=\"image1\" in=\"0\" out=\"1\" href=\"&h;\" width=\"1\" height=\"1\"/></svg>";
    let external = "<?xml version=\"1.0\"?><!DOCTYPE svg [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
        <svg><image id=\"image1\" in=\"0\" out=\"1\" href=\"&x;\" width=\"1\" height=\"1\"/></svg>";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("shapes.svg", laughs.into()),
        ("shapes.svg", external.into()),
        ("shapes.svg", b"".to_vec()),
        ("shapes.svg", vec![0xff, 0xfe, 0x00, 0x3c]),
        ("shapes.svg", "<svg><image id=\"image1\" in=\"5 1 NaN\" out=\"3\" href=\"x\"/></svg>".into()),
        ("shapes.svg", format!("<svg>{}</svg>", "<g class=\"canvas\" image=\"image1\">".repeat(200)).into()),
        ("tldraw.json", b"[]".to_vec()),
        ("tldraw.json", b"{\"1\": {\"shapes\": [{\"timestamp\": -5, \"shape_data\": 3}]}}".to_vec()),
        ("tldraw.json", format!("{}1{}", "[".repeat(5000), "]".repeat(5000)).into()),
        ("tldraw.json", b"{\"bbb_version\": 3, \"x\": {}, \"4294967296\": {}, \"1\": {\"shapes\": {}}}".to_vec()),
        ("panzooms.xml", b"<recording><event timestamp=\"1\"><viewBox>1 2 3</viewBox></event></recording>".to_vec()),
        ("cursor.xml", b"<recording><event timestamp=\"-1\"><cursor>0 0</cursor></event></recording>".to_vec()),
        ("deskshare.xml", b"<recording><event start_timestamp=\"5\" stop_timestamp=\"1\"/></recording>".to_vec()),
        ("metadata.xml", b"<recording><playback><duration>-3</duration></playback></recording>".to_vec()),
        ("captions.json", b"[{\"locale\": \"../../etc/passwd\"}]".to_vec()),
    ];
    for (name, bytes) in cases {
        let files: BTreeMap<String, Vec<u8>> = [(name.to_string(), bytes)].into();
        let (t, warnings) = parse(&files);
        exercise(&t);
        assert!(warnings.iter().any(|w| w.file == name), "{name}: a warning expected, got {warnings:#?}");
        if name == "captions.json" {
            assert!(t.captions.is_empty(), "a locale that is not a plain name is refused");
        }
    }
}
