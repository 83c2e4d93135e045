//! Docs that cannot drift: every `--flag`, `WHARF_*` variable and
//! `wharf <subcommand>` that README.md and docs/*.md show is one `wharf`
//! accepts (read from its clap definition, and for variables read by hand,
//! from the source), and every relative link and image points at a file,
//! and a heading, that exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::CommandFactory;

/// What `wharf` accepts.
struct Accepted {
    /// Every long flag of every command, and whether it takes a value.
    flags: BTreeMap<String, bool>,
    /// Every variable: clap's, and those the code reads by hand.
    env: BTreeSet<String>,
    command: clap::Command,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn accepted() -> Accepted {
    let mut command = wharf::cli::args::Cli::command();
    command.build();
    let mut flags = BTreeMap::new();
    let mut env = BTreeSet::new();
    fn walk(c: &clap::Command, flags: &mut BTreeMap<String, bool>, env: &mut BTreeSet<String>) {
        for arg in c.get_arguments() {
            if let Some(long) = arg.get_long() {
                flags.insert(long.to_owned(), arg.get_action().takes_values());
            }
            if let Some(var) = arg.get_env() {
                env.insert(var.to_string_lossy().into_owned());
            }
        }
        for sub in c.get_subcommands() {
            walk(sub, flags, env);
        }
    }
    walk(&command, &mut flags, &mut env);
    // Variables read by hand (keys, the client secret) and those of the
    // tests and the benchmark, as their code names them.
    for dir in ["src", "tests/api", "benches", "scripts"] {
        for file in files(&root().join(dir)) {
            // Not this file's own examples of mistakes.
            if file.ends_with("tests/api/docs.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            env.extend(wharf_variables(&text));
        }
    }
    Accepted {
        flags,
        env,
        command,
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Every `WHARF_…` name in `text`.
fn wharf_variables(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("WHARF_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        out.push(name.trim_end_matches('_').to_owned());
    }
    out
}

/// A Markdown file cut into its code (fenced blocks, line by line with
/// continuations joined, and inline spans) and its prose.
struct Parts {
    code: Vec<String>,
    prose: String,
    headings: Vec<String>,
}

fn parts(text: &str) -> Parts {
    let (mut code, mut prose, mut headings) = (Vec::new(), String::new(), Vec::new());
    let mut fence = false;
    let mut joined = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
            continue;
        }
        if fence {
            match line.strip_suffix('\\') {
                Some(head) => joined.push_str(head),
                None => {
                    joined.push_str(line);
                    code.push(std::mem::take(&mut joined));
                }
            }
            continue;
        }
        if let Some(h) = line.strip_prefix('#') {
            headings.push(h.trim_start_matches('#').trim().to_owned());
        }
        // Inline spans are code; the rest of the line is prose.
        let mut inside = false;
        for (i, piece) in line.split('`').enumerate() {
            if i > 0 {
                inside = !inside;
            }
            if inside {
                code.push(piece.to_owned());
            } else {
                prose.push_str(piece);
                prose.push(' ');
            }
        }
        prose.push('\n');
    }
    Parts {
        code,
        prose,
        headings,
    }
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(headings: &[String]) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for h in headings {
        let s = slug(h);
        let n = seen.entry(s.clone()).or_insert(0);
        out.insert(if *n == 0 {
            s.clone()
        } else {
            format!("{s}-{n}")
        });
        *n += 1;
    }
    out
}

/// What is wrong in one file: each finding a sentence naming it.
fn findings(file: &Path, text: &str, accepted: &Accepted) -> Vec<String> {
    let name = file.display();
    let mut out = Vec::new();
    let parts = parts(text);
    for var in wharf_variables(text) {
        if !accepted.env.contains(&var) {
            out.push(format!("{name}: {var} is no variable wharf reads"));
        }
    }
    for code in &parts.code {
        // A span that is a flag alone names one of wharf's.
        if let Some(flag) = code.trim().strip_prefix("--") {
            let flag = flag.split(['=', ' ']).next().unwrap_or("");
            if !accepted.flags.contains_key(flag) {
                out.push(format!("{name}: --{flag} is no flag of wharf"));
            }
        }
        for command in code.split(['|', ';', '\n']).flat_map(|c| c.split("&&")) {
            out.extend(
                invocation(command, accepted)
                    .err()
                    .map(|e| format!("{name}: `{}`: {e}", command.trim())),
            );
        }
    }
    // Links and images, relative ones only.
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut rest = parts.prose.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let end = after.find(')').unwrap_or(after.len());
        let target = &after[..end];
        rest = &after[end..];
        if target.contains(char::is_whitespace) {
            let shown: String = target.split_whitespace().collect::<Vec<_>>().join(" ");
            out.push(format!(
                "{name}: the link ({shown}) is cut by a line break or a space"
            ));
            continue;
        }
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
        let linked = if path.is_empty() {
            file.to_path_buf()
        } else {
            dir.join(path)
        };
        if !linked.exists() {
            out.push(format!("{name}: {target} points at no file"));
            continue;
        }
        if !anchor.is_empty() {
            let headings = parts_of(&linked).headings;
            if !anchors(&headings).contains(anchor) {
                out.push(format!("{name}: {target}: no heading #{anchor} there"));
            }
        }
    }
    out
}

fn parts_of(file: &Path) -> Parts {
    parts(&std::fs::read_to_string(file).unwrap_or_default())
}

/// Checks one shell command: if it runs wharf, each flag must be wharf's
/// and each word before the arguments a subcommand it has.
fn invocation(command: &str, accepted: &Accepted) -> Result<(), String> {
    let words: Vec<String> = command
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c| matches!(c, '[' | ']' | '(' | ')' | '"' | '\''))
                .to_owned()
        })
        .collect();
    // `wharf …`, `…/wharf …`, `cargo run --release -- …`; not the user of
    // `sudo -u wharf`.
    let start = words.iter().enumerate().find_map(|(i, w)| {
        let program = w == "wharf"
            || (w.ends_with("/wharf")
                && (w.contains("bin/") || w.contains("target/") || w.starts_with("./")));
        let runs = program && !(i > 0 && words[i - 1] == "-u") && words.get(i + 1).is_some();
        let cargo = w == "--" && i >= 2 && words[..i].iter().any(|w| w == "run");
        (runs || cargo).then_some(i + 1)
    });
    let Some(start) = start else { return Ok(()) };
    let mut at = &accepted.command;
    let mut args = words[start..].iter();
    let mut leaf = at.get_subcommands().next().is_none();
    while let Some(word) = args.next() {
        if let Some(flag) = word.strip_prefix("--") {
            let (flag, inline) = match flag.split_once('=') {
                Some((f, _)) => (f, true),
                None => (flag, false),
            };
            match accepted.flags.get(flag) {
                None => return Err(format!("--{flag} is no flag of wharf")),
                Some(true) if !inline => {
                    args.next();
                }
                Some(_) => {}
            }
        } else if word.starts_with('-') || leaf || word.is_empty() {
            continue;
        } else if word.starts_with('<') || word.chars().all(|c| c.is_ascii_uppercase()) {
            // A placeholder stands for a subcommand or an argument.
            leaf = true;
        } else {
            match at.find_subcommand(word) {
                Some(sub) => {
                    at = sub;
                    leaf = at.get_subcommands().next().is_none();
                }
                None => return Err(format!("wharf has no subcommand {word}")),
            }
        }
    }
    Ok(())
}

fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md")];
    let mut guides: Vec<PathBuf> = files(&root().join("docs"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    guides.sort();
    docs.extend(guides);
    docs
}

#[test]
fn the_readme_and_the_guides_name_only_what_exists() {
    let accepted = accepted();
    let docs = documents();
    assert!(docs.len() >= 9, "{docs:?}");
    let wrong: Vec<String> = docs
        .iter()
        .flat_map(|f| findings(f, &std::fs::read_to_string(f).unwrap(), &accepted))
        .collect();
    assert!(
        wrong.is_empty(),
        "the docs have drifted:\n{}",
        wrong.join("\n")
    );
    let lines = std::fs::read_to_string(root().join("README.md"))
        .unwrap()
        .lines()
        .count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines; guides go in docs/"
    );
}

/// The check finds what it is for: a flag, a variable and a subcommand
/// wharf does not have, a missing file, heading and image.
#[test]
fn the_drift_check_catches_each_kind_of_mistake() {
    let accepted = accepted();
    let readme = root().join("README.md");
    let text = "Run `wharf serve --listen 127.0.0.1:9 --no-such-flag`, or\n\
        ```sh\nwharf --data-dir /d user remove bob\nsudo -u wharf wharf keys generate --out /k\n```\n\
        set `WHARF_NO_SUCH_VARIABLE`, see `--public-urls`,\n\
        [a guide](docs/nowhere.md), [a heading](docs/sso.md#no-such-heading),\n\
        ![a picture](docs/missing.png) and [this](#wharf),\n\
        [cut](docs/sso.md#open-\nid).\n";
    let found = findings(&readme, text, &accepted).join("\n");
    for expected in [
        "--no-such-flag is no flag of wharf",
        "wharf has no subcommand remove",
        "WHARF_NO_SUCH_VARIABLE is no variable",
        "--public-urls is no flag of wharf",
        "docs/nowhere.md points at no file",
        "no heading #no-such-heading",
        "docs/missing.png points at no file",
        "(docs/sso.md#open- id) is cut by a line break",
    ] {
        assert!(found.contains(expected), "{expected}\nin:\n{found}");
    }
    // What is right is not reported.
    for fine in [
        "no subcommand keys",
        "no subcommand generate",
        "#wharf",
        "--listen is no flag",
        "--out is no flag",
        "--data-dir is no flag",
    ] {
        assert!(!found.contains(fine), "{fine}\nin:\n{found}");
    }
}
