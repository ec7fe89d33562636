#!/usr/bin/env bash
# Installs the system packages skypg's lab and tests need, only those that are missing.
# Debian/Ubuntu, as root. Used by the README quick start and by .ci/run.
set -euo pipefail

pg_version=15
pg_bin=/usr/lib/postgresql/$pg_version/bin
missing=()
[ -x "$pg_bin/postgres" ] && [ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/pg_basebackup" ] || missing+=("postgresql-$pg_version")
command -v psql >/dev/null || missing+=("postgresql-client-$pg_version")
command -v runuser >/dev/null || missing+=(util-linux)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "skypg needs these packages: ${missing[*]}" >&2
  echo "install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# skypg makes its own clusters; the package's default cluster is not wanted.
mkdir -p /etc/postgresql-common
[ -f /etc/postgresql-common/createcluster.conf ] || echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
apt-get -o DPkg::Lock::Timeout=900 update -qq
apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}"
