//! Escaping for XML and HTML, shared by everything that writes markup:
//! JUnit reports, the SVG and HTML pictures, perf reports.

/// Escapes text for anywhere in XML 1.0 or HTML: attribute values and
/// element content alike. Line breaks and tabs become character
/// references (attribute normalisation would turn them into spaces);
/// characters XML 1.0 cannot carry become U+FFFD.
pub fn escape(text: &str) -> String {
    escape_with(text, true)
}

/// Escapes element content: as `escape`, but line breaks and tabs stay.
pub fn escape_text(text: &str) -> String {
    escape_with(text, false)
}

fn escape_with(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' if !attribute => out.push(c),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{escape, escape_text};

    #[test]
    fn escaping() {
        assert_eq!(escape("a<b & \"c\" 'd'>\n\u{1}"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;&#10;\u{fffd}");
        assert_eq!(escape_text("a\n\tb\r<"), "a\n\tb&#13;&lt;");
    }
}
