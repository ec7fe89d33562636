#!/usr/bin/env bash
# npm run lab: the quick start's main job. Installs what is missing, builds, replaces any
# previous sandbox with a fresh primary + streaming standby, and shows it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-prerequisites.sh
npm run -s build
node bin/run.js lab down >/dev/null
node bin/run.js lab up
echo
node bin/run.js lab status
