//! YAML for the files wharf writes for clusters (kubelet's config, External
//! Secrets Operator's manifests): block style, keys in the order given,
//! and every string that could read as something else in double quotes
//! (a JSON string is a valid YAML double-quoted scalar), so a value is
//! never taken for a number, a boolean or a template.

/// A YAML value, its maps' keys in the order written.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string.
    String(String),
    /// A whole number.
    Number(i64),
    /// true or false.
    Bool(bool),
    /// A list.
    Array(Vec<Value>),
    /// A map.
    Object(Vec<(String, Value)>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Self::Number(n)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Self::Array(items)
    }
}

/// A map from its entries, in order.
pub fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// `docs` as YAML documents, each opened by `---`.
pub fn documents(docs: &[Value]) -> String {
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        write_block(&mut out, d, 0);
    }
    out
}

fn write_block(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                out.push_str(&" ".repeat(indent));
                out.push_str(&scalar_str(k));
                out.push(':');
                write_value(out, val, indent);
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&" ".repeat(indent));
                out.push('-');
                write_item(out, item, indent);
            }
        }
        other => {
            out.push_str(&" ".repeat(indent));
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

/// After `key:`.
fn write_value(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_block(out, v, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_block(out, v, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

/// After `-`: an object's first key on the dash's line, the rest under it.
fn write_item(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut first = true;
            for (k, val) in m {
                if first {
                    out.push(' ');
                    first = false;
                } else {
                    out.push_str(&" ".repeat(indent + 2));
                }
                out.push_str(&scalar_str(k));
                out.push(':');
                write_value(out, val, indent + 2);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_block(out, v, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => scalar_str(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
    }
}

/// A string plain when YAML can only read it as that string, else quoted.
fn scalar_str(s: &str) -> String {
    const WORDS: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~",
    ];
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
        && !WORDS.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_owned()
    } else {
        // JSON leaves DEL and the C1 controls as they are; YAML's double
        // quotes do not take them raw.
        serde_json::Value::String(s.to_owned())
            .to_string()
            .chars()
            .map(|c| match c {
                '\u{7f}'..='\u{9f}' => format!("\\u{:04x}", u32::from(c)),
                c => c.to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_yaml_with_safe_scalars() {
        let doc = map([
            ("apiVersion", "v1".into()),
            ("kind", "Thing".into()),
            (
                "metadata",
                map([
                    ("name", "a".into()),
                    ("labels", map([("on", "true".into())])),
                ]),
            ),
            (
                "list",
                vec![
                    map([("name", "x".into()), ("value", "1h0m0s".into())]),
                    map([("name", "y".into()), ("value", "{{ .k }}".into())]),
                ]
                .into(),
            ),
            ("args", vec!["credential-provider".into()].into()),
            ("odd", vec![".5".into(), "a\u{85}b".into()].into()),
            ("empty", map([])),
            ("n", 3.into()),
        ]);
        assert_eq!(
            documents(&[doc]),
            "---\napiVersion: v1\nkind: Thing\nmetadata:\n  name: a\n  labels:\n    \"on\": \"true\"\n\
             list:\n  - name: x\n    value: \"1h0m0s\"\n  - name: \"y\"\n    value: \"{{ .k }}\"\n\
             args:\n  - credential-provider\nodd:\n  - \".5\"\n  - \"a\\u0085b\"\nempty: {}\n\"n\": 3\n"
        );
    }
}
