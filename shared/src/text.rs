//! Text a person typed (display names, chat lines) made safe to show on another person's
//! screen.

/// Removes what must never reach another screen: control characters (including newlines) and
/// bidirectional overrides that could disguise text; trims surrounding space.
pub fn clean_text(raw: &str) -> String {
    raw.chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
        })
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_stripped() {
        assert_eq!(clean_text("  a\u{0007}b\nc\u{202E}d\t "), "abcd");
        assert_eq!(clean_text("窓口\u{2066}です"), "窓口です");
    }
}
