#!/usr/bin/env bash
# Installs the system packages skypg's lab and tests need, only those that are missing.
# Debian/Ubuntu, as root. Used by the README quick start and by .ci/run.
set -euo pipefail

pg_version=15
pg_bin=/usr/lib/postgresql/$pg_version/bin
# Looked up by path too: /usr/sbin is not on every user's PATH.
has() { command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

missing=()
[ -x "$pg_bin/postgres" ] && [ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/pg_basebackup" ] || missing+=("postgresql-$pg_version")
has psql || missing+=("postgresql-client-$pg_version")
has runuser || missing+=(util-linux)
# script(1): the tests run the checks on a pseudo-terminal too (bin/run.js chooses by it).
has script || missing+=(bsdutils)

# The multi-host lab (network namespaces, root only): links, reachability, partitions, and
# a simulated BMC per host that the real IPMI client and fence agent power off.
# iputils-arping, not Habets' arping: the two packages conflict and take different flags;
# an arping of either flavour that is already installed is left alone.
lab_missing=()
has ip || lab_missing+=(iproute2)
has ping || lab_missing+=(iputils-ping)
has arping || lab_missing+=(iputils-arping)
has nft || lab_missing+=(nftables)
has ipmi_sim || lab_missing+=(openipmi)
has ipmitool || lab_missing+=(ipmitool)
has fence_ipmilan || lab_missing+=(fence-agents)
# What operators run beside skypg, tested against for real: HAProxy routing on the health API,
# promtool checking /metrics, the NRPE daemon and check_nrpe, and the validators of the files
# skypg ships (logrotate -d, visudo -cf).
has haproxy || lab_missing+=(haproxy)
has promtool || lab_missing+=(prometheus)
has nrpe || lab_missing+=(nagios-nrpe-server)
[ -x /usr/lib/nagios/plugins/check_nrpe ] || lab_missing+=(nagios-nrpe-plugin)
has logrotate || lab_missing+=(logrotate)
has visudo || lab_missing+=(sudo)

if [ ${#missing[@]} -eq 0 ] && [ ${#lab_missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  # Without root the multi-host lab cannot run anyway, so only the core packages are required.
  if [ ${#lab_missing[@]} -gt 0 ]; then
    echo "note: the multi-host lab (root only) also needs: ${lab_missing[*]}" >&2
  fi
  if [ ${#missing[@]} -eq 0 ]; then
    exit 0
  fi
  echo "skypg needs these packages: ${missing[*]}" >&2
  echo "install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
missing+=("${lab_missing[@]}")
echo "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# skypg makes its own clusters; the package's default cluster is not wanted.
mkdir -p /etc/postgresql-common
[ -f /etc/postgresql-common/createcluster.conf ] || echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
# Packages such as haproxy, prometheus and nrpe start their daemon on install, listening on
# every address: a policy-rc.d that says "no" keeps them stopped (tests start their own).
own_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# skypg install-prerequisites: no daemon starts during the install\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  own_policy=1
fi
trap '[ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
# A policy-rc.d that was already there may allow starts: whatever the install started anyway is
# found by its pid file (the init scripts' own), stopped by that PID, and must not listen after.
daemon_pidfiles='/run/haproxy.pid /run/nagios/nrpe.pid /run/prometheus/prometheus.pid'
running_daemons() {
  local file pid
  for file in $daemon_pidfiles; do
    [ -s "$file" ] || continue
    pid=$(head -n 1 "$file")
    case $pid in '' | *[!0-9]*) continue ;; esac
    if kill -0 "$pid" 2>/dev/null; then echo "$file:$pid"; fi
  done
}
running_before=" $(running_daemons | tr '\n' ' ') "
apt-get -o DPkg::Lock::Timeout=900 update -qq
apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}"
for entry in $(running_daemons); do
  case $running_before in *" $entry "*) continue ;; esac
  pid=${entry#*:}
  echo "stopping $(cat "/proc/$pid/comm" 2>/dev/null) (pid $pid, ${entry%%:*}): started by the install" >&2
  kill "$pid"
done
# What still listens, from a PID that was not running before the install, is refused.
if command -v ss >/dev/null; then
  sleep 1
  # grep finds nothing on a clean install: that is success, not a pipeline failure (pipefail).
  new_listeners=$(ss -ltnp | { grep -E 'users:\(\("(haproxy|nrpe|prometheus)"' || true; } |
    while read -r line; do
      pid=$(echo "$line" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
      case $running_before in *":$pid "*) ;; *) echo "$line" ;; esac
    done)
  if [ -n "$new_listeners" ]; then
    echo "these daemons listen after the install; stop them (tests start their own):" >&2
    echo "$new_listeners" >&2
    exit 1
  fi
fi
