#!/usr/bin/env bash
# Regenerates tests/fixtures/events/ with `sam local generate-event` (aws-sam-cli, installed into a tools venv).
# The fixtures are byte-for-byte sam output; acceptance tests feed them to the edge handler unchanged.
set -euo pipefail
cd "$(dirname "$0")/../.."
SAM="${SAM:-}"
if [[ -z "$SAM" ]]; then
  for candidate in .venv-tools/bin/sam "$(command -v sam || true)"; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then SAM="$candidate"; break; fi
  done
fi
if [[ -z "$SAM" ]]; then
  echo "sam not found: python3 -m venv .venv-tools && .venv-tools/bin/pip install aws-sam-cli (or set SAM=...)" >&2
  exit 1
fi
out=tests/fixtures/events
mkdir -p "$out"
"$SAM" local generate-event apigateway http-api-proxy > "$out/http-api-proxy.json"
"$SAM" local generate-event apigateway aws-proxy > "$out/aws-proxy.json"
"$SAM" local generate-event alb request > "$out/alb-request.json"
"$SAM" --version > "$out/SAM_VERSION"
echo "regenerated $(ls "$out" | wc -l) files in $out with $("$SAM" --version)"
