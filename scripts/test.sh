#!/usr/bin/env bash
# `npm test`: typecheck, Node tests, Playwright tests. Every suite runs even when an earlier one
# fails; the last line sums them: `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
passed=0; failed=0

bash scripts/ensure-chromium.sh || exit 1
node esbuild.mjs || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

echo "── typecheck"
if npm run --silent typecheck; then
  passed=$((passed + 1)); echo "typecheck ok"
else
  failed=$((failed + 1)); echo "typecheck FAILED"
fi

echo "── node tests"
shopt -s globstar nullglob
node_tests=(test/**/*.test.ts)
node --import tsx --test --test-concurrency=1 --test-timeout=120000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$results/node.tap" \
  "${node_tests[@]}"
node_pass=$(grep -E '^# pass ' "$results/node.tap" | awk '{print $3}')
node_fail=$(grep -E '^# (fail|cancelled) ' "$results/node.tap" | awk '{sum += $3} END {print sum + 0}')
if [ -z "$node_pass" ]; then node_pass=0; node_fail=1; echo "node tests did not report (crashed?)"; fi
passed=$((passed + node_pass)); failed=$((failed + ${node_fail:-0}))

echo "── browser tests (Playwright, Chromium)"
PLAYWRIGHT_JSON_OUTPUT_NAME="$results/e2e.json" npx playwright test --reporter=list,json
e2e=$(node -e '
  try { const s = require(process.argv[1]).stats; console.log(s.expected + s.flaky, s.unexpected); }
  catch { console.log("0 1"); }' "$results/e2e.json")
passed=$((passed + ${e2e% *})); failed=$((failed + ${e2e#* }))

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
