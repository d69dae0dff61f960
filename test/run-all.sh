#!/usr/bin/env bash
# The one test command (npm test): type check, unit + integration suites
# (real postgres, nats-server and S3 started by the harness), then the golden
# numerical oracle through the engine's own CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${FOOOCUS_SHARED:-$(cd .. && pwd)/shared}"
export FOOOCUS_SHARED="$SHARED"

npx tsc --noEmit -p tsconfig.json
npx vitest run
npx tsx services/engine/cli.ts verify-golden "$SHARED/golden"
