#!/usr/bin/env bash
# `make demo`: the configuration system end to end on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
REF=../shared/reference/config_schema.toml
WORK=$(mktemp -d "${TMPDIR:-/tmp}/butterfly-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Write an annotated template and validate it"
$BIN/butterfly config init --output "$WORK/butterfly.toml"
$BIN/butterfly config validate --config "$WORK/butterfly.toml"

step "Explain three options"
for key in byzantine.f_value network.compression.level observability.logging.level; do
  $BIN/butterfly config explain "$key" --config "$WORK/butterfly.toml"
  echo
done

step "Where every value comes from (environment and --set override the file)"
BUTTERFLY_SCHEDULING_POLICY=least_loaded $BIN/butterfly config show --sources \
  --config "$WORK/butterfly.toml" --set network.compression.level=6 | grep -E "policy|level|f_value" | head -8

step "Validate the reference file in development (missing certificates are warnings)"
if [ -f "$REF" ]; then
  BUTTERFLY_METADATA_ENVIRONMENT=development $BIN/butterfly config validate --config "$REF"
else
  echo "(reference file not found at $REF; skipped)"
fi
