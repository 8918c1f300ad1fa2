#!/usr/bin/env bash
# The whole test suite, from a fresh clone: dependencies, build, Docker engine
# and test image, then every vitest project. This is what `npm test` and CI run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/ensure-docker.sh
bash scripts/ensure-chromium.sh
# vitest strips types without checking them: check the tests' types here.
for config in tsconfig.test.json packages/*/tsconfig.test.json; do
  npx tsc --noEmit -p "$config"
done
npx vitest run --project unit --project e2e "$@"
