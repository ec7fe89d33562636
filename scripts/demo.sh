#!/usr/bin/env bash
# npm run demo: the quick start's main job. Installs what is missing, builds, and runs
# `skypg lab demo`: a real failover between two hosts on this machine (root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-prerequisites.sh
npm run -s build
exec node bin/run.js lab demo "$@"
