#!/usr/bin/env bash
# Installs what bbb-migrate needs beyond the Rust toolchain on Debian/Ubuntu: ffmpeg (demo media, rendering,
# verification), the C toolchain some crates build with, and node for the Pod plugin's test. Does nothing for what is already there.
set -euo pipefail
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
# node runs the generated Pod plugin (export.js) in the tests, as Pod runs it.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "please install as root: apt-get install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
