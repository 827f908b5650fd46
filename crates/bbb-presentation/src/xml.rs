//! Small helpers shared by the XML readers.

use roxmltree::{Document, Node, ParsingOptions};

/// Parses with a DTD allowed (shapes.svg declares the SVG 1.1 DOCTYPE). roxmltree never fetches external
/// entities and refuses entity loops and exponential expansion, so a hostile DTD costs at most an error.
pub(crate) fn parse(text: &str) -> Result<Document<'_>, roxmltree::Error> {
    let options = ParsingOptions { allow_dtd: true, ..ParsingOptions::default() };
    Document::parse_with_options(text, options)
}

/// Decodes bytes as UTF-8, replacing invalid sequences (real files are UTF-8 or ASCII with character
/// references; a stray Latin-1 byte should not cost the file). Strips a BOM.
pub(crate) fn text(bytes: &[u8]) -> (String, bool) {
    let lossy = String::from_utf8_lossy(bytes);
    let invalid = matches!(lossy, std::borrow::Cow::Owned(_));
    let s = lossy.strip_prefix('\u{feff}').unwrap_or(&lossy).to_owned();
    (s, invalid)
}

/// `<g id="image2-draw3"> (line 14)`: enough to find the element in the file.
pub(crate) fn describe(node: Node<'_, '_>) -> String {
    let pos = node.document().text_pos_at(node.range().start);
    let name = node.tag_name().name();
    match node.attribute("id") {
        Some(id) => format!("<{name} id=\"{}\"> (line {})", crate::time::shorten(id), pos.row),
        None => format!("<{name}> (line {})", pos.row),
    }
}

/// The element children with local name `name`.
pub(crate) fn children<'a, 'input, 'n>(
    node: Node<'a, 'input>,
    name: &'n str,
) -> impl Iterator<Item = Node<'a, 'input>> + use<'a, 'input, 'n> {
    node.children().filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The text of the first child element `name`, trimmed.
pub(crate) fn child_text<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    children(node, name).next().and_then(|c| c.text()).map(str::trim)
}

/// Whether `class` lists `wanted` among its space-separated names.
pub(crate) fn has_class(node: Node<'_, '_>, wanted: &str) -> bool {
    node.attribute("class").is_some_and(|c| c.split_ascii_whitespace().any(|n| n == wanted))
}

/// The number at the end of `image12`, `canvas3`.
pub(crate) fn trailing_number(s: &str) -> Option<u32> {
    let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    s[s.len() - digits..].parse().ok()
}
