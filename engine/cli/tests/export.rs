//! The knowledge-base site renders in headless Chromium, with no network fetch.

use std::path::Path;
use std::process::Command;

use vmtriage_rules::RulePack;

fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium is installed by corpus/build (corpus/lib/setup-host.sh)")
}

#[test]
fn site_renders_in_headless_chromium() {
    let (pack, diags) = RulePack::embedded();
    assert!(diags.is_empty());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kb-site");
    let _ = std::fs::remove_dir_all(&dir);
    let n = vmtriage_cli::export::export_html(&pack, &dir).unwrap();
    assert_eq!(n, pack.rules.len() + 1);
    // Self-contained: nothing that would make the browser fetch anything.
    for e in std::fs::read_dir(&dir).unwrap() {
        let html = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for tag in ["<script", "<link", "<img", "<iframe", "@import", "url("] {
            assert!(!html.contains(tag), "{tag} in the site");
        }
    }
    let profile = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kb-profile");
    let index = format!("file://{}", dir.join("index.html").display());
    let dom = chromium(&["--dump-dom", &index], &profile);
    let dom = String::from_utf8_lossy(&dom.stdout);
    for r in &pack.rules {
        assert!(dom.contains(&r.doc.id), "index lacks {}", r.doc.id);
    }
    // What each rule needs, and each root of the model, from the declarations.
    assert!(dom.contains("needs log") && dom.contains("needs dump"));
    assert!(dom.contains(
        "<td><code>dmesg</code></td><td><code>list&lt;record&gt;</code></td><td>log</td>"
    ));
    let page = format!("file://{}", dir.join("LOCK-0001.html").display());
    let dom = chromium(&["--dump-dom", &page], &profile);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("Mass exit contending on tasklist_lock"));
    assert!(dom.contains("min_dying"), "params table");
    assert!(dom.contains("tasklist-exit-storm"), "corpus scenarios");
    assert!(dom.contains("needs: dump"), "what the rule needs");
    // A knowledge-base v2 article: the RCU stall, its parameter, its scenario.
    let rcu = format!("file://{}", dir.join("SCHED-0003.html").display());
    let rcu = chromium(&["--dump-dom", &rcu], &profile);
    let rcu = String::from_utf8_lossy(&rcu.stdout);
    assert!(rcu.contains("RCU grace period stalled"));
    assert!(rcu.contains("starved_after"), "params table");
    assert!(rcu.contains("rcu-stall"), "corpus scenarios");
    let lockup = format!("file://{}", dir.join("SCHED-0001.html").display());
    let lockup = chromium(&["--dump-dom", &lockup], &profile);
    assert!(String::from_utf8_lossy(&lockup.stdout).contains("needs: log"));
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kb-LOCK-0001.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &[
            "--window-size=1200,1400",
            &format!("--screenshot={}", shot.display()),
            &page,
        ],
        &profile,
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot of {} bytes",
        png.len()
    );
}
