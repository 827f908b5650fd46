#!/usr/bin/env python3
"""Writes the seed inputs of each target into corpus/<target>/ from the repository's real fixtures.
Run once from fuzz/ (the committed corpora already hold them, minimized with `cargo fuzz cmin`)."""
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
P = ROOT / "crates/bbb-presentation/tests/fixtures"
G = ROOT / "tests/fixtures/get-recordings"
OUT = pathlib.Path(__file__).resolve().parent / "corpus"

def read(path):
    return path.read_bytes() if path and path.exists() else b""

def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(data)

for f in sorted(G.glob("*.xml")):
    write("get_recordings", f.stem, f.read_bytes())

SHAPES = ["shapes.svg", "tldraw.json", "metadata.xml", "panzooms.xml", "cursor.xml", "deskshare.xml"]
EVENTS = ["metadata.xml", "panzooms.xml", "cursor.xml", "deskshare.xml", "slides_new.xml", "captions.json",
          "external_videos.json", "polls.json", "presentation_text.json", "shapes.svg", "tldraw.json"]

def joined(names, files):
    return b"\0".join(read(files.get(n)) for n in names)

svg22 = {n: P / "svg22" / n for n in ["metadata.xml", "panzooms.xml", "cursor.xml", "deskshare.xml", "captions.json"]}
for svg in ["singleshape.svg", "multishape.svg", "logo.svg", "empty.svg", "invalid.svg", "multislide.svg"]:
    write("shapes_svg", f"svg22-{svg}", joined(SHAPES, {**svg22, "shapes.svg": P / "svg22" / svg}))
for era in ["tldraw26", "tldraw30"]:
    files = {n: P / era / n for n in SHAPES}
    write("shapes_svg", era, joined(SHAPES, files))
    write("events", era, joined(EVENTS, {**{n: P / era / n for n in EVENTS}, "metadata.xml": P / "svg22/metadata.xml"}))
extras = {n: P / "extras" / n for n in EVENTS}
write("events", "svg22", joined(EVENTS, {**svg22, **{k: v for k, v in extras.items() if v.exists()},
                                         "shapes.svg": P / "svg22/singleshape.svg"}))
write("events", "extras", joined(EVENTS, extras))

for i, name in enumerate(["shapes.svg", "captions.json", "presentation_text.json", "metadata.xml"]):
    src = {"shapes.svg": P / "svg22/multishape.svg", "captions.json": P / "svg22/captions.json",
           "presentation_text.json": P / "extras/presentation_text.json", "metadata.xml": P / "svg22/metadata.xml"}[name]
    write("archive_refs", name, bytes([i]) + src.read_bytes())
    write("archive_refs", name + "-nobase", bytes([i | 0x80]) + src.read_bytes())
write("archive_refs", "hostile-refs", bytes([0]) + (ROOT / "fuzz/seeds-hostile-refs.txt").read_bytes())
