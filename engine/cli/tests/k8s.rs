//! The Kubernetes recipe (`packaging/k8s/scan-job.yaml`, shown in the
//! README) is a valid manifest: `kubernetes-validate --strict` (PyPI; the
//! schemas of every Kubernetes release, offline) passes it for Kubernetes
//! 1.30, and refuses it with a field Kubernetes does not know, so the check
//! can fail. The validator is installed into a venv under the target
//! directory on first use (python3-venv from apt if the machine lacks it).

use std::path::{Path, PathBuf};
use std::process::Command;

const VALIDATOR: &str = "kubernetes-validate==1.37.0";
const KUBERNETES: &str = "1.30.0";

fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/k8s/scan-job.yaml")
}

fn validator() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("k8s-validate");
    let bin = venv.join("bin/kubernetes-validate");
    if bin.exists() {
        return bin;
    }
    let mk = || {
        Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
    };
    if !mk().is_ok_and(|s| s.success()) {
        // Debian splits ensurepip out of python3.
        let _ = std::fs::remove_dir_all(&venv);
        let ok = Command::new("apt-get")
            .args(["install", "-y", "-qq", "python3-venv"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok && mk().is_ok_and(|s| s.success()),
            "cannot create a venv for {VALIDATOR}"
        );
    }
    let s = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", VALIDATOR])
        .status()
        .expect("run pip");
    assert!(s.success(), "pip install {VALIDATOR} failed");
    bin
}

fn validate(file: &Path) -> (bool, String) {
    let out = Command::new(validator())
        .args(["--strict", "-k", KUBERNETES])
        .arg(file)
        .output()
        .expect("run kubernetes-validate");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn scan_job_manifest_is_valid() {
    let (ok, text) = validate(&manifest());
    assert!(ok && text.contains("passed"), "{text}");
    // A field the Job's pod spec does not have is refused.
    let yaml = std::fs::read_to_string(manifest()).unwrap();
    let bad = yaml.replace(
        "restartPolicy: Never",
        "restartPolicy: Never\n      retryPolicy: Never",
    );
    assert_ne!(bad, yaml);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scan-job-bad.yaml");
    std::fs::write(&path, bad).unwrap();
    let (ok, text) = validate(&path);
    assert!(
        !ok && text.contains("retryPolicy"),
        "an unknown field passed: {text}"
    );
}

#[test]
fn readme_shows_the_manifest() {
    let yaml = std::fs::read_to_string(manifest()).unwrap();
    let body = &yaml[yaml.find("apiVersion:").unwrap()..];
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    assert!(
        readme.contains(body),
        "README's Kubernetes recipe differs from packaging/k8s/scan-job.yaml"
    );
}
