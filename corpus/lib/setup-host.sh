#!/usr/bin/env bash
# Host packages and the drgn venv. Quiet when everything is already there.
set -euo pipefail
cache=$1
here=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive

# Other suites are pinned low so nothing but the kernels we name comes from them
# (an unpinned trixie source pulls trixie's glibc onto a Debian 12 host).
src=/etc/apt/sources.list.d/vmtriage-corpus.sources
pin=/etc/apt/preferences.d/vmtriage-corpus
if ! cmp -s "$here/apt/vmtriage-corpus.sources" "$src" || ! cmp -s "$here/apt/vmtriage-corpus.pref" "$pin"; then
  install -m 644 "$here/apt/vmtriage-corpus.sources" "$src"
  install -m 644 "$here/apt/vmtriage-corpus.pref" "$pin"
  rm -f "$cache/.apt-updated"
fi

pkgs=(qemu-system-x86 busybox-static cpio makedumpfile kexec-tools zstd xz-utils
      gcc make libc6-dev libelf-dev bc python3-venv chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ! -f "$cache/.apt-updated" ] || [ ${#missing[@]} -gt 0 ]; then
  echo "corpus: apt-get update" >&2
  apt-get update -q >/dev/null || { echo "apt-get update failed: is the Debian archive reachable?" >&2; exit 1; }
  touch "$cache/.apt-updated"
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "corpus: installing ${missing[*]}" >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "apt-get install ${missing[*]} failed: a package is missing from the archive?" >&2; exit 1; }
fi

if [ ! -x "$cache/venv/bin/drgn" ]; then
  echo "corpus: creating the drgn venv in $cache/venv" >&2
  python3 -m venv "$cache/venv.tmp"
  "$cache/venv.tmp/bin/pip" install -q 'drgn==0.3.0' \
    || { echo "pip install drgn failed: is PyPI reachable?" >&2; rm -rf "$cache/venv.tmp"; exit 1; }
  rm -rf "$cache/venv" && mv "$cache/venv.tmp" "$cache/venv"
fi
