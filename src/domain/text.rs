//! Text every backend can store and every reader can see.
//!
//! The one place that decides which characters a stored or queried string
//! may hold, used by the webhook payloads, campaign spend and the GraphQL
//! read filters alike, so SQLite and PostgreSQL accept exactly the same input:
//!
//! - No text field may contain a control character (Unicode category Cc:
//!   U+0000–U+001F, U+007F–U+009F). PostgreSQL `text` cannot hold U+0000 at
//!   all (SQLite stores it), so a NUL was a 500 on one backend and a stored row
//!   on the other; the other controls are refused with it because no id, URL,
//!   label or timestamp legitimately carries one, and a tab or a newline
//!   inside an id is a sender's bug that would otherwise become a second
//!   visitor. Leading and trailing whitespace (`"fp\n"`) is still trimmed by
//!   each field's parser first, as before.
//! - An identifier (fingerprint, user id, event name, campaign, source,
//!   medium) must hold at least one visible character: one made only of
//!   whitespace, format characters (zero-width space/joiner/non-joiner, word
//!   joiner, BOM U+FEFF, bidi marks, soft hyphen, tags, …) or other
//!   characters that render as nothing (variation selectors, the combining
//!   grapheme joiner, Hangul fillers, the blank Braille pattern) is refused.
//!   Invisible characters *inside* a visible id are kept as sent: changing
//!   them would change the id.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::FieldError;

/// Refuses a text field holding a control character; see the module doc.
pub fn check_text(field: &'static str, value: &str) -> Result<(), FieldError> {
    match value.chars().enumerate().find(|(_, c)| c.is_control()) {
        None => Ok(()),
        Some((at, c)) => Err(FieldError::new(
            field,
            format!(
                "must not contain control characters (found U+{:04X} at character {at})",
                u32::from(c)
            ),
        )),
    }
}

/// Refuses an identifier that [`check_text`] refuses or that holds no
/// visible character; see the module doc. An empty value passes: each
/// field's parser says "must not be empty" itself.
pub fn check_identifier(field: &'static str, value: &str) -> Result<(), FieldError> {
    check_text(field, value)?;
    match value.chars().find(|c| !is_invisible(*c)) {
        Some(_) => Ok(()),
        None => match value.chars().next() {
            None => Ok(()),
            Some(c) => Err(FieldError::new(
                field,
                format!(
                    "must contain a visible character, not only invisible ones such as U+{:04X}",
                    u32::from(c)
                ),
            )),
        },
    }
}

/// Whether a character renders as nothing (or only as space) on its own.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c.general_category(),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::SpaceSeparator
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
        || matches!(
            c,
            // Combining grapheme joiner, Mongolian free variation selectors
            // and vowel separator, variation selectors.
            '\u{034F}'
                | '\u{180B}'..='\u{180F}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{E0100}'..='\u{E01EF}'
                // Hangul fillers (letters by category, blank by design).
                | '\u{115F}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{FFA0}'
                // Braille pattern blank.
                | '\u{2800}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_anywhere_is_refused_naming_the_field_and_position() {
        let err = check_text("fingerprint", "a\u{0}b").unwrap_err();
        assert_eq!(err.field, "fingerprint");
        assert!(
            err.message.contains("U+0000 at character 1"),
            "{}",
            err.message
        );
        assert!(check_text("url", "\u{0}").is_err());
        assert!(check_identifier("user_id", "abc\u{0}").is_err());
    }

    #[test]
    fn other_control_characters_are_refused_too() {
        for s in ["a\tb", "a\nb", "a\u{1B}b", "a\u{7F}", "a\u{85}b", "a\u{9F}"] {
            assert!(check_text("name", s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn ordinary_and_non_latin_text_passes() {
        for s in [
            "fp-1",
            "https://a.b/?q=1",
            "Zürich 東京 👍🏽",
            "a b",
            "👨\u{200D}👩\u{200D}👧",
            "x\u{200B}y",
        ] {
            assert_eq!(check_identifier("fingerprint", s), Ok(()), "{s:?}");
        }
    }

    #[test]
    fn identifiers_made_only_of_invisible_characters_are_refused() {
        for s in [
            "\u{200B}",
            "\u{200C}\u{200D}",
            "\u{FEFF}",
            "\u{2060}\u{2060}",
            "\u{00A0}",
            "\u{3000}",
            "\u{00AD}",
            "\u{200E}\u{200F}",
            "\u{FE0F}",
            "\u{3164}",
            "\u{2800}",
            "\u{E0041}",
        ] {
            let err = check_identifier("fingerprint", s).unwrap_err();
            assert!(err.message.contains("visible"), "{s:?}: {}", err.message);
        }
    }

    #[test]
    fn an_empty_identifier_is_left_to_the_fields_own_check() {
        assert_eq!(check_identifier("fingerprint", ""), Ok(()));
    }
}
