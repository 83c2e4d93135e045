//! Free text that people type: labels.

use super::rule::TextRule;

/// A human-friendly label: trimmed, at most 128 characters, may be empty
/// (then the name is shown instead).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DisplayName(String);

impl DisplayName {
    /// Any text without control characters, at most 128 characters.
    pub const RULE: TextRule = TextRule::pattern(r"^[^\x00-\x1f\x7f-\x9f]*$", 0, 128);

    /// Parses the optional Display Name field.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        // The untrimmed length: the document's maxLength counts what is sent.
        if raw.chars().count() > 128 {
            return Err("Display Name must be at most 128 characters.".into());
        }
        if s.chars().any(char::is_control) {
            return Err("Display Name must not contain control characters.".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The label as stored; empty when none was given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A free-text description (of an image, of a group): trimmed, at most
/// 2000 characters; line breaks are kept.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    /// The most characters.
    pub const MAX: usize = 2000;

    /// Any text of at most [`Self::MAX`] characters without control
    /// characters other than line breaks and tabs.
    pub const RULE: TextRule =
        TextRule::pattern(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$", 0, Self::MAX);

    /// Parses the optional Description field.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        // The untrimmed length: the document's maxLength counts what is sent.
        if raw.chars().count() > Self::MAX {
            return Err(format!(
                "Description must be at most {} characters.",
                Self::MAX
            ));
        }
        if s.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(
                "Description must not contain control characters other than line breaks and tabs."
                    .into(),
            );
        }
        Ok(Self(s.to_owned()))
    }

    /// The text as stored.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A credential's expiry date: a UTC calendar date, `YYYY-MM-DD` (what
/// `<input type="date">` sends). Empty means none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiryDate(pub time::Date);

impl ExpiryDate {
    /// The date format, also the stored one.
    pub const FORMAT: &[time::format_description::FormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]");

    /// A calendar date of the years 2000 to 9999, `YYYY-MM-DD`; that the
    /// day exists is JSON Schema's `format: date`.
    pub const RULE: TextRule = TextRule::pattern(
        r"^[2-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
        10,
        10,
    );

    /// Parses the Expires field: `None` when blank.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Ok(None);
        }
        time::Date::parse(s, Self::FORMAT)
            .ok()
            .filter(|d| (2000..=9999).contains(&d.year()))
            .map(|d| Some(Self(d)))
            .ok_or_else(|| "Expires must be a date like 2026-12-31.".into())
    }

    /// `YYYY-MM-DD`.
    pub fn to_text(self) -> String {
        self.0.format(Self::FORMAT).unwrap_or_default()
    }
}

/// `text` on one line without control characters: each run of white
/// space (line breaks included) one space, any other control character
/// (an escape sequence's ESC) dropped. For words of others that reach a
/// page, a log line or a terminal.
pub fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// `n` and the noun, plural unless `n` is one: "1 image", "3 images",
/// "0 requests". For the nouns wharf counts, all of which take an `s`.
pub fn count<N: std::fmt::Display + PartialEq + From<u8>>(n: N, noun: &str) -> String {
    if n == N::from(1) {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// At most `max` characters of `text`, with `…` standing for the rest: for
/// words of others (a registry's, a receiver's) that are kept or shown.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_others_are_put_on_one_line() {
        assert_eq!(
            one_line("  first\n\tsecond \u{1b}[31mred\u{1b}[0m\u{7}  "),
            "first second [31mred[0m"
        );
    }

    #[test]
    fn counts_say_one_or_many() {
        assert_eq!(count(1_usize, "image"), "1 image");
        assert_eq!(count(0_i64, "request"), "0 requests");
        assert_eq!(count(12_usize, "API token"), "12 API tokens");
    }

    #[test]
    fn expiry_dates() {
        assert_eq!(ExpiryDate::parse("").unwrap(), None);
        assert_eq!(
            ExpiryDate::parse(" 2026-12-31 ")
                .unwrap()
                .unwrap()
                .to_text(),
            "2026-12-31"
        );
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "31/12/2026",
            "tomorrow",
            "0001-01-01",
        ] {
            assert!(ExpiryDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_name_is_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  GitLab  ").unwrap().as_str(), "GitLab");
        assert_eq!(DisplayName::parse("").unwrap().as_str(), "");
        assert!(DisplayName::parse(&"é".repeat(128)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(129)).is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
    }
}
