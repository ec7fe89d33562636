#!/bin/bash
# skypg netns lab: a simulated switched PDU with the fence-agent contract: name=value lines on
# stdin (action=, outlet=, others ignored); status exits 0 = ON, 2 = OFF; off/on exit 0 = done.
# Each outlet feeds a host: switching it runs that host's chassis hook (chassis-control.sh).
#   pdu-fence.sh PDU_DIR OUTLET=CHASSIS_HOOK...
# PDU_DIR holds outlet-OUTLET (1 or 0) and pdu.log.
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
dir=${1:?usage: pdu-fence.sh PDU_DIR OUTLET=CHASSIS_HOOK...}
shift
action='' outlet=''
while IFS= read -r line; do
  case $line in
    action=*) action=${line#action=} ;;
    outlet=*) outlet=${line#outlet=} ;;
  esac
done
chassis=''
for feed in "$@"; do
  [ "${feed%%=*}" = "$outlet" ] && chassis=${feed#*=}
done
if [ -z "$chassis" ]; then echo "this PDU has no outlet '$outlet'" >&2; exit 1; fi
state=$dir/outlet-$outlet
echo "$(date +%T.%N) $action $outlet" >>"$dir/pdu.log"
case $action in
  status | monitor)
    if [ "$(cat "$state" 2>/dev/null || echo 1)" = 1 ]; then echo "Status: ON"; exit 0; fi
    echo "Status: OFF"; exit 2 ;;
  off)
    "$chassis" set power 0 >>"$dir/pdu.log" 2>&1 || { echo "outlet $outlet: power-off failed" >&2; exit 1; }
    echo 0 >"$state"; echo "Success: Powered OFF" ;;
  on)
    echo 1 >"$state"
    "$chassis" set power 1 >>"$dir/pdu.log" 2>&1 || { echo "outlet $outlet: power-on failed" >&2; exit 1; }
    echo "Success: Powered ON" ;;
  *) echo "this PDU cannot '$action'" >&2; exit 1 ;;
esac
exit 0
