import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


class BuildError(Exception):
    pass


T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def run(cmd, capture=False, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None, text=True, **kw)
    if r.returncode != 0:
        err = (r.stderr or "")[-2000:] if capture else ""
        raise BuildError(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{err}")
    return r.stdout if capture else None


@contextlib.contextmanager
def atomic_dir(final: Path):
    """Build into final.tmp, rename to final on success: no half result looks complete."""
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    os.rename(tmp, final)


def sha256_file(path: Path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 22)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def hash_inputs(*items):
    h = hashlib.sha256()
    for it in items:
        if isinstance(it, Path):
            if it.is_dir():
                for p in sorted(it.rglob("*")):
                    if p.is_file():
                        h.update(str(p.relative_to(it)).encode())
                        h.update(p.read_bytes())
            else:
                h.update(it.read_bytes())
        else:
            h.update(repr(it).encode())
    return h.hexdigest()[:16]
