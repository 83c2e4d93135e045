//! The shape of the code: no top-level module of `src/` reaches itself
//! again through `crate::` paths (outside `#[cfg(test)]`), so each can be
//! read and changed above the ones it uses. A new import that closes a
//! cycle fails here, naming the modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names that follow `crate::` in `text`, and the first names inside
/// `use crate::{…}` groups.
fn used(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find(';').unwrap_or(group.len())];
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 || c != '{' {
                    item.push(c);
                }
            }
            out.insert(ident(item.trim()));
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|n| !n.is_empty());
    out
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "main" || top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let entry = graph.entry(top.clone()).or_default();
        entry.extend(used(text).into_iter().filter(|u| *u != top));
    }
    let names: BTreeSet<String> = graph.keys().cloned().collect();
    for edges in graph.values_mut() {
        edges.retain(|e| names.contains(e));
    }
    // Who reaches whom (the modules are a few dozen).
    let mut reach = graph.clone();
    loop {
        let mut grew = false;
        for m in names.iter() {
            let via: BTreeSet<String> = reach[m]
                .iter()
                .flat_map(|n| reach[n].iter().cloned())
                .collect();
            let entry = reach.get_mut(m).unwrap();
            let before = entry.len();
            entry.extend(via);
            grew |= entry.len() > before;
        }
        if !grew {
            break;
        }
    }
    let cycles: BTreeSet<Vec<String>> = names
        .iter()
        .filter(|m| reach[*m].contains(*m))
        .map(|m| {
            let mut comp: Vec<String> = names
                .iter()
                .filter(|n| reach[m].contains(*n) && reach[*n].contains(m))
                .cloned()
                .collect();
            comp.sort();
            comp
        })
        .collect();
    let edges_in = |comp: &Vec<String>| -> Vec<String> {
        comp.iter()
            .flat_map(|a| {
                graph[a]
                    .iter()
                    .filter(|b| comp.contains(b))
                    .map(move |b| format!("{a} → {b}"))
            })
            .collect()
    };
    let said: Vec<String> = cycles
        .iter()
        .map(|c| format!("{} (imports: {})", c.join(" ⇄ "), edges_in(c).join(", ")))
        .collect();
    assert!(said.is_empty(), "module cycles:\n{}", said.join("\n"));
    assert!(names.len() > 20, "src/ was read: {names:?}");
}

#[test]
fn the_reader_sees_imports_as_rust_does() {
    let text = "use crate::{auth::{self, X}, db, web::Problem};\nlet x = crate::ecr::USERNAME;";
    let got: Vec<String> = used(text).into_iter().collect();
    assert_eq!(got, ["auth", "db", "ecr", "web"]);
}
