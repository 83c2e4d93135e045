//! The group form: raw fields in, domain values (or messages beside
//! fields) out. The pages and the API both check a group here.

use crate::domain::{Description, DisplayName, GroupName};
use crate::web::{FieldErrors, FormVersion};

/// The group form as posted; `members` repeats, one per ticked user.
#[derive(Default, Debug)]
pub struct GroupForm {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub members: Vec<String>,
    pub version: FormVersion,
}

impl GroupForm {
    /// Reads the form's pairs: a repeated `members` is a list (serde's
    /// form reader keeps only one value of a key).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v,
                "display_name" => f.display_name = v,
                "description" => f.description = v,
                "members" => f.members.push(v),
                "version" => f.version = FormVersion::parse(&v),
                _ => {}
            }
        }
        f
    }

    /// Checks the fields; returns the name, display name and description.
    pub fn parse(&self, name: &str) -> Result<(GroupName, DisplayName, String), FieldErrors> {
        let mut e = FieldErrors::default();
        let name = e.check("name", GroupName::parse(name));
        let display = e.check("display_name", DisplayName::parse(&self.display_name));
        let description = e.check("description", Description::parse(&self.description));
        match (name, display, description, e.is_empty()) {
            (Some(n), Some(d), Some(text), true) => Ok((n, d, text.into_string())),
            _ => Err(e),
        }
    }
}
