//! Field schemas generated from the domain's rules ([`TextRule`]), so the
//! document states what the parsers enforce: a request that fits the
//! document is refused only for what a schema cannot say (an `If-Match`
//! naming another version, a name that refers to nothing).

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, Object, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};

use crate::domain::{
    Description, DisplayName, ExpiryDate, GroupName, ImageRef, Namespace, NodePattern,
    RegistryHost, RegistryUsername, ResourceName, SecretValue, SshPrivateKey, TextRule,
};
use crate::secrets::fields::{Field, Need};
use crate::secrets::store::Kind;

/// A string schema of `rule`; `nullable` adds JSON `null` (a merge patch
/// clearing the field).
pub fn text(rule: TextRule, nullable: bool) -> ObjectBuilder {
    let schema_type = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    // Reserved words as a negative look-ahead: JSON Schema has no other
    // way to say "not these" within `pattern`.
    let pattern = rule.pattern.map(|p| {
        if rule.reserved.is_empty() {
            return p.to_owned();
        }
        let words: Vec<String> = rule.reserved.iter().map(|w| escape(w)).collect();
        format!("^(?!({})$){}", words.join("|"), p.trim_start_matches('^'))
    });
    ObjectBuilder::new()
        .schema_type(schema_type)
        .pattern(pattern)
        .min_length((rule.min_length > 0).then_some(rule.min_length))
        .max_length(Some(rule.max_length))
}

/// `s` with the regular expression's special characters escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn date(nullable: bool) -> Object {
    text(ExpiryDate::RULE, nullable)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .description(Some("A UTC date, `YYYY-MM-DD`, of the years 2000 to 9999."))
        .build()
}

/// A secret's or an image's name.
pub fn resource_name() -> Object {
    text(ResourceName::RULE, false)
        .description(Some("A DNS-1123 name, at most 63 characters."))
        .build()
}

/// A group's name.
pub fn group_name() -> Object {
    text(GroupName::RULE, false)
        .description(Some("A DNS-1123 label, at most 63 characters."))
        .build()
}

/// `?namespace=`.
pub fn namespace() -> Object {
    text(Namespace::RULE, false)
        .description(Some("A DNS-1123 label, as `kubectl -n`."))
        .build()
}

/// A display name.
pub fn display_name() -> Object {
    text(DisplayName::RULE, false).build()
}

/// A display name in a merge patch (`null` clears it).
pub fn display_name_patch() -> Object {
    text(DisplayName::RULE, true).build()
}

/// A description.
pub fn description() -> Object {
    text(Description::RULE, false).build()
}

/// A description in a merge patch (`null` clears it).
pub fn description_patch() -> Object {
    text(Description::RULE, true).build()
}

/// An expiry date, or `null` for none (in a merge patch: clears it).
pub fn expires_on_patch() -> Object {
    date(true)
}

/// A registry host.
pub fn registry_host() -> Object {
    text(RegistryHost::RULE, false)
        .description(Some(
            "host[:port], optionally with https:// or http:// and a path. \
             A URL is stored as host[:port] (https:// and a bare / or /v2/ dropped); \
             http:// and a repository path are kept. Docker Hub's names are stored as \
             https://index.docker.io/v1/.",
        ))
        .build()
}

/// An Amazon ECR registry host.
pub fn ecr_host() -> Object {
    text(crate::domain::EcrHost::RULE, false)
        .description(Some(
            "<12-digit account>.dkr.ecr.<region>.amazonaws.com: the account and region are read from it.",
        ))
        .build()
}

/// An IAM access key ID.
pub fn access_key_id() -> Object {
    text(crate::domain::AccessKeyId::RULE, false)
        .description(Some(
            "An IAM user's access key ID (AKIA…) with ecr:GetAuthorizationToken.",
        ))
        .build()
}

/// An AWS secret access key (write-only).
pub fn secret_access_key() -> Object {
    text(crate::domain::SECRET_ACCESS_KEY_RULE, false)
        .description(Some("Write-only: never returned."))
        .build()
}

/// The ECR API endpoint, or `null` for the region's own.
pub fn ecr_endpoint() -> Object {
    text(crate::domain::EcrEndpoint::RULE, true)
        .description(Some(
            "The ECR API endpoint (a VPC endpoint, say); null or absent: https://api.ecr.<region>.amazonaws.com.",
        ))
        .build()
}

/// A registry user name.
pub fn registry_username() -> Object {
    text(RegistryUsername::RULE, false)
        .description(Some(
            "Without ':' (registries split user and password there).",
        ))
        .build()
}

/// A registry password or token (write-only).
pub fn password() -> Object {
    text(SecretValue::PASSWORD_RULE, false)
        .description(Some("Write-only: never returned."))
        .build()
}

/// An SSH private key (write-only).
pub fn ssh_key() -> Object {
    text(SshPrivateKey::RULE, false)
        .description(Some(
            "An SSH private key with its armour lines, at most 64 KiB. Write-only: never returned.",
        ))
        .build()
}

/// A container image reference.
pub fn image_url() -> Object {
    text(ImageRef::RULE, false)
        .description(Some(
            "A container image reference: [host[:port]/]path[:tag][@digest].",
        ))
        .build()
}

/// A container image reference, or none: `null` or empty.
pub fn image_url_or_none() -> Object {
    let rule = TextRule {
        min_length: 0,
        ..ImageRef::RULE
    };
    let pattern = rule.pattern.map(|p| format!("^$|{p}"));
    text(rule, true)
        .pattern(pattern)
        .description(Some(
            "A container image reference, or null (or empty) for none.",
        ))
        .build()
}

/// kubelet `matchImages` patterns: a list of at most 100.
fn node_patterns(nullable: bool) -> ArrayBuilder {
    let schema_type = if nullable {
        SchemaType::from_iter([Type::Array, Type::Null])
    } else {
        SchemaType::Type(Type::Array)
    };
    ArrayBuilder::new()
        .schema_type(schema_type)
        .items(text(NodePattern::RULE, false))
        .max_items(Some(100))
        .description(Some(
            "kubelet matchImages patterns: a host whose dot-separated parts may hold * globs, \
             an optional :port and path prefix. Empty: the registry's host[:port].",
        ))
}

/// `?namespace_label=KEY=VALUE`.
pub fn namespace_label() -> Object {
    text(crate::clusters::setup::LABEL_RULE, false)
        .description(Some(
            "The namespaces to fill, by label: KEY=VALUE (default wharf.io/pull-secrets=true).",
        ))
        .build()
}

/// A new secret: one object per type, told apart by `type`.
pub fn secret_create() -> RefOr<Schema> {
    let object = |kind: Kind, about: &str| {
        let mut object = ObjectBuilder::new()
            .description(Some(about))
            .property(
                "type",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([kind.as_str()])),
            )
            .required("type")
            .property("name", resource_name())
            .required("name")
            .property("display_name", display_name())
            .property("expires_on", expires_on_patch())
            .property(
                "deliver",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("Served to clusters (default false).")),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        for (field, need) in kind.fields() {
            object = object.property(field.name(), secret_field(*field, Some(kind)));
            if *need == Need::Required {
                object = object.required(field.name());
            }
        }
        object
    };
    let one_of = OneOfBuilder::new()
        .item(object(
            Kind::ImagePull,
            "An Image Pull secret: a registry login.",
        ))
        .item(object(
            Kind::GitSync,
            "A Git Sync secret: an SSH private key.",
        ))
        .item(object(
            Kind::Ecr,
            "An Amazon ECR secret: an IAM access key that mints 12-hour registry tokens.",
        ))
        .description(Some(
            "A new secret: `registry_host`, `username` and `password` for Image Pull, \
             `secret` (an SSH private key) for Git Sync, `registry_host`, `access_key_id` \
             and `secret_access_key` for Amazon ECR.",
        ))
        .build();
    RefOr::T(Schema::OneOf(one_of))
}

/// A merge patch of a secret: every type's fields, each saying which types
/// have it; `null` only where a field may be blank.
pub fn secret_patch() -> RefOr<Schema> {
    let types = [Kind::ImagePull, Kind::GitSync, Kind::Ecr];
    let mut object = ObjectBuilder::new()
        .description(Some(
            "A JSON merge patch of a secret's mutable fields: absent keeps, null clears. \
             An absent password or key keeps the stored one. A field of another type is \
             not applied, but must still fit.",
        ))
        .property("display_name", display_name_patch())
        .property("expires_on", expires_on_patch())
        .property(
            "deliver",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .description(Some("Served to clusters.")),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for field in Field::ALL {
        let whose: Vec<&str> = types
            .iter()
            .filter(|k| k.takes(field))
            .map(|k| k.label())
            .collect();
        let mut schema = secret_field(field, None);
        if let RefOr::T(Schema::Object(o)) = &mut schema {
            let about = o.description.take().unwrap_or_default();
            o.description = Some(format!("{} only. {about}", whose.join(" and ")));
        }
        object = object.property(field.name(), schema);
    }
    RefOr::T(Schema::Object(object.build()))
}

/// A secret field's schema, as a field of `kind` (none: of any type).
fn secret_field(field: Field, kind: Option<Kind>) -> RefOr<Schema> {
    let object = match field {
        Field::RegistryHost if kind == Some(Kind::Ecr) => ecr_host(),
        Field::RegistryHost => registry_host(),
        Field::Username => registry_username(),
        Field::Password => password(),
        Field::Secret => ssh_key(),
        Field::AccessKeyId => access_key_id(),
        Field::SecretAccessKey => secret_access_key(),
        Field::Endpoint => ecr_endpoint(),
        Field::NodePatterns => return RefOr::T(Schema::Array(node_patterns(true).build())),
    };
    RefOr::T(Schema::Object(object))
}
