//! What an installation ships besides the binary: shell completions for
//! bash, zsh and fish, and a man page per command, generated from the
//! command-line definitions (so they cannot drift from `--help`).

use std::process::Command;

fn vmtriage(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vmtriage"))
        .args(args)
        .output()
        .expect("run vmtriage")
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = vmtriage(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        for word in ["scan", "locks", "debuginfo-dir", "watch"] {
            assert!(text.contains(word), "{shell} completion lacks {word}");
        }
    }
}

#[test]
fn a_man_page_per_command() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("man");
    let _ = std::fs::remove_dir_all(&dir);
    let out = vmtriage(&["man", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    for page in [
        "vmtriage.1",
        "vmtriage-scan.1",
        "vmtriage-rules-test.1",
        "vmtriage-db-merge.1",
    ] {
        let text =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page} is no man page"
        );
    }
    // A directory it cannot write is an error with help, not a panic.
    let out = vmtriage(&["man", "/proc/vmtriage-man"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("help"));
}
