"""Peer observation: does Debian 12's crash 8.0.2 open each corpus dump and list
the right tasks? Prints a markdown table. Not part of the build (slow: ~10 s a dump).

    python3 corpus/lib/crash-peer.py [MANIFEST]
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

cache = Path(os.environ.get("VMTRIAGE_CORPUS", Path.home() / ".cache/vmtriage-corpus"))
man = json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else cache / "manifest.json").read_text())
print("| dump | opens | tasks (crash / truth) | verdict |")
print("|---|---|---|---|")
for e in man["dumps"]:
    truth = json.loads(Path(e["truth"]).read_text())
    want = len(truth["tasks"]) + len(truth["cpus"])  # crash lists each CPU's idle task too
    try:
        r = subprocess.run(["crash", "-s", e["vmlinux"], e["path"]], input="ps\nquit\n", text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out = r.stdout
    except subprocess.TimeoutExpired:
        out, r = "timeout", None
    rows = [l for l in out.splitlines() if re.match(r"^[> ]\s*\d+\s+\d+\s+\d+\s+[0-9a-f]{16}", l)]
    opens = bool(rows)
    verdict = "correct" if opens and len(rows) == want else ("wrong task list" if opens else "fails: " + (out.strip().splitlines() or ["?"])[-1][:80])
    print(f"| {Path(e['path']).name} | {'yes' if opens else 'no'} | {len(rows)} / {want} | {verdict} |", flush=True)
