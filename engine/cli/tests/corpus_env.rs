//! corpus/build in a wrong environment: a clear message and a non-zero exit.

use std::path::Path;
use std::process::Command;

fn build() -> Command {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/build"))
}

#[test]
fn not_root() {
    // setpriv (util-linux) drops to nobody without a password or PAM.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/build"))
        .env("VMTRIAGE_CORPUS", "/tmp/vmt-corpus-env-nonroot")
        .output()
        .expect("setpriv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("must run as root"), "{err}");
}

#[test]
fn no_disk_space() {
    if unsafe { libc_geteuid() } != 0 {
        eprintln!("not root: cannot mount a small tmpfs; the not-root test covers this case");
        return;
    }
    let dir = "/tmp/vmt-corpus-env-small";
    std::fs::create_dir_all(dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs", dir])
        .status()
        .unwrap()
        .success();
    assert!(mounted, "mount tmpfs");
    let out = build().env("VMTRIAGE_CORPUS", dir).output().unwrap();
    let _ = Command::new("umount").arg(dir).status();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("not enough disk space") && err.contains("VMTRIAGE_CORPUS"),
        "{err}"
    );
}

#[test]
fn unknown_scenario() {
    let out = build()
        .args(["--only", "no-such-scenario"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("unknown scenario") && err.contains("tasklist-exit-storm"),
        "{err}"
    );
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}
