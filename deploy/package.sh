#!/usr/bin/env bash
# Builds the Debian package: release binary (thin LTO, stripped), man pages and shell
# completions generated from the clap definitions, the unit pointed at /usr/bin/redial, then
# `cargo deb` (cargo install cargo-deb). The .deb lands in deploy/out/.
#
# REDIAL_PACKAGE_BINARY=PATH packs a redial binary already built instead of building the
# release one. CI packs the debug binary its tests have just run: it checks the package's
# making, contents and install, not the binary's speed, and a release build of the whole crate
# (with dependencies' features resolved without the dev-dependencies, so nearly everything
# compiled again) would cost it minutes. The binary is copied into a target directory of the
# package's own (deploy/out/target), so no build elsewhere is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
out=deploy/out
rm -rf "$out"
mkdir -p "$out"
if [ -n "${REDIAL_PACKAGE_BINARY:-}" ]; then
  pack_target="$out/target"
  mkdir -p "$pack_target/release"
  cp "$REDIAL_PACKAGE_BINARY" "$pack_target/release/redial"
  # Stripped as the release profile strips; packed with quick compression (a debug binary is
  # large: 57 MB stripped, and xz at its default level takes over a minute on it).
  strip "$pack_target/release/redial"
  deb_flags=(--fast)
else
  cargo build --release --locked
  deb_flags=()
  pack_target="${CARGO_TARGET_DIR:-target}"
fi
"$pack_target/release/redial" generate-assets "$out"
# The repository's unit is for a hand install in /usr/local/bin; the package installs /usr/bin.
sed 's#/usr/local/bin/redial#/usr/bin/redial#g' deploy/redial.service > "$out/redial.service"
CARGO_TARGET_DIR="$pack_target" cargo deb --no-build "${deb_flags[@]}" --output "$out/"
ls "$out"/*.deb
