//! The modules of `vmtriage-rules` import one another one way only: each
//! top-level module (a directory such as `builtins/` counts as one) may use
//! the modules of lower layers and no other. Read from the source: every
//! `crate::m` (and `$crate::m`, `crate::{m, …}`, a `super::` climbing to the
//! crate root) outside comments and test-only code is an import of `m`.
//! ARCHITECTURE.md states the same layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first: a module may import only modules of layers
/// below its own. A new module must be placed here.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundations",
        &[
            "diag", "source", "version", "limits", "ty", "model", "evidence",
        ],
    ),
    ("values", &["value"]),
    (
        "functions: the built-ins' registry, the rhai helpers",
        &["builtins", "helpers"],
    ),
    ("rule files", &["rule"]),
    (
        "checker, evaluator, rendering, schema (beside each other)",
        &["check", "eval", "render", "schema"],
    ),
    ("the pack", &["pack"]),
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file below `src/`: `builtins/mod.rs` → [builtins],
/// `builtins/operators.rs` → [builtins, operators]; `lib.rs` → [].
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The files of the modules a file declares test-only (`#[cfg(test)]`
/// then `mod name;`), as paths below `src/` without `.rs`: the module and
/// everything below it.
fn test_only_modules(rel: &Path, text: &str) -> Vec<Vec<String>> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if *l != "#[cfg(test)]" {
            continue;
        }
        let Some(next) = lines[i + 1..].iter().find(|l| !l.is_empty()) else {
            continue;
        };
        let decl = next.strip_prefix("pub ").unwrap_or(next);
        if let Some(name) = decl.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
            let mut p = module_path(rel);
            p.push(name.trim().to_string());
            out.push(p);
        }
    }
    out
}

/// The code of a file without comments and without its inline test
/// modules (`#[cfg(test)]` then `mod name {` … `}` at the start of a line,
/// as rustfmt writes them).
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            let next = lines.peek().map(|l| l.trim()).unwrap_or_default();
            if next.starts_with("mod ") && next.ends_with('{') {
                let indent = lines.peek().map(|l| l.len() - l.trim_start().len());
                lines.next();
                let close = format!("{}}}", " ".repeat(indent.unwrap_or(0)));
                for l in lines.by_ref() {
                    if l == close {
                        break;
                    }
                }
                continue;
            }
        }
        // A `//` outside a string starts a comment (`///` and `//!` too).
        let mut in_str = false;
        let mut prev = ' ';
        let mut end = line.len();
        for (i, c) in line.char_indices() {
            if c == '"' && prev != '\\' {
                in_str = !in_str;
            }
            if !in_str && c == '/' && prev == '/' {
                end = i - 1;
                break;
            }
            prev = c;
        }
        out.push_str(&line[..end]);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn ident(s: &str) -> &str {
    let s = s.trim_start();
    &s[..s.find(|c| !is_ident(c)).unwrap_or(s.len())]
}

/// The crate-level modules a file's code names.
fn imports(modpath: &[String], code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |rest: &str| {
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b}`: the first segment of each item at depth 0.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && is_ident(c) => {
                        out.insert(ident(&group[i..]).to_string());
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let m = ident(rest);
            if !m.is_empty() {
                out.insert(m.to_string());
            }
        }
    };
    let text = code;
    for (i, _) in text.match_indices("crate::") {
        let before = text[..i].chars().next_back();
        if before.is_some_and(is_ident) {
            continue;
        }
        add(&text[i + "crate::".len()..]);
    }
    // `super::super::m` from a file deep enough to reach the crate root.
    for (i, _) in text.match_indices("super::") {
        if text[..i].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        if text[..i].ends_with("super::") {
            continue; // counted from the first `super::` of the chain
        }
        let mut rest = &text[i..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        if ups >= modpath.len() {
            add(rest);
        }
    }
    out
}

/// Module → the crate-level modules it imports (itself left out).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let texts: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(&src).expect("below src").to_path_buf();
            let t = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (rel, t)
        })
        .collect();
    let test_only: Vec<Vec<String>> = texts
        .iter()
        .flat_map(|(rel, t)| test_only_modules(rel, t))
        .collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in &texts {
        let mp = module_path(rel);
        let Some(top) = mp.first() else {
            continue; // lib.rs declares the modules
        };
        if test_only.iter().any(|t| mp.starts_with(t)) {
            continue;
        }
        let deps = g.entry(top.clone()).or_default();
        deps.extend(imports(&mp, &code(text)).into_iter().filter(|d| d != top));
    }
    g
}

/// A cycle of the graph as `a → b → … → a`, if there is one.
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        n: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut c = path[at..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(g, d, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(g, n, &mut Vec::new(), &mut done))
}

fn layer_of(m: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&m))
}

/// The violations of the layers: modules not placed, imports upward or
/// sideways.
fn violations(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for (m, deps) in g {
        let Some(lm) = layer_of(m) else {
            out.push(format!("module `{m}` is in no layer: place it in LAYERS"));
            continue;
        };
        for d in deps {
            match layer_of(d) {
                None if !g.contains_key(d) => {
                    out.push(format!("`{m}` names `crate::{d}`, which is no module"))
                }
                None => {}
                Some(ld) if ld >= lm => out.push(format!(
                    "`{m}` ({}) imports `{d}` ({}): a module may import only lower layers",
                    LAYERS[lm].0, LAYERS[ld].0
                )),
                Some(_) => {}
            }
        }
    }
    out
}

#[test]
fn the_modules_import_each_other_without_a_cycle() {
    let g = graph();
    assert!(g.len() >= 10, "read too few modules: {:?}", g.keys());
    if let Some(c) = find_cycle(&g) {
        panic!("import cycle between modules: {}", c.join(" → "));
    }
}

#[test]
fn the_modules_import_only_lower_layers() {
    let g = graph();
    let v = violations(&g);
    assert!(v.is_empty(), "{}", v.join("\n"));
    // Every layer's module exists (a module removed or renamed is taken
    // out of LAYERS too).
    for (_, ms) in LAYERS {
        for m in *ms {
            assert!(g.contains_key(*m), "LAYERS names `{m}`, no module of src/");
        }
    }
}

#[test]
fn the_reading_of_imports_sees_every_form() {
    let text = "use crate::{a::X, b};\nuse crate::c::Y; // crate::d\n/// [`crate::e`]\nlet x = $crate::f::g;\nfn h() { super::super::i::j(); super::k(); }\n#[cfg(test)]\nmod tests {\n    use crate::l;\n}\nlet s = \"//\"; crate::m::n();\n";
    let found = imports(&["p".into(), "q".into()], &code(text));
    let want: BTreeSet<String> = ["a", "b", "c", "f", "i", "m"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, want);
    // The cycle finder and the layers see a cycle and an upward import.
    let g: BTreeMap<String, BTreeSet<String>> =
        [("eval", &["check"][..]), ("check", &["eval"][..])]
            .iter()
            .map(|(m, ds)| (m.to_string(), ds.iter().map(|d| d.to_string()).collect()))
            .collect();
    assert!(find_cycle(&g).is_some());
    assert_eq!(violations(&g).len(), 2);
}
