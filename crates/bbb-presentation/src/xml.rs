//! Small helpers shared by the XML readers.

use roxmltree::{Document, Node, ParsingOptions};

/// Parses with a DTD allowed (shapes.svg declares the SVG 1.1 DOCTYPE) but no entity declared in it: roxmltree
/// never fetches external entities and refuses entity loops, but it expands a large internal entity at every
/// reference (3 MB of `&a;` over a 1 MB entity took 6 GB), and BBB never declares entities.
pub(crate) fn parse(text: &str) -> Result<Document<'_>, String> {
    if crate::declares_entities(text) {
        return Err(ENTITIES_REFUSED.to_owned());
    }
    let options = ParsingOptions { allow_dtd: true, ..ParsingOptions::default() };
    Document::parse_with_options(text, options).map_err(|e| e.to_string())
}

pub(crate) const ENTITIES_REFUSED: &str =
    "its DOCTYPE declares entities (<!ENTITY>), which BBB never writes; refused so that they cannot expand";

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

/// For a file cut off mid-way (an interrupted copy): the text up to the last complete tag, with the elements
/// still open closed, or `None` when the cut-off part cannot be told apart from broken markup.
pub(crate) fn close_truncated(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut stack: Vec<&str> = Vec::new();
    let mut end_of_last_tag = 0;
    let mut i = 0;
    while let Some(offset) = text[i..].find('<') {
        let start = i + offset;
        let rest = &text[start..];
        let close = if rest.starts_with("<!--") {
            rest.find("-->").map(|e| e + 3)
        } else if rest.starts_with("<![CDATA[") {
            rest.find("]]>").map(|e| e + 3)
        } else if rest.starts_with("<?") {
            rest.find("?>").map(|e| e + 2)
        } else if rest.starts_with("<!") {
            // DOCTYPE, possibly with an internal subset in brackets.
            let mut depth = 0i32;
            rest.char_indices().find_map(|(j, c)| match c {
                '[' => {
                    depth += 1;
                    None
                }
                ']' => {
                    depth -= 1;
                    None
                }
                '>' if depth <= 0 => Some(j + 1),
                _ => None,
            })
        } else {
            // An element tag: find its `>` outside quoted attribute values.
            let mut quote = None;
            let found = rest.char_indices().skip(1).find_map(|(j, c)| match (quote, c) {
                (None, '"' | '\'') => {
                    quote = Some(c);
                    None
                }
                (Some(q), c) if c == q => {
                    quote = None;
                    None
                }
                (None, '>') => Some(j + 1),
                _ => None,
            });
            if let Some(len) = found {
                let tag = &rest[1..len - 1];
                let name_end = tag.find(|c: char| c.is_whitespace() || c == '/').unwrap_or(tag.len());
                if let Some(closing) = tag.strip_prefix('/') {
                    if stack.pop() != Some(closing.trim()) {
                        return None;
                    }
                } else if !tag.ends_with('/') {
                    stack.push(&tag[..name_end]);
                }
            }
            found
        };
        let Some(len) = close else { break };
        i = start + len;
        end_of_last_tag = i;
        if i >= bytes.len() {
            break;
        }
    }
    if stack.is_empty() {
        return None;
    }
    let mut out = text[..end_of_last_tag].to_owned();
    for name in stack.iter().rev() {
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_declarations_are_refused_before_any_expansion() {
        // Found by the hostile-input tests: one 1 MB entity referenced 3 000 times took 21 s and 6 GB.
        let big = "x".repeat(1 << 20);
        let doc = format!("<!DOCTYPE svg [<!ENTITY a \"{big}\">]><svg>{}</svg>", "&a;".repeat(3000));
        let start = std::time::Instant::now();
        assert_eq!(parse(&doc).err().as_deref(), Some(ENTITIES_REFUSED));
        assert!(start.elapsed().as_secs() < 2);
        let svg11 = "<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \
                     \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n<svg/>";
        assert!(parse(svg11).is_ok(), "BBB's own DOCTYPE is read");
        assert!(parse("<svg><![CDATA[<!ENTITY x \"y\">]]></svg>").is_ok(), "no DOCTYPE: nothing to expand");
    }

    #[test]
    fn truncated_documents_are_closed() {
        let cut =
            "<?xml version=\"1.0\"?>\n<!DOCTYPE svg [<!ELEMENT svg ANY>]>\n<svg a=\"x>y\"><g><image/><line x1=\"1";
        let repaired = close_truncated(cut).unwrap();
        assert!(repaired.ends_with("<image/></g></svg>"), "{repaired}");
        assert!(parse(&repaired).is_ok());
        assert_eq!(close_truncated("<svg></svg>"), None, "nothing open: not a truncation");
        assert_eq!(close_truncated("<a><b></a>"), None, "mismatched tags are not repaired");
    }
}
