//! Escaping of report text for HTML, XML and Markdown.
//!
//! Check names, evidence and recommendations may come from users' suite files, so
//! every string of a report goes through one of these before it is written.

/// Escapes text for HTML element content and quoted attribute values.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Escapes text for XML element content and quoted attribute values.
///
/// XML 1.0 cannot carry most control characters even escaped; they become U+FFFD so
/// the document stays well-formed. Line breaks are kept in content and become
/// character references in attributes (where a parser would fold them to spaces).
pub fn xml(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' if attribute => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Characters XML 1.0 allows (HTML parsers accept more, but the same rule keeps
/// both outputs free of stray control characters).
fn is_xml_char(c: char) -> bool {
    // C1 controls are legal XML but never meant in a report
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes text for a Markdown table cell or paragraph: inline markup characters get
/// a backslash, HTML-significant ones become entities (renderers pass raw HTML
/// through), and line breaks become spaces so a table row stays one line.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown code fence longer than any backtick run in `text`.
pub fn markdown_fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// A string usable as an HTML id or file-name fragment: lowercase ASCII letters,
/// digits and `-`.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "x".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html(r#"<b>"x" & 'y'</b>"#),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn xml_replaces_control_characters_and_keeps_attribute_newlines() {
        assert_eq!(xml("a\u{1}b", false), "a\u{FFFD}b");
        assert_eq!(xml("a\nb", true), "a&#10;b");
        assert_eq!(xml("a\nb", false), "a\nb");
    }

    #[test]
    fn markdown_cells_stay_on_one_line_and_inert() {
        assert_eq!(markdown("a|b\n<i>*x*"), "a\\|b &lt;i&gt;\\*x\\*");
    }

    #[test]
    fn fences_outgrow_backtick_runs() {
        assert_eq!(markdown_fence("plain"), "```");
        assert_eq!(markdown_fence("a ```` b"), "`````");
    }

    #[test]
    fn slugs_are_ascii() {
        assert_eq!(slug("Queue / Performance!"), "queue-performance");
        assert_eq!(slug("€"), "x");
    }

    proptest! {
        #[test]
        fn escaped_text_has_no_raw_markup(s in any::<String>()) {
            let h = html(&s);
            prop_assert!(!h.contains('<') && !h.contains('>') && !h.contains('"'));
            let x = xml(&s, true);
            prop_assert!(!x.contains('<') && !x.contains('\n'));
            prop_assert!(x.chars().all(|c| c == '\t' || c == '\r' || !c.is_control()));
            let m = markdown(&s);
            prop_assert!(!m.contains('\n') && !m.contains('<'));
        }
    }
}
