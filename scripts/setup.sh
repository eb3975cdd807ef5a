#!/usr/bin/env bash
# Sets up BeatGAN Bridge on a fresh Debian/Ubuntu machine with Python >= 3.10.
#   scripts/setup.sh          the app: a .venv with BeatGAN and its Python packages
#   scripts/setup.sh --test   also the Debian packages the tests drive (JACK dummy server,
#                             PortAudio, liblo's oscsend/oscdump, headless Pd, Hydrogen drum
#                             kits, Lua, Node.js) and the test extras
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

apt_install() {
  $SUDO apt-get update -qq
  # jackd2 asks whether to enable realtime limits; a test machine does not need them.
  echo "jackd2 jackd/tweak_rt_limits boolean false" | $SUDO debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

if [ "$want_test" = 1 ]; then
  pkgs=(jackd2 libportaudio2 liblo-tools puredata-core hydrogen-drumkits hydrogen-data lua5.4)
  command -v node >/dev/null || pkgs+=(nodejs)
  missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ] && ! "$PY" -c "import ensurepip" 2>/dev/null; then
  # Debian and Ubuntu ship venv's pip bootstrap separately; without it `python3 -m venv` fails.
  apt_install python3-venv
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
# A pinned torch first: machines set up like ours hold a CPU wheel of exactly this version
# locally (a range would pull a multi-GB CUDA build). Elsewhere pip takes it from PyPI. With a
# GPU, install your CUDA torch before running this; an importable torch is kept.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q "torch==2.13.0"
# The distribution was called "beatgan" before it became "beatgan-bridge": an old editable
# install of it would shadow the new one, so it goes first.
if .venv/bin/pip show -q beatgan >/dev/null 2>&1; then .venv/bin/pip uninstall -q -y beatgan; fi
if [ "$want_test" = 1 ]; then
  .venv/bin/pip install -q -e ".[test,train]"
else
  .venv/bin/pip install -q -e .
fi
echo "BeatGAN is set up in .venv (try: .venv/bin/beatgan --help)"
