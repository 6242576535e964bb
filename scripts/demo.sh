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

step "Start a local 4-node cluster on 127.0.0.1 (keys, tokens and RBAC generated)"
CLUSTER="$WORK/cluster"
cleanup() { $BIN/butterfly dev down --dir "$CLUSTER" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
$BIN/butterfly dev up --nodes 4 --dir "$CLUSTER" --base-port 7890 --api-base-port 8080 --detach
export BUTTERFLY_API_URL=http://127.0.0.1:8081   # node-1: not the coordinator, it forwards
export BUTTERFLY_API_TOKEN=$(cat "$CLUSTER/secrets/admin.token")

step "A consensus update through the CLI (agreed by PROPOSE, PREPARE, COMMIT, FINALIZE)"
$BIN/butterfly config update --key network.compression.level --value 6

step "Every node on the same revision and hash"
$BIN/butterfly cluster status

step "A static option is refused at runtime"
$BIN/butterfly config update --key byzantine.f_value --value 2 || echo "(refused, as it should be: exit $?)"

step "History, then a rollback to revision 0 (a new revision equal to it)"
$BIN/butterfly config history --limit 5
$BIN/butterfly config rollback --version 0
$BIN/butterfly cluster status

step "Stop the cluster"
$BIN/butterfly dev down --dir "$CLUSTER"
