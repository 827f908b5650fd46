//! How BBB's Ruby publish script prints numbers and escapes text, so our files read exactly like a server's.
//!
//! Two serializers wrote the published files: Nokogiri/libxml2 (`shapes.svg`, `metadata.xml`; documents without
//! a declared encoding, so every non-ASCII character becomes a `&#xE9;` reference) and Ruby's `Builder`
//! (`panzooms.xml`, `cursor.xml`, `deskshare.xml`, `slides_new.xml`; UTF-8 kept as is).

/// Ruby's `Float#to_s`: shortest round-trip digits, always a `.0` for integral values, exponent form outside
/// `1e-4 ≤ |x| < 1e16` (`1.0e-05`), and `-0.0` for negative zero (BBB's viewBoxes are full of it).
pub(crate) fn ruby_float(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let a = x.abs();
    if !(1e-4..1e16).contains(&a) {
        let s = format!("{x:e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let mantissa = if mantissa.contains('.') { mantissa.to_owned() } else { format!("{mantissa}.0") };
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let s = format!("{x}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// Ruby's `Float#round(digits)` for small `digits` (round half up, with its correction for values whose
/// decimal form sits just below the half).
pub(crate) fn round_to(x: f64, digits: i32) -> f64 {
    let s = 10f64.powi(digits);
    let xs = x * s;
    let mut f = xs.round();
    if x > 0.0 && (f + 0.5) / s <= x {
        f += 1.0;
    } else if x < 0.0 && (f - 0.5) / s >= x {
        f -= 1.0;
    }
    f / s
}

/// A recording time in tenths of a second, printed as BBB prints its `round(1)` timestamps.
pub(crate) fn secs(tenths: u64) -> String {
    ruby_float(tenths as f64 / 10.0)
}

/// Builder's escaping of text content.
pub(crate) fn builder_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
    out
}

/// Builder's escaping of attribute values.
pub(crate) fn builder_attr(s: &str) -> String {
    builder_text(s).replace('\n', "&#10;").replace('\r', "&#13;").replace('"', "&quot;")
}

/// libxml2's escaping of text content in a document without encoding.
pub(crate) fn libxml_text(s: &str) -> String {
    libxml_escape(s, false)
}

/// libxml2's escaping of attribute values in a document without encoding.
pub(crate) fn libxml_attr(s: &str) -> String {
    libxml_escape(s, true)
}

fn libxml_escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            c if !c.is_ascii() => out.push_str(&format!("&#x{:X};", c as u32)),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
    out
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_ruby() {
        assert_eq!(ruby_float(1600.0), "1600.0");
        assert_eq!(ruby_float(-0.0), "-0.0");
        assert_eq!(ruby_float(0.0), "0.0");
        assert_eq!(ruby_float(616.46871), "616.46871");
        assert_eq!(ruby_float(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(ruby_float(1e-5), "1.0e-05");
        assert_eq!(ruby_float(-1.5e-5), "-1.5e-05");
        assert_eq!(ruby_float(2e16), "2.0e+16");
        assert_eq!(ruby_float(-1.0), "-1.0");
        assert_eq!(secs(62), "6.2");
        assert_eq!(secs(0), "0.0");
        assert_eq!(secs(1084), "108.4");
    }

    #[test]
    fn rounding_is_half_up() {
        assert_eq!(round_to(2.5, 0), 3.0);
        assert_eq!(round_to(-2.5, 0), -3.0);
        assert_eq!(round_to(616.468_714_9, 5), 616.46871);
        assert_eq!(round_to(1.000_005, 5), 1.00001);
    }

    #[test]
    fn escaping_matches_each_serializer() {
        assert_eq!(libxml_text("Évaluation à côté <&>"), "&#xC9;valuation &#xE0; c&#xF4;t&#xE9; &lt;&amp;&gt;");
        assert_eq!(libxml_attr("a\"b\nc"), "a&quot;b&#10;c");
        assert_eq!(builder_attr("Évaluation \"à\" <b>&"), "Évaluation &quot;à&quot; &lt;b&gt;&amp;");
        assert_eq!(builder_text("l'été"), "l'été");
    }
}
