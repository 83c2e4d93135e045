use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::gojson;

/// The `.dockerconfigjson` document kubectl builds: compact, keys in the
/// order username, password, auth, Go's escaping.
pub fn dockerconfigjson(server: &str, username: &str, password: &str) -> String {
    let auth = B64.encode(format!("{username}:{password}"));
    format!(
        r#"{{"auths":{{{}:{{"username":{},"password":{},"auth":{}}}}}}}"#,
        gojson::string(server),
        gojson::string(username),
        gojson::string(password),
        gojson::string(&auth),
    )
}

/// A Secret object as `kubectl create secret` makes it.
pub struct Manifest<'a> {
    /// `metadata.name`.
    pub name: &'a str,
    /// `metadata.namespace`, only when `-n` was given.
    pub namespace: Option<&'a str>,
    /// `data`: key and raw bytes (base64-encoded on output), in key order.
    pub data: Vec<(&'a str, Vec<u8>)>,
    /// `type`, absent for `generic` without `--type`.
    pub secret_type: Option<&'a str>,
}

impl<'a> Manifest<'a> {
    /// `kubectl create secret docker-registry NAME --docker-server=...`
    pub fn docker_registry(
        name: &'a str,
        namespace: Option<&'a str>,
        server: &str,
        username: &str,
        password: &str,
    ) -> Self {
        Self {
            name,
            namespace,
            data: vec![(
                ".dockerconfigjson",
                dockerconfigjson(server, username, password).into_bytes(),
            )],
            secret_type: Some("kubernetes.io/dockerconfigjson"),
        }
    }

    /// `kubectl create secret generic NAME --from-file=ssh=KEYFILE`
    pub fn ssh_key(name: &'a str, namespace: Option<&'a str>, key: &[u8]) -> Self {
        Self {
            name,
            namespace,
            data: vec![("ssh", key.to_vec())],
            secret_type: None,
        }
    }

    /// `-o yaml`: sigs.k8s.io/yaml turns the JSON into YAML with every
    /// map's keys sorted, two-space indents, and quotes only where a plain
    /// scalar would read as something other than a string.
    pub fn to_yaml(&self) -> String {
        let mut data: Vec<&(&str, Vec<u8>)> = self.data.iter().collect();
        data.sort_by_key(|(k, _)| *k);
        let mut y = String::from("apiVersion: v1\ndata:\n");
        for (k, v) in data {
            y.push_str(&format!("  {}: {}\n", yaml_scalar(k), B64.encode(v)));
        }
        y.push_str("kind: Secret\nmetadata:\n  creationTimestamp: null\n");
        y.push_str(&format!("  name: {}\n", yaml_scalar(self.name)));
        if let Some(ns) = self.namespace {
            y.push_str(&format!("  namespace: {}\n", yaml_scalar(ns)));
        }
        if let Some(t) = self.secret_type {
            y.push_str(&format!("type: {}\n", yaml_scalar(t)));
        }
        y
    }

    /// `-o json`: Go's `json.MarshalIndent(obj, "", "    ")` in struct
    /// field order, and a final newline.
    pub fn to_json(&self) -> String {
        let mut j = String::from(
            "{\n    \"kind\": \"Secret\",\n    \"apiVersion\": \"v1\",\n    \"metadata\": {\n",
        );
        j.push_str(&format!(
            "        \"name\": {},\n",
            gojson::string(self.name)
        ));
        if let Some(ns) = self.namespace {
            j.push_str(&format!("        \"namespace\": {},\n", gojson::string(ns)));
        }
        j.push_str("        \"creationTimestamp\": null\n    },\n    \"data\": {\n");
        let mut data: Vec<&(&str, Vec<u8>)> = self.data.iter().collect();
        data.sort_by_key(|(k, _)| *k);
        let entries: Vec<String> = data
            .iter()
            .map(|(k, v)| {
                format!(
                    "        {}: {}",
                    gojson::string(k),
                    gojson::string(&B64.encode(v))
                )
            })
            .collect();
        j.push_str(&entries.join(",\n"));
        j.push_str("\n    }");
        if let Some(t) = self.secret_type {
            j.push_str(&format!(",\n    \"type\": {}", gojson::string(t)));
        }
        j.push_str("\n}\n");
        j
    }
}

/// A string as go-yaml v2 writes it: plain unless it would resolve to a
/// bool, null, number or timestamp, then double-quoted. Only names,
/// namespaces and fixed keys come here, so no escaping is needed.
fn yaml_scalar(s: &str) -> String {
    if resolves_to_non_string(s) {
        format!("\"{s}\"")
    } else {
        s.to_owned()
    }
}

/// YAML 1.1 as go-yaml v2 resolves plain scalars.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".inf", ".Inf", ".INF", "+.inf", "-.inf", ".nan", ".NaN", ".NAN", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let Some(first) = s.chars().next() else {
        return true;
    };
    if !(first.is_ascii_digit() || first == '+' || first == '-') {
        return false;
    }
    let plain = s.replace('_', "");
    let digits = plain.trim_start_matches(['+', '-']);
    let radix = |prefix: &str, ok: fn(char) -> bool| {
        digits
            .strip_prefix(prefix)
            .is_some_and(|r| !r.is_empty() && r.chars().all(ok))
    };
    let int = (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
        || radix("0x", |c| c.is_ascii_hexdigit())
        || radix("0o", |c| ('0'..='7').contains(&c))
        || radix("0b", |c| c == '0' || c == '1');
    let float = plain.parse::<f64>().is_ok() && !plain.contains(['i', 'n', 'I', 'N']);
    int || float || is_timestamp(s)
}

/// go-yaml v2 reads `YYYY-M-D` (a real date) as a timestamp.
fn is_timestamp(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let num = |p: &str, max_len: usize| {
        (!p.is_empty() && p.len() <= max_len && p.chars().all(|c| c.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(y, 4).filter(|_| y.len() == 4), num(m, 2), num(d, 2))
    else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    // `kubectl create secret docker-registry regcred --docker-server=registry.gitlab.com
    //  --docker-username=gitlab+deploy-token-78108 --docker-password='p<a>&ss' --dry-run=client -o yaml`
    const YAML: &str = "apiVersion: v1
data:
  .dockerconfigjson: eyJhdXRocyI6eyJyZWdpc3RyeS5naXRsYWIuY29tIjp7InVzZXJuYW1lIjoiZ2l0bGFiK2RlcGxveS10b2tlbi03ODEwOCIsInBhc3N3b3JkIjoicFx1MDAzY2FcdTAwM2VcdTAwMjZzcyIsImF1dGgiOiJaMmwwYkdGaUsyUmxjR3h2ZVMxMGIydGxiaTAzT0RFd09EcHdQR0UrSm5OeiJ9fX0=
kind: Secret
metadata:
  creationTimestamp: null
  name: regcred
type: kubernetes.io/dockerconfigjson
";

    #[test]
    fn docker_registry_yaml_matches_kubectl() {
        let m = Manifest::docker_registry(
            "regcred",
            None,
            "registry.gitlab.com",
            "gitlab+deploy-token-78108",
            "p<a>&ss",
        );
        assert_eq!(m.to_yaml(), YAML);
    }

    #[test]
    fn dockerconfigjson_is_compact_and_go_escaped() {
        assert_eq!(
            dockerconfigjson(
                "registry.gitlab.com",
                "gitlab+deploy-token-78108",
                "p<a>&ss"
            ),
            r#"{"auths":{"registry.gitlab.com":{"username":"gitlab+deploy-token-78108","password":"p\u003ca\u003e\u0026ss","auth":"Z2l0bGFiK2RlcGxveS10b2tlbi03ODEwODpwPGE+JnNz"}}}"#
        );
    }

    #[test]
    fn json_matches_kubectl_with_a_namespace() {
        let m = Manifest::ssh_key("repo-key", Some("ml"), b"k\n");
        assert_eq!(
            m.to_json(),
            "{\n    \"kind\": \"Secret\",\n    \"apiVersion\": \"v1\",\n    \"metadata\": {\n        \"name\": \"repo-key\",\n        \"namespace\": \"ml\",\n        \"creationTimestamp\": null\n    },\n    \"data\": {\n        \"ssh\": \"awo=\"\n    }\n}\n"
        );
        assert_eq!(
            m.to_yaml(),
            "apiVersion: v1\ndata:\n  ssh: awo=\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: repo-key\n  namespace: ml\n"
        );
    }

    #[test]
    fn names_that_yaml_would_misread_are_quoted() {
        // Each checked against kubectl v1.32.
        for quoted in [
            "123",
            "0777",
            "08",
            "1e5",
            "1e-5",
            "1.5",
            "0e0",
            "9.9e-99",
            "0x1f",
            "0o17",
            "0b101",
            "2024-01-31",
            "2024-1-2",
            "true",
            "yes",
            "off",
            "null",
            "n",
            "y",
        ] {
            assert!(resolves_to_non_string(quoted), "{quoted}");
        }
        for plain in [
            "regcred",
            "a1",
            "1a",
            "2024-02-30",
            "2024-13-01",
            "1-2",
            "1.2.3",
            "0xg",
            "inf",
            "nan",
            "1e",
            "v1.2",
            "x1e5",
            "20241-01-01",
            "0x1p-2",
            "0x1.8p3",
            "1e5.5",
        ] {
            assert!(!resolves_to_non_string(plain), "{plain}");
        }
    }
}
