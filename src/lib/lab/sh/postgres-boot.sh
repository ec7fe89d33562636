#!/bin/bash
# skypg netns lab: a host's boot hook that starts its PostgreSQL as it was (e.g. an old primary
# coming back). The powered-off postmaster may still be an unreaped zombie, which PostgreSQL
# would take for a running server: wait for it first.
#   postgres-boot.sh DATA_DIR OS_USER PG_CTL SERVER_DIR LOG_FILE
# SERVER_DIR is what pg_ctl -D names: the configuration directory in Debian's layout.
data_dir=${1:?usage: postgres-boot.sh DATA_DIR OS_USER PG_CTL SERVER_DIR LOG_FILE}
os_user=${2:?the OS user is missing}
pg_ctl=${3:?the path of pg_ctl is missing}
server_dir=${4:?the server directory is missing}
log_file=${5:?the log file is missing}
pid=$(head -n 1 "$data_dir/postmaster.pid" 2>/dev/null)
for _ in $(seq 1 150); do
  [ -n "$pid" ] || break
  [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d ' ' -f 1)" = Z ] || break
  sleep 0.1
done
exec runuser -u "$os_user" -- "$pg_ctl" -D "$server_dir" -l "$log_file" -w -t 60 start
