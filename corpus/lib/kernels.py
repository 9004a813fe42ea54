"""Fetch Debian kernels (cloud and PREEMPT_RT flavours) by package name and keep only what the corpus needs."""
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from util import BuildError, atomic_dir, log, run

# Series we test on: (series, the Debian suite that carries it). A series
# ending in -rt is the PREEMPT_RT flavour (linux-image-rt-amd64) of its
# version, where spinlocks, rwlocks, mutexes and rwsems are rtmutex-based.
SERIES = {
    "5.10": "bullseye",
    "6.1": "bookworm",
    "6.12": "trixie",
    "6.1-rt": "bookworm",
    "6.12-rt": "trixie",
}


def flavour(series):
    """Debian's kernel flavour of a series: cloud (small, virtio built for it) or rt."""
    return "rt" if series.endswith("-rt") else "cloud"


def version_of(series):
    return series.split("-")[0]

# Modules the guests load: fw_cfg carries VMCOREINFO to QEMU's dumps; virtio for the kdump disks.
# In load order; (name, required). The *_dev helpers were split out of virtio_pci in 5.14.
GUEST_MODULES = [
    ("qemu_fw_cfg", True),
    ("virtio_ring", True), ("virtio", True), ("virtio_pci_modern_dev", False),
    ("virtio_pci_legacy_dev", False), ("virtio_pci", True), ("virtio_blk", True),
]
# Modules a scenario loads itself (from /lib/vmt) when the kernel has them as
# modules; not loaded at boot, so the other guests' module lists stay as they were.
SCENARIO_MODULES = ["fuse"]


def _madison(pkg):
    out = run(["apt-cache", "madison", pkg], capture=True)
    rows = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 3:
            rows.append((parts[1], parts[2]))
    return rows


def _vkey(v):
    return [int(x) if x.isdigit() else x for x in re.split(r"[.\-+~]", v)]


_resolved = {}


def candidate_releases(series, cache: Path = None):
    """Memoised per run, and on disk while apt's package lists are unchanged
    (each apt-cache call takes a second or two)."""
    if series in _resolved:
        return _resolved[series]
    lists = Path("/var/lib/apt/lists")
    stamp = max((p.stat().st_mtime for p in lists.glob("*Packages*")), default=0)
    memo = cache / "kernels" / f"resolved-{series}.json" if cache else None
    if memo and memo.exists():
        import json
        m = json.loads(memo.read_text())
        if m.get("stamp") == stamp:
            _resolved[series] = m["releases"]
            return m["releases"]
    rel = _candidate_releases(series)
    if memo:
        import json
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(json.dumps({"stamp": stamp, "releases": rel}))
    _resolved[series] = rel
    return rel


def _candidate_releases(series):
    """ABIs of a series named by the linux-image-FLAVOUR-amd64 meta packages, newest first.

    The newest is the current one; older ones are fallbacks for when the archive
    lacks a -dbg package (bullseye-security's LTS kernels have none)."""
    meta = f"linux-image-{flavour(series)}-amd64"
    rows = sorted({v for v, _ in _madison(meta) if v.startswith(version_of(series) + ".")},
                  key=_vkey, reverse=True)
    if not rows:
        raise BuildError(f"no {meta} for {series} in the apt sources "
                         f"(is the {SERIES[series]} suite configured? see corpus/lib/apt/)")
    return [_release_of(v, series) for v in rows]


def _release_of(ver, series):
    meta = f"linux-image-{flavour(series)}-amd64"
    show = run(["apt-cache", "show", f"{meta}={ver}"], capture=True)
    m = re.search(rf"^Depends:.*?linux-image-(\S+-{flavour(series)}-amd64)", show, re.M)
    if not m:
        raise BuildError(f"cannot read the ABI from {meta}={ver}")
    return m.group(1)


def _download(pkgs, dest):
    r = subprocess.run(["apt-get", "download", "-q"] + pkgs, cwd=dest,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise BuildError("apt-get download failed for " + " ".join(pkgs) + ":\n" + r.stdout[-2000:]
                         + "\nA package missing from the archive? Run apt-get update and retry.")


def _extract(deb, dest, members=None):
    """dpkg-deb --fsys-tarfile | tar -x [members]"""
    cmd = f"dpkg-deb --fsys-tarfile {deb} | tar -x -C {dest} --wildcards " + " ".join(
        f"'{m}'" for m in (members or []))
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise BuildError(f"extracting {deb} failed: {r.stderr[-500:]}")


def fetch_kernel(cache: Path, series: str):
    """Returns (release, kernel directory holding vmlinuz, vmlinux, System.map, config, modules/)."""
    errors = []
    for release in candidate_releases(series, cache):
        bad = cache / "kernels" / f"{release}.unusable"
        if bad.exists():
            errors.append(bad.read_text())
            continue
        try:
            return release, _fetch_release(cache, series, release)
        except BuildError as e:
            errors.append(str(e))
            if "404" in str(e) or "not found in linux-image" in str(e):  # definitive, not a network hiccup
                bad.parent.mkdir(parents=True, exist_ok=True)
                bad.write_text(f"{release}: {e}")
            log(f"kernel {release} not usable, trying an older ABI: {str(e).splitlines()[0]}")
    raise BuildError(f"no usable {series} kernel:\n" + "\n".join(errors))


def _fetch_release(cache, series, release):
    kdir = cache / "kernels" / release
    if (kdir / ".complete").exists():
        _add_scenario_modules(cache, release, kdir)
        return kdir
    log(f"fetching kernel {release} ({SERIES[series]})")
    with atomic_dir(kdir) as tmp, tempfile.TemporaryDirectory(dir=cache) as dl:
        dl = Path(dl)
        _download([f"linux-image-{release}", f"linux-image-{release}-dbg"], dl)
        debs = {p.name: p for p in dl.glob("*.deb")}
        img = next(p for n, p in debs.items() if n.startswith(f"linux-image-{release}_"))
        dbg = next(p for n, p in debs.items() if n.startswith(f"linux-image-{release}-dbg_"))
        x = dl / "x"
        x.mkdir()
        _extract(img, x)
        _extract(dbg, x, ["./usr/lib/debug/boot/*"])
        shutil.move(str(x / "boot" / f"vmlinuz-{release}"), tmp / "vmlinuz")
        # The image's System.map is a placeholder; the real one is in -dbg.
        dbgboot = x / "usr/lib/debug/boot"
        smap = next(dbgboot.glob("System.map*"), None) or (x / "boot" / f"System.map-{release}")
        shutil.move(str(smap), tmp / "System.map")
        shutil.move(str(x / "boot" / f"config-{release}"), tmp / "config")
        shutil.move(str(x / "usr/lib/debug/boot" / f"vmlinux-{release}"), tmp / "vmlinux")
        moddir = None
        for base in ("lib/modules", "usr/lib/modules"):
            if (x / base / release).exists():
                moddir = x / base / release
        if moddir is None:
            raise BuildError(f"no modules directory in linux-image-{release}")
        (tmp / "modules").mkdir()
        order = [name for name, required in GUEST_MODULES if _copy_module(moddir, name, required, release, tmp / "modules")]
        (tmp / "modules" / "order").write_text("\n".join(order) + "\n")
        for name in SCENARIO_MODULES:
            _copy_module(moddir, name, False, release, tmp / "modules")
        (tmp / "modules" / "scenario-modules").write_text(" ".join(SCENARIO_MODULES) + "\n")
        (tmp / "release").write_text(release + "\n")
        (tmp / ".complete").write_text("")
    return kdir


def _copy_module(moddir: Path, name: str, required: bool, release: str, dest: Path) -> bool:
    """Copies module `name` (decompressed) into dest; False when the kernel
    has it built in or, if not required, lacks it."""
    found = [p for p in moddir.rglob("*.ko*") if re.sub(r"\.ko(\.xz|\.zst)?$", "", p.name).replace("-", "_") == name]
    builtin = (moddir / "modules.builtin")
    if not found and builtin.exists() and re.search(
            rf"/{name.replace('_', '[_-]')}\.ko$", builtin.read_text(), re.M):
        return False  # built into this kernel
    if not found:
        if required:
            raise BuildError(f"module {name} not found in linux-image-{release}")
        return False
    p = found[0]
    if p.name.endswith(".ko.xz"):
        run(["xz", "-dk", str(p)])
        p = p.with_suffix("")
    elif p.name.endswith(".ko.zst"):
        run(["zstd", "-qd", str(p)])
        p = p.with_suffix("")
    shutil.copy(p, dest / f"{name}.ko")
    return True


def _add_scenario_modules(cache: Path, release: str, kdir: Path):
    """A kernel directory fetched before SCENARIO_MODULES grew gets the new
    ones from its image package, in place (the headers and scenario modules
    built inside it stay, and with them the corpus's keys)."""
    marker = kdir / "modules" / "scenario-modules"
    want = " ".join(SCENARIO_MODULES)
    if marker.exists() and marker.read_text().strip() == want:
        return
    log(f"adding modules {want} to kernel {release}")
    with tempfile.TemporaryDirectory(dir=cache) as dl:
        dl = Path(dl)
        _download([f"linux-image-{release}"], dl)
        img = next(p for p in dl.glob("*.deb") if p.name.startswith(f"linux-image-{release}_"))
        x = dl / "x"
        x.mkdir()
        _extract(img, x)
        moddir = next((x / b / release for b in ("lib/modules", "usr/lib/modules") if (x / b / release).exists()), None)
        if moddir is None:
            raise BuildError(f"no modules directory in linux-image-{release}")
        for name in SCENARIO_MODULES:
            _copy_module(moddir, name, False, release, kdir / "modules")
    marker.write_text(want + "\n")


def fetch_headers(cache: Path, release: str):
    """Extracts linux-headers-RELEASE (+ its -common and linux-kbuild) for module builds.

    Extracted, not installed: the 5.10 and 6.12 packages depend on compilers and
    libraries of other suites that must not land on the host."""
    hdir = cache / "kernels" / release / "headers"
    if (hdir / ".complete").exists():
        return hdir / "usr/src" / f"linux-headers-{release}"
    log(f"fetching headers for {release}")
    show = run(["apt-cache", "show", f"linux-headers-{release}"], capture=True)
    dep = re.search(r"^Depends: (.*)$", show, re.M).group(1)
    pkgs = [f"linux-headers-{release}"] + re.findall(r"(linux-(?:headers|kbuild)-[^\s,(]+)", dep)
    with atomic_dir(hdir) as tmp, tempfile.TemporaryDirectory(dir=cache) as dl:
        _download(pkgs, Path(dl))
        for deb in Path(dl).glob("*.deb"):
            run(["dpkg-deb", "-x", str(deb), str(tmp)])
        _make_host_tools_runnable(cache, tmp, hdir)
        mk = tmp / "usr/src" / f"linux-headers-{release}" / "Makefile"
        mk.write_text(mk.read_text().replace("include /usr/src/", f"include {hdir}/usr/src/"))
        (tmp / ".complete").write_text("")
    return hdir / "usr/src" / f"linux-headers-{release}"


def build_module(cache: Path, release: str, src: Path, name: str = "vmtriage_scen"):
    """Builds a scenario module (`name`.ko from the sources in `src`) for one
    kernel with the host's gcc; returns the .ko path."""
    hdr = fetch_headers(cache, release)
    from util import hash_inputs
    key = hash_inputs(src, release)
    out = cache / "kernels" / release / f"{name}-{key}.ko"
    if out.exists():
        return out
    with tempfile.TemporaryDirectory(dir=cache) as b:
        for f in src.iterdir():
            shutil.copy(f, b)
        r = subprocess.run(["make", "-C", str(hdr), f"M={b}", f"CC={Path(__file__).resolve().parent / 'gcc-compat'}",
                            "CONFIG_DEBUG_INFO_BTF_MODULES=", "modules"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0 or not (Path(b) / f"{name}.ko").exists():
            raise BuildError(f"building the scenario module for {release} failed:\n{r.stdout[-3000:]}")
        shutil.copy(Path(b) / f"{name}.ko", str(out) + ".tmp")
        os.rename(str(out) + ".tmp", out)
    return out


def _needs_newer_glibc(exe: Path):
    r = subprocess.run([str(exe), "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return "GLIBC_" in r.stderr and "not found" in r.stderr


def _make_host_tools_runnable(cache: Path, root: Path, final: Path):
    """trixie's kbuild tools (fixdep, modpost, objtool) need glibc 2.38+. Run them
    through trixie's own loader and libraries, extracted beside them, rather than
    upgrading the host's glibc."""
    exes = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and os.access(p, os.X_OK)
            and p.read_bytes()[:4] == b"\x7fELF"]
    if not any(_needs_newer_glibc(p) for p in exes):
        return
    rt = root / "trixie-runtime"
    rt.mkdir()
    with tempfile.TemporaryDirectory(dir=cache) as dl:
        _download([f"{p}/trixie" for p in ("libc6", "libelf1t64", "zlib1g", "libzstd1")], Path(dl))
        for deb in Path(dl).glob("*.deb"):
            run(["dpkg-deb", "-x", str(deb), str(rt)])
    loader = rt / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    if not loader.exists():
        loader = next(rt.rglob("ld-linux-x86-64.so.2"))
    libs = ":".join(str(d) for d in {p.parent for p in rt.rglob("*.so*")})
    # The wrappers name the directory as it will be once renamed into place.
    libs = libs.replace(str(root), str(final))
    loader = str(loader).replace(str(root), str(final))
    for exe in exes:
        real = exe.with_name(exe.name + ".real")
        exe.rename(real)
        realpath = str(real).replace(str(root), str(final))
        exe.write_text(f'#!/bin/sh\nexec {loader} --argv0 "$0" --library-path {libs} {realpath} "$@"\n')
        exe.chmod(0o755)
