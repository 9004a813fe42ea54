"""Corpus builder: scenarios × kernels → dumps in every format, drgn ground truth, manifest."""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402
from guest import build_initramfs, build_scenario_tools, build_tools, run_kdump_capture, run_qemu_capture  # noqa: E402
from kernels import SERIES, build_module, fetch_kernel  # noqa: E402
from util import BuildError, atomic_dir, hash_inputs, log, run, sha256_file  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent
LIB = CORPUS / "lib"
# The demo set: the smallest set that shows several diagnoses (README's main command).
DEMO = [("tasklist-exit-storm", "6.1"), ("mutex-hung-task", "6.1"), ("idle", "6.1"), ("sysrq-panic", "6.1")]


def load_recipes():
    out = {}
    for d in sorted((CORPUS / "scenarios").iterdir()):
        if (d / "recipe.json").exists():
            out[d.name] = (d, json.loads((d / "recipe.json").read_text()))
    return out


def flattened_length(path: Path):
    """Bytes of a makedumpfile flattened stream written onto a raw disk (to the end record)."""
    with open(path, "rb") as f:
        head = f.read(4096)
        if not head.startswith(b"makedumpfile"):
            raise BuildError(f"{path.name}: no flattened stream on the capture disk")
        pos = 4096
        while True:
            f.seek(pos)
            rec = f.read(16)
            if len(rec) < 16:
                raise BuildError(f"{path.name}: flattened stream has no end record")
            off, size = struct.unpack(">qq", rec)
            pos += 16
            if off == -1:
                return pos
            if size < 0:
                raise BuildError(f"{path.name}: corrupt flattened record at {pos - 16}")
            pos += size


def truth(cache: Path, dump: Path, vmlinux: Path, out: Path):
    r = subprocess.run([str(cache / "venv/bin/python3"), str(LIB / "truth.py"), str(dump), str(vmlinux), str(out)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise BuildError(f"drgn could not read {dump.name}:\n{r.stdout[-3000:]}")


def recipe_dir(cache, name, sdir, recipe, series):
    """Where a recipe's dumps live: keyed by everything that shapes them."""
    release, kdir = fetch_kernel(cache, series)
    module = None
    if recipe.get("module") is True:
        module = build_module(cache, release, CORPUS / "guest/module")
    elif recipe.get("module"):
        # A module of its own (`"module": "faults"` builds guest/faults/vmtriage_faults.ko);
        # the guest finds it as /lib/vmt/vmtriage_scen.ko whatever its name.
        module = build_module(cache, release, CORPUS / "guest" / recipe["module"], f"vmtriage_{recipe['module']}")
    # Only what shapes the dumps: editing an `expect` file or the README
    # must not throw away twenty captures.
    g = CORPUS / "guest"
    inputs = [sdir / "guest.sh", json.dumps(recipe, sort_keys=True), g / "init", g / "capture.sh",
              g / "tools", LIB / "guest.py", LIB / "truth.py", LIB / "checks.py", release, series,
              module.read_bytes() if module else b""]
    if (sdir / "check.py").exists():
        inputs.append(sdir / "check.py")
    # A scenario's own tools are keyed only where they are used.
    for src in recipe.get("tools", []):
        if not (sdir / src).is_file():
            raise BuildError(f"{name}: recipe names tool {src!r}, not found beside it")
        inputs.append(sdir / src)
    key = hash_inputs(*inputs)
    return release, kdir, module, cache / "dumps" / f"{name}.{series}.{key}"


def build_one(cache, name, sdir, recipe, series, tools, force=False):
    release, kdir, module, out = recipe_dir(cache, name, sdir, recipe, series)
    if (out / "entries.json").exists() and not force:
        return json.loads((out / "entries.json").read_text())
    last = None
    attempts = int(os.environ.get("VMTRIAGE_CORPUS_ATTEMPTS", "2"))
    for attempt in range(1, attempts + 1):
        log(f"{name} on {release}: attempt {attempt}")
        try:
            with atomic_dir(out) as tmp:
                entries = _capture(cache, name, sdir, recipe, series, release, kdir, tools, module, tmp, out)
                (tmp / "entries.json").write_text(json.dumps(entries, indent=1))
            return entries
        except BuildError as e:
            last = e
            # The next attempt starts from an empty work dir: keep this
            # attempt's console beside it, to read why it failed.
            work = cache / "work" / f"{name}.{series}"
            kept = cache / "work" / f"{name}.{series}.attempt{attempt}.console.log"
            try:
                shutil.copy(work / "console.log", kept)
            except OSError:
                kept = work / "console.log"
            log(f"{name} on {release}: attempt {attempt} failed: {str(e).splitlines()[0]}"
                f" (console: {kept})")
    raise BuildError(f"scenario {name} on {release} failed {attempts} times:\n{last}")


def _capture(cache, name, sdir, recipe, series, release, kdir, tools, module, tmp, final):
    # Outside the atomic dir so a failed attempt leaves its console log to read.
    work = cache / "work" / f"{name}.{series}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    kdump = recipe["capture"] == "kdump"
    own = build_scenario_tools(cache, sdir, recipe.get("tools", []))
    initrd = build_initramfs(work, kdir, sdir, tools, module, kdump, own)
    base = f"{name}.{series}"
    common = {"scenario": name, "kernel_series": series, "release": release,
              "vcpus": recipe["vcpus"], "ram_mb": recipe["ram_mb"],
              "paging_levels": 5 if series in recipe.get("la57", []) else 4,
              "capture": recipe["capture"], "vmlinux": str(kdir / "vmlinux")}
    entries = []
    t0 = time.time()
    if not kdump:
        elf, flat = tmp / f"{base}.qemu.elf", tmp / f"{base}.qemu-zlib.flat"
        run_qemu_capture(kdir, initrd, recipe, series, work, elf, flat)
        kd = tmp / f"{base}.qemu-zlib.kdump"
        with open(flat, "rb") as fin:
            run(["makedumpfile", "-R", str(kd)], stdin=fin, capture=True)
        files = [(elf, "elf", "none", 0), (flat, "flattened", "zlib", 0), (kd, "kdump", "zlib", 0)]
        truth_src = elf
    else:
        vda, vdb = run_kdump_capture(kdir, initrd, recipe, series, work)
        flat = tmp / f"{base}.kdump-lzo.flat"
        n = flattened_length(vda)
        with open(vda, "rb") as fin, open(flat, "wb") as fout:
            left = n
            while left:
                b = fin.read(min(left, 1 << 22))
                fout.write(b)
                left -= len(b)
        lzo = tmp / f"{base}.kdump-lzo.kdump"
        with open(flat, "rb") as fin:
            run(["makedumpfile", "-R", str(lzo)], stdin=fin, capture=True)
        elf = tmp / f"{base}.kdump.elf"
        with open(vdb, "rb") as fin:
            run(["makedumpfile", "-R", str(elf)], stdin=fin, capture=True)
        zl = tmp / f"{base}.kdump-zlib.kdump"
        run(["makedumpfile", "-c", "-d", "31", str(elf), str(zl)], capture=True)
        files = [(lzo, "kdump", "lzo", 31), (zl, "kdump", "zlib", 31), (elf, "elf", "none", 31),
                 (flat, "flattened", "lzo", 31)]
        truth_src = elf
    log(f"{base}: captured in {time.time() - t0:.0f}s; reading it with drgn")
    tpath = tmp / f"{base}.truth.json"
    truth(cache, truth_src, kdir / "vmlinux", tpath)
    t = json.loads(tpath.read_text())
    problems = checks.check(name, t, recipe) + scenario_check(sdir, t, recipe)
    if problems:
        raise BuildError(f"{base}: the dump does not show the scenario's state: " + "; ".join(problems))
    shutil.copy(work / "console.log", tmp / f"{base}.console.log")
    shutil.rmtree(work)
    for path, fmt, comp, level in files:
        entries.append(dict(common, path=str(final / path.name), format=fmt, compression=comp, dump_level=level,
                            size=path.stat().st_size, sha256=sha256_file(path),
                            truth=str(final / tpath.name), truth_from=truth_src.name))
    return entries


def scenario_check(sdir, t, recipe):
    """The scenario's own check (`check.py` beside its recipe), for scenarios
    that keep it there rather than in lib/checks.py: `LOG_SHOWS` and
    `LOG_NEVER`, lists of (pattern, problem) a log record must or must not
    match, and a function `check(truth, recipe)` returning problems, for
    what the log alone does not tell; each is optional."""
    path = sdir / "check.py"
    if not path.exists():
        return []
    import importlib.util
    from checks import log_has
    spec = importlib.util.spec_from_file_location(f"check_{sdir.name.replace('-', '_')}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    p = [why for pattern, why in getattr(mod, "LOG_SHOWS", ()) if not log_has(t, pattern)]
    p += [why for pattern, why in getattr(mod, "LOG_NEVER", ()) if log_has(t, pattern)]
    if hasattr(mod, "check"):
        p += list(mod.check(t, recipe))
    return p


def probe_kdump_files(cache, entries):
    """Records drgn's verdict on each kdump-compressed file of a kdump capture
    (`drgn_reading`); the flattened stream shares its reassembled twin's.
    Returns whether anything was added."""
    changed = False
    by_name = {Path(e["path"]).name: e for e in entries}
    for e in entries:
        if e["capture"] != "kdump" or "drgn_reading" in e:
            continue
        if e["format"] == "elf":
            e["drgn_reading"] = "ok"
        elif e["format"] == "kdump":
            r = subprocess.run([str(cache / "venv/bin/python3"), str(LIB / "probe.py"), e["path"], e["vmlinux"]],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            e["drgn_reading"] = (r.stdout.strip().splitlines() or ["error: no output"])[-1]
            if e["drgn_reading"].startswith("ok"):
                e["drgn_reading"] = "ok"
        else:
            continue
        changed = True
    for e in entries:
        if e["capture"] == "kdump" and e["format"] == "flattened" and "drgn_reading" not in e:
            twin = by_name.get(Path(e["path"]).name.replace(".flat", ".kdump"), {})
            if "drgn_reading" in twin:
                e["drgn_reading"] = twin["drgn_reading"]
                changed = True
    return changed


def add_reading(cache, entries, script, field, suffix):
    """A drgn reading of each ELF dump by `script` (`field`, written beside
    the dump as `*.{suffix}.json`), added to dumps that lack it or have an
    older one. Kept out of the dumps' key: a new check reads the dumps
    again, it does not capture them again. Returns whether anything was
    added."""
    changed = False
    from util import hash_inputs
    key = hash_inputs(LIB / script)
    for e in entries:
        if e["format"] != "elf" or (e.get(field) and e.get(field + "_key") == key):
            continue
        out = Path(e["path"]).with_suffix(f".{suffix}.json")
        r = subprocess.run([str(cache / "venv/bin/python3"), str(LIB / script), e["path"], e["vmlinux"],
                            str(out) + ".tmp"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise BuildError(f"reading {e['path']} with drgn ({script}) failed:\n{r.stdout[-2000:]}")
        os.rename(str(out) + ".tmp", out)
        e[field] = str(out)
        e[field + "_key"] = key
        changed = True
    return changed


def add_lock_truth(cache, entries):
    """drgn's reading of the locks the tasks of each ELF dump wait for
    (`lock_truth`, see locktruth.py)."""
    return add_reading(cache, entries, "locktruth.py", "lock_truth", "locks")


def add_model_truth(cache, entries):
    """drgn's reading of the model's subsystems (`model_truth`, see
    modeltruth.py)."""
    return add_reading(cache, entries, "modeltruth.py", "model_truth", "model")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True)
    ap.add_argument("--demo", action="store_true", help="only the demo set (README's main command)")
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--kernels", help="comma-separated series (5.10,6.1,6.12)")
    ap.add_argument("--force", action="store_true", help="rebuild even if cached")
    ap.add_argument("--paths", action="store_true",
                    help="print only the selected scenarios' dump paths (one ELF per scenario and kernel), for scanning")
    a = ap.parse_args()
    cache = Path(a.cache)
    recipes = load_recipes()
    jobs = []
    for name, (sdir, r) in recipes.items():
        for series in r["kernels"]:
            jobs.append((name, series))
    if a.demo:
        jobs = [j for j in jobs if j in DEMO]
    if a.only:
        want = set(a.only.split(","))
        unknown = want - set(recipes)
        if unknown:
            raise SystemExit(f"corpus/build: unknown scenario(s): {', '.join(sorted(unknown))}; known: {', '.join(recipes)}")
        jobs = [j for j in jobs if j[0] in want]
    if a.kernels:
        jobs = [j for j in jobs if j[1] in a.kernels.split(",")]
    tools = build_tools(cache)
    entries, failed = [], []
    for name, series in jobs:
        try:
            entries += build_one(cache, name, recipes[name][0], recipes[name][1], series, tools, a.force)
        except BuildError as e:
            log(f"FAILED: {e}")
            failed.append(f"{name} on {series}")
    # The manifest lists every complete, current dump in the cache, not only
    # this run's; dumps of outdated recipes are removed.
    current = set()
    for name, (sdir, r) in recipes.items():
        for series in r["kernels"]:
            current.add(recipe_dir(cache, name, sdir, r, series)[3])
    all_entries = []
    for d in sorted((cache / "dumps").iterdir()):
        if d not in current and not d.name.endswith(".tmp"):
            shutil.rmtree(d, ignore_errors=True)
        elif (d / "entries.json").exists():
            entries = json.loads((d / "entries.json").read_text())
            if probe_kdump_files(cache, entries) | add_lock_truth(cache, entries) | add_model_truth(cache, entries):
                tmpe = d / "entries.json.tmp"
                tmpe.write_text(json.dumps(entries, indent=1))
                os.rename(tmpe, d / "entries.json")
            all_entries += entries
    man = {"version": 1, "dumps": all_entries}
    tmpm = cache / "manifest.json.tmp"
    tmpm.write_text(json.dumps(man, indent=1))
    os.rename(tmpm, cache / "manifest.json")
    if a.paths:
        chosen = {(n, s) for n, s in jobs}
        for e in all_entries:
            if (e["scenario"], e["kernel_series"]) in chosen and e["format"] == "elf":
                print(e["path"])
    else:
        print_summary(all_entries)
    if failed:
        print("corpus/build: scenarios that never reached their state: " + ", ".join(failed), file=sys.stderr)
        sys.exit(1)


def print_summary(entries):
    print(f"{'scenario':22} {'kernel':28} {'format':10} {'compr':5} {'lvl':>3} {'size':>10}  file")
    for e in entries:
        print(f"{e['scenario']:22} {e['release']:28} {e['format']:10} {e['compression']:5} {e['dump_level']:>3} "
              f"{e['size'] / 1e6:9.1f}M  {Path(e['path']).name}")
    print(f"{len(entries)} dumps")


if __name__ == "__main__":
    try:
        main()
    except BuildError as e:
        print(f"corpus/build: error: {e}", file=sys.stderr)
        sys.exit(1)
