#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the Debian 12 packages gst-stt needs to build, test and run the demo.
# Only what is missing is installed; needs root (or sudo).
set -euo pipefail

packages=(
  gcc pkg-config meson ninja-build
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-x
  gstreamer1.0-plugins-bad
  libsoup-3.0-dev libjson-glib-dev libssl-dev zlib1g-dev libsqlite3-dev libglib2.0-dev-bin
  libhiredis-dev redis-server
  libpocketsphinx-dev pocketsphinx-en-us flite openssl
  chromium nodejs
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing: ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
