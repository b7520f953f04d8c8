#!/usr/bin/env bash
# Builds the Debian package: release binary (thin LTO, stripped), man pages and shell
# completions generated from the clap definitions, the unit pointed at /usr/bin/redial, then
# `cargo deb` (cargo install cargo-deb). The .deb lands in deploy/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=deploy/out
rm -rf "$out"
mkdir -p "$out"
cargo build --release --locked
target="${CARGO_TARGET_DIR:-target}"
"$target/release/redial" generate-assets "$out"
# The repository's unit is for a hand install in /usr/local/bin; the package installs /usr/bin.
sed 's#/usr/local/bin/redial#/usr/bin/redial#g' deploy/redial.service > "$out/redial.service"
cargo deb --no-build --output "$out/"
ls "$out"/*.deb
