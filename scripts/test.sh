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
if [ "$#" -eq 0 ]; then
  # The unit files share no engine, port or process: two at a time, overriding the config's one file at a time,
  # which is for the e2e files (vitest.config.ts says why); those run on their own since vitest 3 has no
  # per-project setting for it. Both runs go on when the first fails, so one run reports every failure, as one run did.
  status=0
  npx vitest run --project unit --fileParallelism --maxWorkers=2 || status=$?
  npx vitest run --project e2e || status=$?
  exit "$status"
fi
# Arguments (a file filter, -t, a reporter) go to one run of both projects, one file at a time: a filter may match
# files of either project, and only one run can tell that it matched none.
npx vitest run --project unit --project e2e "$@"
