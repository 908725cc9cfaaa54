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

/// Why a chat line is refused, if it is.
pub fn check_chat(text: &str) -> Result<(), (crate::ErrorCode, String)> {
    let n = text.chars().count();
    if n == 0 {
        return Err((crate::ErrorCode::ChatEmpty, "empty message".into()));
    }
    if n > crate::limits::CHAT_MAX_CHARS {
        return Err((
            crate::ErrorCode::ChatTooLong,
            format!("message has {n} characters; the limit is {}", crate::limits::CHAT_MAX_CHARS),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_stripped() {
        assert_eq!(clean_text("  a\u{0007}b\nc\u{202E}d\t "), "abcd");
        assert_eq!(clean_text("窓口\u{2066}です"), "窓口です");
    }

    #[test]
    fn chat_length_is_counted_in_characters_not_bytes() {
        use crate::limits::CHAT_MAX_CHARS;
        assert!(check_chat(&"あ".repeat(CHAT_MAX_CHARS)).is_ok());
        assert_eq!(check_chat(&"あ".repeat(CHAT_MAX_CHARS + 1)).unwrap_err().0, crate::ErrorCode::ChatTooLong);
        assert_eq!(check_chat("").unwrap_err().0, crate::ErrorCode::ChatEmpty);
    }
}
