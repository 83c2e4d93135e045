//! What every form shares: errors beside fields, the row version an edit
//! form was opened at, and keeping passwords out of `Debug`.

use serde::{Deserialize, Deserializer};

/// Messages keyed by the field they belong beside.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    /// Adds a message for `field`.
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    /// Keeps a parse result's value, or its message beside `field`.
    pub fn check<T>(&mut self, field: &'static str, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|m| self.add(field, m)).ok()
    }

    /// The message for `field`, if any (templates call this).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    /// Every (field, message), in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(f, m)| (*f, m.as_str()))
    }

    /// No message at all?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `***` for a secret value that was given, `""` for an empty one: what a
/// form's `Debug` shows instead of a password or key.
pub fn redacted(value: &str) -> &'static str {
    if value.is_empty() { "" } else { "***" }
}

/// The row version an edit form carries (`version`): what the form was
/// opened at. A value that is not a number can match no row, so the save
/// is refused as stale rather than applied blindly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FormVersion(Option<i64>);

impl FormVersion {
    /// Reads a posted `version`.
    pub fn parse(raw: &str) -> Self {
        Self(raw.trim().parse().ok())
    }

    /// The version to compare with the row's (-1, matching none, when the
    /// form sent no number).
    pub fn expected(self) -> i64 {
        self.0.unwrap_or(-1)
    }

    /// The version to put back into a form shown again.
    pub fn shown(self) -> i64 {
        self.0.unwrap_or(0)
    }
}

impl<'de> Deserialize<'de> for FormVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Ok(Self(raw.trim().parse().ok()))
    }
}

/// What every add/edit form's view holds besides its own fields.
#[derive(Debug, Default)]
pub struct FormState {
    /// Add (true) or edit.
    pub is_new: bool,
    /// The row version the form was opened at.
    pub version: i64,
    /// Messages beside the fields.
    pub errors: FieldErrors,
    /// A message above the form (someone else saved first).
    pub notice: Option<String>,
}

impl FormState {
    /// An empty add form.
    pub fn new_item() -> Self {
        Self {
            is_new: true,
            ..Self::default()
        }
    }

    /// An edit form of the stored row at `version`.
    pub fn editing(version: i64) -> Self {
        Self {
            version,
            ..Self::default()
        }
    }

    /// A submitted form shown again with its messages.
    pub fn rejected(is_new: bool, version: FormVersion, errors: FieldErrors) -> Self {
        Self {
            is_new,
            version: version.shown(),
            errors,
            notice: None,
        }
    }

    /// The stored row shown again because the save was refused: `why`, and
    /// an invitation to redo the change on top of what is there now.
    pub fn refused(version: i64, why: impl std::fmt::Display) -> Self {
        Self {
            version,
            notice: Some(format!(
                "{why} Here is what it holds now; make your change again."
            )),
            ..Self::default()
        }
    }
}
