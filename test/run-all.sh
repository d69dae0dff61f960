#!/usr/bin/env bash
# The one test command (npm test): type check, unit + integration suites
# (real postgres, nats-server and S3 started by the harness), then the golden
# numerical oracles through the engine's own CLI: the feature set (kinds not
# implemented yet print SKIP and do not count as passed), then the core set,
# whose `N passed, M failed` line closes the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${FOOOCUS_SHARED:-$(cd .. && pwd)/shared}"
export FOOOCUS_SHARED="$SHARED"

npx tsc --noEmit -p tsconfig.json
npx vitest run
npx tsx services/engine/cli.ts verify-golden "$SHARED/golden-features"
npx tsx services/engine/cli.ts verify-golden "$SHARED/golden"
