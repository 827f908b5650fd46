#!/usr/bin/env bash
# Installs what bbb-migrate needs beyond the Rust toolchain on Debian/Ubuntu: ffmpeg (demo media, rendering,
# verification), the C toolchain some crates build with, node for the Pod plugin's test and moto_server for the S3
# archive tests. Does nothing for what is already there.
set -euo pipefail
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
# node runs the generated Pod plugin (export.js) in the tests, as Pod runs it.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
# moto_server (Python, from PyPI) is the real S3-compatible server the archive's bucket tests run against.
command -v moto_server >/dev/null 2>&1 || command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ! command -v moto_server >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1; then
  missing+=(python3-pip)
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "please install as root: apt-get install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v moto_server >/dev/null 2>&1; then
  echo "installing: moto[server] (pip)" >&2
  # Debian's own Python refuses system-wide pip installs unless told (PEP 668); a pyenv or venv Python does not.
  python3 -m pip install --quiet 'moto[server]' 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages 'moto[server]'
  command -v moto_server >/dev/null 2>&1 || { echo "moto_server is not on PATH after pip install" >&2; exit 1; }
fi
