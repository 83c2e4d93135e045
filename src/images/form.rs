//! The image add/edit form.

use super::store::{self, ImageType};
use crate::db::Conn;
use crate::domain::{Description, DisplayName, GroupId, ImageRef, ResourceName, SecretId};
use crate::web::{FieldErrors, FormVersion};

pub use crate::groups::store::GroupChoice;
pub use crate::secrets::store::PullSecretChoice as Choice;

/// What the form offers: the Image Pull secrets and the groups.
#[derive(Clone, Debug, Default)]
pub struct Choices {
    pub secrets: Vec<Choice>,
    pub groups: Vec<GroupChoice>,
}

impl Choices {
    /// What a save needs to check: the chosen secret only (not every
    /// secret, which the select shows but a save never reads), and the
    /// groups.
    pub fn for_save(conn: &Conn<'_>, pull_secret: &str) -> rusqlite::Result<Self> {
        Ok(Self {
            secrets: crate::secrets::store::image_pull_choice(conn, pull_secret.trim())?
                .into_iter()
                .collect(),
            groups: crate::groups::store::choices(conn)?,
        })
    }

    /// Both lists, as they are now.
    pub fn load(conn: &Conn<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            secrets: crate::secrets::store::image_pull_choices(conn)?,
            groups: crate::groups::store::choices(conn)?,
        })
    }
}

/// What a page or the API asks of an image: its fields as given, typed
/// (a page's ticked boxes are `true`), checked by [`ImageInput::parse`].
#[derive(Clone, Debug)]
pub struct ImageInput {
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// `cpu`, `gpu` or `both`, as given (blank: Universal).
    pub image_type: String,
    pub url: String,
    /// Blank: none.
    pub url_for_gpu: String,
    /// "Use Image Pull Secret".
    pub use_pull_secret: bool,
    /// The chosen secret's name (kept while the box is unticked, as the
    /// page's select keeps it).
    pub pull_secret: String,
    /// For everyone; otherwise for the members of `groups`.
    pub global: bool,
    /// Group names.
    pub groups: Vec<String>,
}

impl Default for ImageInput {
    /// A new image: nothing given, global as new images are.
    fn default() -> Self {
        Self {
            name: String::new(),
            display_name: String::new(),
            description: String::new(),
            image_type: String::new(),
            url: String::new(),
            url_for_gpu: String::new(),
            use_pull_secret: false,
            pull_secret: String::new(),
            global: store::Image::NEW_IS_GLOBAL,
            groups: Vec::new(),
        }
    }
}

/// A form that passed every rule.
pub struct Valid {
    pub name: ResourceName,
    pub display_name: DisplayName,
    pub description: String,
    pub image_type: ImageType,
    pub url: ImageRef,
    pub url_for_gpu: Option<ImageRef>,
    pub pull_secret_id: Option<SecretId>,
    pub global: bool,
    pub group_ids: Vec<GroupId>,
}

impl Valid {
    /// The row to write.
    pub fn write(&self) -> store::Write<'_> {
        store::Write {
            name: self.name.as_str(),
            display_name: self.display_name.as_str(),
            description: &self.description,
            image_type: self.image_type,
            url: self.url.as_str(),
            url_for_gpu: self.url_for_gpu.as_ref().map(ImageRef::as_str),
            pull_secret_id: self.pull_secret_id,
            global: self.global,
            groups: &self.group_ids,
        }
    }
}

impl ImageInput {
    /// A stored image's fields, to edit.
    pub fn of(image: &store::Image) -> Self {
        Self {
            name: image.name.clone(),
            display_name: image.display_name.clone(),
            description: image.description.clone(),
            image_type: image.image_type.as_str().into(),
            url: image.url.clone(),
            url_for_gpu: image.url_for_gpu.clone().unwrap_or_default(),
            use_pull_secret: image.pull_secret.is_some(),
            pull_secret: image
                .pull_secret
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            global: image.global,
            groups: image.groups.iter().map(|g| g.name.clone()).collect(),
        }
    }

    /// Reads the posted pairs: a missing checkbox is unticked, a repeated
    /// `groups` is a list, and `version` is returned apart.
    pub fn from_form(pairs: Vec<(String, String)>) -> (Self, FormVersion) {
        let mut f = Self {
            global: false,
            ..Self::default()
        };
        let mut version = FormVersion::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v,
                "display_name" => f.display_name = v,
                "description" => f.description = v,
                "image_type" => f.image_type = v,
                "url" => f.url = v,
                "url_for_gpu" => f.url_for_gpu = v,
                "use_pull_secret" => f.use_pull_secret = true,
                "pull_secret" => f.pull_secret = v,
                "global" => f.global = true,
                "groups" => f.groups.push(v),
                "version" => version = FormVersion::parse(&v),
                _ => {}
            }
        }
        (f, version)
    }

    /// The type as chosen; Universal when the field is missing.
    pub fn image_type_value(&self) -> &str {
        if self.image_type.is_empty() {
            "both"
        } else {
            &self.image_type
        }
    }

    /// Checks the form against the rules and the secrets and groups that
    /// exist.
    pub fn parse(&self, name: &str, choices: &Choices) -> Result<Valid, FieldErrors> {
        let groups = &choices.groups;
        let choices = &choices.secrets;
        let mut e = FieldErrors::default();
        let name = e.check("name", ResourceName::parse(name));
        let display_name = e.check("display_name", DisplayName::parse(&self.display_name));
        let description = e.check("description", Description::parse(&self.description));
        let image_type = ImageType::parse(self.image_type_value());
        if image_type.is_none() {
            e.add("image_type", "Choose a type: CPU, GPU or Universal.");
        }
        let url = e.check("url", ImageRef::parse(&self.url));
        let url_for_gpu = if self.url_for_gpu.trim().is_empty() {
            Some(None)
        } else if image_type.is_some_and(|t| t != ImageType::Both) {
            e.add(
                "url_for_gpu",
                "A Specific Container Image URL for GPU is only for Universal images; clear it or choose Universal.",
            );
            None
        } else {
            e.check("url_for_gpu", ImageRef::parse(&self.url_for_gpu))
                .map(Some)
        };
        let pull_secret_id = if self.use_pull_secret {
            let wanted = self.pull_secret.trim();
            match choices.iter().find(|c| c.name == wanted) {
                Some(c) => Some(Some(c.id)),
                None if wanted.is_empty() => {
                    e.add(
                        "pull_secret",
                        "Choose an Image Pull Secret, or untick \"Use Image Pull Secret\".",
                    );
                    None
                }
                None => {
                    e.add(
                        "pull_secret",
                        format!("There is no Image Pull secret named {wanted}."),
                    );
                    None
                }
            }
        } else {
            Some(None)
        };
        let global = self.global;
        let mut group_ids = Vec::new();
        if !global {
            for wanted in &self.groups {
                match groups.iter().find(|g| g.name == *wanted) {
                    Some(g) => group_ids.push(g.id),
                    None => e.add("groups", format!("There is no group named {wanted}.")),
                }
            }
        }
        match (
            name,
            display_name,
            description,
            image_type,
            url,
            url_for_gpu,
            pull_secret_id,
            e.is_empty(),
        ) {
            (
                Some(name),
                Some(display_name),
                Some(description),
                Some(image_type),
                Some(url),
                Some(url_for_gpu),
                Some(pull_secret_id),
                true,
            ) => Ok(Valid {
                name,
                display_name,
                description: description.into_string(),
                image_type,
                url,
                url_for_gpu,
                pull_secret_id,
                global,
                group_ids,
            }),
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices() -> Choices {
        Choices {
            secrets: secret_choices(),
            groups: Vec::new(),
        }
    }

    fn secret_choices() -> Vec<Choice> {
        vec![Choice {
            id: SecretId(1),
            name: "gitlab".into(),
            label: "GitLab".into(),
            registry_host: "registry.gitlab.com".into(),
        }]
    }

    fn form() -> ImageInput {
        ImageInput {
            url: "registry.gitlab.com/team/notebook:v1".into(),
            use_pull_secret: true,
            pull_secret: "gitlab".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_to_universal_and_finds_the_secret() {
        let v = form().parse("nb", &choices()).unwrap();
        assert_eq!(v.image_type, ImageType::Both);
        assert_eq!(v.pull_secret_id, Some(SecretId(1)));
    }

    #[test]
    fn unticked_box_ignores_the_select() {
        let mut f = form();
        f.use_pull_secret = false;
        f.pull_secret = "nope".into();
        assert_eq!(f.parse("nb", &choices()).unwrap().pull_secret_id, None);
    }

    #[test]
    fn rules() {
        let mut f = form();
        f.pull_secret = "missing".into();
        assert!(
            f.parse("nb", &choices())
                .err()
                .unwrap()
                .get("pull_secret")
                .is_some()
        );
        let mut f = form();
        f.image_type = "cpu".into();
        f.url_for_gpu = "nvidia/cuda:12.4".into();
        assert!(
            f.parse("nb", &choices())
                .err()
                .unwrap()
                .get("url_for_gpu")
                .is_some()
        );
        let mut f = form();
        f.url = "not a ref".into();
        f.image_type = "tpu".into();
        let e = f.parse("nb", &choices()).err().unwrap();
        assert!(e.get("url").is_some() && e.get("image_type").is_some());
    }
}
