"""Guest images and QEMU runs: initramfs assembly, boot, markers, QMP dumps."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from util import BuildError, log, run

CORPUS = Path(__file__).resolve().parent.parent
GUEST = CORPUS / "guest"
TOOLS = ["storm", "forkstorm", "eater", "faulter"]


def build_tools(cache: Path):
    """Static guest helpers, built once per source hash."""
    from util import hash_inputs
    key = hash_inputs(GUEST / "tools")
    out = cache / "tools" / key
    if (out / ".complete").exists():
        return out
    tmp = out.with_name(key + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for t in TOOLS:
        run(["gcc", "-O2", "-static", "-pthread", "-o", str(tmp / t), str(GUEST / "tools" / f"{t}.c")], capture=True)
    (tmp / ".complete").write_text("")
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    return out


def build_scenario_tools(cache: Path, scenario_dir: Path, sources: list[str]) -> list[Path]:
    """A scenario's own static helpers (`"tools": ["x.c"]` in its recipe, the
    sources beside it), built once per source hash; installed as /bin/x."""
    from util import hash_inputs
    out = []
    for src in sources:
        path = scenario_dir / src
        if not path.is_file() or not src.endswith(".c") or "/" in src:
            raise BuildError(f"{scenario_dir.name}: tool {src!r} is not a .c file beside the recipe")
        d = cache / "tools" / f"{scenario_dir.name}-{hash_inputs(path)}"
        binary = d / src[:-2]
        if not binary.exists():
            d.mkdir(parents=True, exist_ok=True)
            tmp = d / (binary.name + ".tmp")
            run(["gcc", "-O2", "-static", "-pthread", "-o", str(tmp), str(path)], capture=True)
            os.rename(tmp, binary)
        out.append(binary)
    return out


def _copy_with_libs(binary: str, root: Path):
    """Copies a dynamically linked host binary and the libraries ldd names."""
    path = shutil.which(binary) or binary
    dest = root / path.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, dest)
    out = subprocess.run(["ldd", path], stdout=subprocess.PIPE, text=True).stdout
    for m in re.finditer(r"(/\S+)", out):
        lib = m.group(1)
        if os.path.exists(lib):
            d = root / lib.lstrip("/")
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(lib, d)


def _cpio(root: Path, out: Path):
    r = subprocess.run(f"cd {root} && find . | sort | cpio -o -H newc --quiet | gzip -1 > {out}",
                       shell=True, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise BuildError(f"cpio failed: {r.stderr}")


def build_initramfs(workdir: Path, kdir: Path, scenario_dir: Path, tools: Path, module: Path | None,
                    kdump: bool, own_tools: list[Path] = ()):
    """Returns the initramfs path. For kdump scenarios it embeds vmlinuz and a copy of
    itself (without /boot) as the capture kernel's initrd."""
    root = workdir / "root"
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "sbin", "proc", "sys", "dev", "tmp", "lib/vmt", "boot", "etc"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy("/bin/busybox", root / "bin/busybox")
    for applet in subprocess.run(["/bin/busybox", "--list"], stdout=subprocess.PIPE, text=True).stdout.split():
        link = root / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    shutil.copy(GUEST / "init", root / "init")
    os.chmod(root / "init", 0o755)
    shutil.copy(GUEST / "capture.sh", root / "lib/vmt/capture.sh")
    shutil.copy(scenario_dir / "guest.sh", root / "scenario.sh")
    for ko in (kdir / "modules").glob("*.ko"):
        shutil.copy(ko, root / "lib/vmt" / ko.name)
    shutil.copy(kdir / "modules" / "order", root / "lib/vmt/order")
    for t in TOOLS:
        shutil.copy(tools / t, root / "bin" / t)
    for t in own_tools:
        shutil.copy(t, root / "bin" / t.name)
    if module:
        shutil.copy(module, root / "lib/vmt/vmtriage_scen.ko")
    if kdump:
        for b in ("kexec", "makedumpfile"):
            _copy_with_libs(b, root)
        for b in ("kexec", "makedumpfile"):  # busybox has no applet of these names; link into PATH
            p = shutil.which(b)
            if p and not (root / "sbin" / b).exists():
                (root / "sbin" / b).symlink_to(p)
        capture = workdir / "capture-initrd.gz"
        _cpio(root, capture)
        shutil.copy(kdir / "vmlinuz", root / "boot/vmlinuz")
        shutil.copy(capture, root / "boot/initrd")
    out = workdir / "initrd.gz"
    _cpio(root, out)
    shutil.rmtree(root)
    return out


class Qmp:
    def __init__(self, path: Path, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(str(path))
                break
            except OSError:
                if time.time() > deadline:
                    raise BuildError("QEMU's QMP socket never appeared")
                time.sleep(0.1)
        self.f = self.s.makefile("rw")
        self._read()
        self.cmd("qmp_capabilities")

    def _read(self):
        while True:
            line = self.f.readline()
            if not line:
                raise BuildError("QMP connection closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, name, timeout=600, **args):
        self.s.settimeout(timeout)
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        r = self._read()
        if "error" in r:
            raise BuildError(f"QMP {name}: {r['error']}")
        return r.get("return")


def qemu_cmd(kdir, initrd, r, kernel_series, workdir, disks=()):
    la57 = kernel_series in r.get("la57", [])
    cpu = "max" if la57 else "max,la57=off"
    append = "console=ttyS0 loglevel=6 " + r.get("cmdline", "")
    if r["capture"] == "kdump":
        append += " crashkernel=256M"
    cmd = ["qemu-system-x86_64", "-machine", "q35,accel=tcg", "-cpu", cpu,
           "-smp", str(r["vcpus"]), "-m", str(r["ram_mb"]),
           "-kernel", str(kdir / "vmlinuz"), "-initrd", str(initrd), "-append", append,
           "-display", "none", "-monitor", "none", "-serial", f"file:{workdir}/console.log",
           "-qmp", f"unix:{workdir}/qmp.sock,server=on,wait=off",
           "-device", "vmcoreinfo", "-no-reboot", "-nic", "none"]
    for d in disks:
        cmd += ["-drive", f"file={d},format=raw,if=virtio"]
    return cmd


def wait_markers(proc, console: Path, markers, timeout):
    """Waits until each marker regex has appeared in order on the console.
    Fails early on a panic or on QEMU exiting."""
    deadline = time.time() + timeout
    idx = 0
    while True:
        text = console.read_text(errors="replace") if console.exists() else ""
        pos = 0
        idx = 0
        for m in markers:
            mm = re.search(m, text[pos:])
            if not mm:
                break
            pos += mm.end()
            idx += 1
        if idx == len(markers):
            return text
        if "VMTRIAGE-FAILED" in text:
            raise BuildError("the guest reported: " + re.search(r"VMTRIAGE-FAILED.*", text).group(0))
        if re.search(r"Kernel panic - not syncing", text):
            raise BuildError("the guest panicked before reaching its state:\n" + _tail(text))
        if proc.poll() is not None:
            raise BuildError(f"QEMU exited ({proc.returncode}) before marker {markers[idx]!r}:\n" + _tail(text))
        if time.time() > deadline:
            raise BuildError(f"the guest never reached marker {markers[idx]!r} within {timeout}s:\n" + _tail(text))
        time.sleep(0.5)


def _tail(text, n=25):
    return "\n".join(text.splitlines()[-n:])


def run_qemu_capture(kdir, initrd, r, series, workdir: Path, out_elf: Path, out_flat: Path):
    """Boots, waits for the scenario's state, stops the guest and dumps it twice
    (ELF and QEMU's kdump-zlib, a flattened stream) while it is stopped."""
    proc = subprocess.Popen(qemu_cmd(kdir, initrd, r, series, workdir),
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "qemu.err", "w"))
    try:
        wait_markers(proc, workdir / "console.log", r["ready"], r.get("timeout_s", 90))
        q = Qmp(workdir / "qmp.sock")
        q.cmd("stop")
        q.cmd("dump-guest-memory", paging=False, protocol=f"file:{out_elf}")
        q.cmd("dump-guest-memory", paging=False, protocol=f"file:{out_flat}", format="kdump-zlib")
        q.cmd("quit")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run_kdump_capture(kdir, initrd, r, series, workdir: Path):
    """Boots, lets the scenario crash the kernel; the capture kernel writes a
    flattened lzo kdump to vda and a flattened ELF to vdb, then powers off."""
    disks = []
    for name in ("vda.img", "vdb.img"):
        d = workdir / name
        with open(d, "wb") as f:
            f.truncate(768 << 20)
        disks.append(d)
    proc = subprocess.Popen(qemu_cmd(kdir, initrd, r, series, workdir, disks),
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "qemu.err", "w"))
    console = workdir / "console.log"
    try:
        deadline = time.time() + r.get("timeout_s", 150)
        while proc.poll() is None:
            if time.time() > deadline:
                raise BuildError("kdump capture did not finish in time:\n" + _tail(console.read_text(errors="replace")))
            text = console.read_text(errors="replace") if console.exists() else ""
            if "VMTRIAGE-FAILED" in text:
                raise BuildError("the guest reported: " + re.search(r"VMTRIAGE-FAILED.*", text).group(0))
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = console.read_text(errors="replace")
    for m in ("VMTRIAGE-KDUMP-ARMED", "VMTRIAGE-CAPTURE-KERNEL", "VMTRIAGE-WROTE lzo", "VMTRIAGE-WROTE elf"):
        if m not in text:
            raise BuildError(f"kdump capture incomplete: no {m!r} on the console:\n" + _tail(text))
    return disks
