#!/usr/bin/env bash
# `npm test`: typecheck, Node tests, the Playwright tests on Chromium and Firefox, the WebKit
# suite. Every suite runs even when an earlier one fails; the last line sums them all:
# `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
passed=0; failed=0

bash scripts/ensure-browsers.sh || exit 1
node esbuild.mjs || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

# Adds a node:test TAP file's counts to the totals; a suite that wrote none counts as one failure.
count_tap() {
  local tap=$1 name=$2 pass fail
  pass=$(grep -E '^# pass ' "$tap" 2>/dev/null | awk '{print $3}')
  fail=$(grep -E '^# (fail|cancelled) ' "$tap" 2>/dev/null | awk '{sum += $3} END {print sum + 0}')
  if [ -z "$pass" ]; then pass=0; fail=1; echo "$name did not report (crashed?)"; fi
  passed=$((passed + pass)); failed=$((failed + fail))
}

# node:test's reporters: spec to the terminal, TAP into $results/<name>.tap for count_tap.
reporters() {
  echo "--test-reporter=spec --test-reporter-destination=stdout --test-reporter=tap --test-reporter-destination=$results/$1.tap"
}

echo "── typecheck"
if npm run --silent typecheck; then
  passed=$((passed + 1)); echo "typecheck ok"
else
  failed=$((failed + 1)); echo "typecheck FAILED"
fi

echo "── node tests"
shopt -s globstar nullglob
# shellcheck disable=SC2046 # the reporters are several words
node --import tsx --test --test-concurrency=1 --test-timeout=300000 $(reporters node) test/**/*.test.ts
count_tap "$results/node.tap" "node tests"

echo "── browser tests (Playwright: Chromium, Firefox)"
PLAYWRIGHT_JSON_OUTPUT_NAME="$results/e2e.json" npx playwright test --reporter=list,json
e2e=$(node -e '
  try { const s = require(process.argv[1]).stats; console.log(s.expected + s.flaky, s.unexpected); }
  catch { console.log("0 1"); }' "$results/e2e.json")
passed=$((passed + ${e2e% *})); failed=$((failed + ${e2e#* }))
node -e '
  const walk = (suite) => [...(suite.specs ?? []).flatMap((spec) => spec.tests.filter((t) => t.status === "flaky").map((t) => `${t.projectName} › ${spec.title}`)), ...(suite.suites ?? []).flatMap(walk)];
  try { for (const name of require(process.argv[1]).suites.flatMap(walk)) console.log(`FLAKY (passed on retry): ${name}`); } catch {}' "$results/e2e.json"

echo "── browser tests (WebKit)"
# shellcheck disable=SC2046
xvfb-run -a node --import tsx --test --test-concurrency=1 --test-timeout=180000 $(reporters webkit) test-webkit/*.test.ts
count_tap "$results/webkit.tap" "WebKit tests"

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
