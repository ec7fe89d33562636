#!/bin/bash
# skypg netns lab: the chassis_control hook of one host's BMC. ipmi_sim runs it (through the
# launcher the lab writes beside lan.conf, which sets the variables below), as do the PDU and a
# blackout:
#   chassis-control.sh get power | set power "0|1" | set reset "1" | set boot X | check
# ipmi_sim popen()s it synchronously and reads stdout to EOF, so it returns fast and detaches
# whatever it starts. Power off = freeze and kill everything in the host's namespace and pull
# its switch port (a killed host's kernel stack would still answer); power on = fresh static
# address (a reboot loses a VIP), port up, then the boot hook if any.
#
#   CHASSIS_NETNS      the host's network namespace
#   CHASSIS_LAN_NETNS  the switch's namespace
#   CHASSIS_PORT       the host's port on the switch (v-host1)
#   CHASSIS_ADDRESS    the host's static address with its prefix (10.231.0.11/24)
#   CHASSIS_DIR        the BMC's directory: `power` (1 or 0) and `chassis.log` live there
#   CHASSIS_BOOT_HOOK  run (detached, inside the host's namespace) at power-on, if it exists
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
ns=${CHASSIS_NETNS:?CHASSIS_NETNS is not set}
lan=${CHASSIS_LAN_NETNS:?CHASSIS_LAN_NETNS is not set}
port=${CHASSIS_PORT:?CHASSIS_PORT is not set}
address=${CHASSIS_ADDRESS:?CHASSIS_ADDRESS is not set}
dir=${CHASSIS_DIR:?CHASSIS_DIR is not set}
boot=${CHASSIS_BOOT_HOOK:?CHASSIS_BOOT_HOOK is not set}
power_file=$dir/power
log=$dir/chassis.log
echo "$(date +%T.%N) $*" >>"$log"

power_off() {
  local pids
  # Frozen first, so nothing can react or shut down cleanly; then the NIC goes silent.
  pids=$(ip netns pids "$ns")
  # shellcheck disable=SC2086 # one PID per word
  [ -n "$pids" ] && kill -STOP $pids 2>/dev/null
  ip -n "$lan" link set "$port" down
  for _ in $(seq 1 100); do
    pids=$(ip netns pids "$ns")
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086 # one PID per word
    kill -STOP $pids 2>/dev/null
    # shellcheck disable=SC2086 # one PID per word
    kill -KILL $pids 2>/dev/null
    sleep 0.05
  done
  echo 0 >"$power_file"
  [ -z "$(ip netns pids "$ns")" ] || { echo "processes survive in $ns" >>"$log"; exit 1; }
}

power_on() {
  [ "$(cat "$power_file" 2>/dev/null)" = 1 ] && return 0
  ip -n "$ns" addr flush dev eth0 scope global
  ip -n "$ns" addr add "$address" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$lan" link set "$port" up
  echo 1 >"$power_file"
  if [ -f "$boot" ]; then   # never PostgreSQL blindly: only what the scenario put there
    setsid ip netns exec "$ns" /bin/bash "$boot" </dev/null >>"$log" 2>&1 &
  fi
  return 0
}

op=${1:-}
shift || true
case $op in
  get)
    for p in "$@"; do
      case $p in
        power) echo "power:$(cat "$power_file" 2>/dev/null || echo 1)" ;;
        boot) echo "boot:default" ;;
        *) echo "Invalid parameter: $p"; exit 1 ;;
      esac
    done
    ;;
  set)
    while [ $# -ge 2 ]; do
      p=$1 v=${2//\"/}
      shift 2
      case $p in
        power) if [ "$v" = 0 ]; then power_off; else power_on; fi ;;
        reset) power_off; power_on ;;
        boot | identify) : ;;
        *) echo "Invalid parameter: $p"; exit 1 ;;
      esac
    done
    ;;
  check) exit 0 ;;
  *) echo "Unknown operation $op"; exit 1 ;;
esac
exit 0
