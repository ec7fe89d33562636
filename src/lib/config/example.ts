// The text `skypg config example` prints: complete, commented, and valid (a test checks).

export const exampleConfig = `# skypg configuration: one file, identical on both nodes.
# Reference: docs/configuration.md. Check it with: skypg config check -c FILE
# Passwords never live here: database passwords come from the libpq password file
# (postgres.passfile, else ~/.pgpass or $PGPASSFILE), fence device passwords from
# each node's fence.password_file (mode 0600).

cluster: demo

# Defaults for every node; a node may override any of them under its own "postgres:".
postgres:
  bin_dir: /usr/lib/postgresql/15/bin   # omit to discover (pg_config --bindir, /usr/lib/postgresql/*/bin)
  os_user: postgres                     # PostgreSQL programs run as this user (via runuser when skypg is root)
  port: 5432
  superuser: postgres
  socket_dir: /var/run/postgresql
  # passfile: /var/lib/postgresql/.pgpass
  connect_timeout: 3s
  statement_timeout: 10s

nodes:                                  # exactly two
  - name: host1
    address: 10.231.0.11
    data_dir: /var/lib/postgresql/15/main
    fence:                              # how host2 powers host1 off before taking over:
      - name: ipmi                      # a list of levels, tried in order until one verifies OFF
        agent: ipmitool                 # reads the password itself (-f): never on a command line
        ip: 10.231.0.101
        username: fence
        password_file: /etc/skypg/host1.ipmi
        options: { lanplus: 1, cipher: 3 }
        connect_timeout: 2s             # a BMC that lost power with its host fails this fast
        timeout: 20s
      # - name: pdu                     # a second level, independent of the BMC: a switched PDU
      #   agent: command                # your script with the fence-agent contract
      #   command: /usr/local/sbin/pdu-fence
      #   options: { outlet: 3 }
  - name: host2
    address: 10.231.0.12
    data_dir: /var/lib/postgresql/15/main
    fence:                              # one device may also be given without the list
      agent: ipmitool
      ip: 10.231.0.102
      username: fence
      password_file: /etc/skypg/host2.ipmi
      options: { lanplus: 1, cipher: 3 }

vip:
  primary: { address: 10.231.0.130/24, interface: eth0, label: "eth0:1" }   # clients of the primary
  standby: { address: 10.231.0.131/24, interface: eth0, label: "eth0:2" }   # read-only clients

gateway: [10.231.0.1]                   # a third party: a node that cannot reach it suspects itself

heartbeat:
  database: sky_pg_cluster              # created by 'skypg heartbeat init' on the primary
  user: sky_pg_cluster                  # least privilege: writes the beat columns, owns nothing
  # monitor_user: sky_pg_monitor        # optional read-only role for status/check-lag hosts
  interval: 1s
  timeout: 1s
  misses: 3                             # failed checks in a row before the primary is declared failed
  io_check: false                       # true: also prove every tablespace can be written
  io_check_interval: 1m

replication: { user: replica, mode: async }   # mode: sync for zero acknowledged writes lost

failover: { max_lag: 16MB, fencing: required }   # fencing: none relies on self-demotion

supervisor:
  state_file: /run/skypg/{cluster}-{node}.json  # read by check-alive and status

# hooks:                                # your commands on events (docs/hooks.md); none by default
#   timeout: 30s                        # each is killed past this; it never delays a failover
#   on_role_change: /usr/local/sbin/skypg-notify
#   on_failover_blocked: [/usr/local/sbin/skypg-notify, --page]   # a path and fixed arguments
#   pre_promote: { command: /usr/local/sbin/skypg-may-promote, timeout: 5s }   # can veto

beacon:                                 # UDP datagrams between the two supervisors: a silence makes
  listen: ":8009"                       # them check at once instead of at the next loop (docs/failover.md)
  interval: 100ms                       # beacon: false turns it off (failures then take misses x interval)
  timeout: 500ms                        # a silence this long is a signal; the look after one
  confirm_timeout: 500ms                # waits this long for the peer, the VIP and the gateway

api:                                    # HTTP health API for HAProxy, Kubernetes and Prometheus
  listen: ":8008"                       # ":PORT" = each node's own address; api: false turns it off
`;
