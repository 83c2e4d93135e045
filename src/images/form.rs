//! The image add/edit form.

use serde::Deserialize;

use super::store::{self, ImageType};
use crate::domain::{DisplayName, ImageRef, ResourceName, SecretId};
use crate::web::{FieldErrors, FormVersion};

pub use crate::secrets::store::PullSecretChoice as Choice;

/// The fields exactly as posted. A missing checkbox is unticked.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImageForm {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub image_type: String,
    pub url: String,
    pub url_for_gpu: String,
    pub use_pull_secret: Option<String>,
    pub pull_secret: String,
    pub version: FormVersion,
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
        }
    }
}

impl ImageForm {
    /// The type as chosen; Universal when the field is missing.
    pub fn image_type_value(&self) -> &str {
        if self.image_type.is_empty() {
            "both"
        } else {
            &self.image_type
        }
    }

    /// Checks the form against the rules and the secrets that exist.
    pub fn parse(&self, name: &str, choices: &[Choice]) -> Result<Valid, FieldErrors> {
        let mut e = FieldErrors::default();
        let name = e.check("name", ResourceName::parse(name));
        let display_name = e.check("display_name", DisplayName::parse(&self.display_name));
        let description = self.description.trim();
        if description.chars().count() > 2000 {
            e.add(
                "description",
                "Description must be at most 2000 characters.",
            );
        }
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
        let pull_secret_id = if self.use_pull_secret.is_some() {
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
        match (
            name,
            display_name,
            image_type,
            url,
            url_for_gpu,
            pull_secret_id,
            e.is_empty(),
        ) {
            (
                Some(name),
                Some(display_name),
                Some(image_type),
                Some(url),
                Some(url_for_gpu),
                Some(pull_secret_id),
                true,
            ) => Ok(Valid {
                name,
                display_name,
                description: description.to_owned(),
                image_type,
                url,
                url_for_gpu,
                pull_secret_id,
            }),
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices() -> Vec<Choice> {
        vec![Choice {
            id: SecretId(1),
            name: "gitlab".into(),
            label: "GitLab".into(),
            registry_host: "registry.gitlab.com".into(),
        }]
    }

    fn form() -> ImageForm {
        ImageForm {
            url: "registry.gitlab.com/team/notebook:v1".into(),
            use_pull_secret: Some("on".into()),
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
        f.use_pull_secret = None;
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
