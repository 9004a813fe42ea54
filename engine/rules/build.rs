//! Embeds the rule pack (`rules/**/*.yaml`, `*.rhai`) so an installed binary works anywhere.
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "yaml" || x == "yml" || x == "rhai")
        {
            out.push(p);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../rules");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut s = String::from("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f.strip_prefix(&root).unwrap().display().to_string();
        s += &format!(
            "    ({:?}, include_str!({:?})),\n",
            format!("rules/{rel}"),
            f.canonicalize().unwrap().display().to_string()
        );
    }
    s += "];\n";
    std::fs::write(
        PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded.rs"),
        s,
    )
    .unwrap();
}
