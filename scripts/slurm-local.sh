#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for trying and testing the cluster recipe
# (scripts/slurm-project.sbatch) without a cluster.
#
#   scripts/slurm-local.sh up       install (if missing) and start munged, slurmctld, slurmd
#   scripts/slurm-local.sh status   are the daemons up, and what does sinfo say
#   scripts/slurm-local.sh env      prints `export SLURM_CONF=…` for sbatch/squeue/scancel
#   scripts/slurm-local.sh down     cancel every job, stop the daemons, remove the state folder
#
# Debian's packages (slurmctld, slurmd, slurm-client, munge) are installed with apt-get when a
# program is missing. The configuration suits a container without systemd or cgroups:
# process tracking through /proc (proctrack/linuxproc), no task binding or accounting plugins,
# no cgroup.conf, every daemon running as root. Everything binds to 127.0.0.1 only
# (CommunicationParameters=NoInAddrAny,NoCtldInAddrAny with the node's address 127.0.0.1); the node is this
# machine's hostname with the CPU count and memory `slurmd -C` reports. State, spool, logs,
# the munge key and socket live in one folder, $LATENTLAB_SLURM_DIR (default
# ${TMPDIR:-/tmp}/latentlab-slurm), which `down` removes. `up` and `down` are idempotent.
#
# Environment: LATENTLAB_SLURM_DIR, LATENTLAB_SLURMCTLD_PORT (6817), LATENTLAB_SLURMD_PORT (6818).
set -euo pipefail
# The daemons live in /usr/sbin, which a non-login environment may lack.
export PATH=$PATH:/usr/sbin:/sbin

dir=${LATENTLAB_SLURM_DIR:-${TMPDIR:-/tmp}/latentlab-slurm}
ctld_port=${LATENTLAB_SLURMCTLD_PORT:-6817}
slurmd_port=${LATENTLAB_SLURMD_PORT:-6818}
conf=$dir/slurm.conf
host=$(hostname -s)

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: $*" >&2; exit 1; }

# The daemons, their pid files and the logs `up` shows when a daemon does not come up.
daemons=(slurmd slurmctld munged)
pidfile() { echo "$dir/$1.pid"; }
logfile() { echo "$dir/log/$1.log"; }

alive() {  # alive NAME: the daemon's pid file names a live process
  local f; f=$(pidfile "$1")
  [ -s "$f" ] && running "$(cat "$f")"
}

install_packages() {
  local need=0
  for prog in munged slurmctld slurmd sbatch squeue scancel scontrol sinfo; do
    command -v "$prog" >/dev/null 2>&1 || need=1
  done
  [ $need -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "Slurm is not installed and installing it needs root (apt-get install slurmctld slurmd slurm-client munge)"
  say "installing slurmctld slurmd slurm-client munge (apt-get)"
  apt-get update -qq || die "apt-get update failed"
  # policy-rc.d / no init system: Debian's maintainer scripts do not start the packaged
  # services in a container; this script starts its own daemons with its own configuration.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >"$dir/apt.log" 2>&1 \
    || { tail -20 "$dir/apt.log" >&2; die "apt-get install slurmctld slurmd slurm-client munge failed (log above)"; }
}

write_config() {
  # `slurmd -C` prints this machine's NodeName, CPUs, sockets/cores/threads and RealMemory.
  local node; node=$(slurmd -C | head -1)
  [[ $node == NodeName=* ]] || die "slurmd -C did not describe this node: $node"
  cat >"$conf" <<EOF
# Written by scripts/slurm-local.sh: a single-node cluster on 127.0.0.1 for tests.
ClusterName=latentlab
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$(pidfile slurmctld)
SlurmdPidFile=$(pidfile slurmd)
SlurmctldLogFile=$(logfile slurmctld)
SlurmdLogFile=$(logfile slurmd)
SlurmctldDebug=info
SlurmdDebug=info
# No systemd, no cgroups: track job processes through /proc, no task plugin, no accounting.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
# One task per CPU: the array's tasks share the node.
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
# A cancelled task gets SIGTERM, then SIGKILL after KillWait seconds.
KillWait=5
MinJobAge=600
SlurmdTimeout=60
$node NodeAddr=127.0.0.1 NodeHostname=$host State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

# Slurm's clients retry an unreachable controller for a long time: bound every call.
ask() { SLURM_CONF=$conf timeout 10 "$@"; }

fail_up() {  # fail_up MESSAGE: show the logs, stop whatever started, exit 1
  for d in munged slurmctld slurmd; do
    [ -s "$(logfile "$d")" ] && { echo "--- $(logfile "$d") (last lines)" >&2; tail -n 8 "$(logfile "$d")" >&2; }
  done
  down >/dev/null 2>&1 || true
  die "$1"
}

start_daemon() {  # start_daemon NAME COMMAND…: the daemon forks; wait for its pid file
  local name=$1; shift
  # The marker LATENTLAB_SLURM_CLUSTER in the daemons' environment (slurmstepd inherits it)
  # lets `down` find what this cluster started, and nothing else.
  LATENTLAB_SLURM_CLUSTER=$dir SLURM_CONF=$conf "$@" || fail_up "$name did not start ($*)"
  for _ in $(seq 100); do alive "$name" && return 0; sleep 0.1; done
  fail_up "$name did not write its pid file $(pidfile "$name")"
}

up() {
  if alive slurmctld && alive slurmd && alive munged && ask scontrol ping >/dev/null 2>&1; then
    say "already up ($conf)"; return 0
  fi
  [ -d "$dir" ] && down >/dev/null
  mkdir -p "$dir"/{state,spool,log}
  chmod 755 "$dir"
  install_packages
  write_config
  # munge: a fresh key for this cluster only, socket and state in $dir (not the system's).
  dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge.key"
  start_daemon munged munged --force --key-file="$dir/munge.key" --socket="$dir/munge.socket" \
    --pid-file="$(pidfile munged)" --log-file="$(logfile munged)" --seed-file="$dir/munged.seed"
  start_daemon slurmctld slurmctld -f "$conf" -c -i
  start_daemon slurmd slurmd -f "$conf"
  # The node registers within a few seconds; ReturnToService=2 makes it usable at once.
  local state="" deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    for d in "${daemons[@]}"; do alive "$d" || fail_up "$d exited while starting"; done
    state=$(ask sinfo -h -n "$host" -o %t 2>/dev/null || true)
    case $state in idle|mix|alloc) break ;; esac
    sleep 0.5
  done
  case $state in
    idle|mix|alloc) ;;
    *) fail_up "node $host did not become idle within 60 s (state '${state:-none}')" ;;
  esac
  say "up: $(ask sinfo -h -o '%P %D %t %C' | head -1) ($(slurmctld -V)); export SLURM_CONF=$conf"
}

# What this cluster started: processes carrying its marker (the daemons and, through slurmd,
# slurmstepd) and its jobs (SLURM_JOB_ID set, under this SLURM_CONF). Never this script, its
# parent, or a client that merely has SLURM_CONF set.
ours() {
  local f pid
  {
    # (grep cannot read some processes' environments: exit status 2, but its list is right.)
    grep -lzxF "LATENTLAB_SLURM_CLUSTER=$dir" /proc/[0-9]*/environ 2>/dev/null || true
    for f in $(grep -lzxF "SLURM_CONF=$conf" /proc/[0-9]*/environ 2>/dev/null || true); do
      grep -qz '^SLURM_JOB_ID=' "$f" 2>/dev/null && echo "$f"
    done
  } | while read -r f; do
    pid=${f#/proc/}; pid=${pid%/environ}
    case $pid in "$$"|"$BASHPID"|"$PPID") continue ;; esac
    echo "$pid"
  done | sort -u
}

# A process that exists and is not a zombie (a zombie has ended; only its parent can reap it).
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

stop_pids() {  # stop_pids PID…: SIGTERM, wait up to 10 s, then SIGKILL
  [ $# -eq 0 ] && return 0
  kill -TERM "$@" 2>/dev/null || true
  for _ in $(seq 100); do
    local left=0
    for p in "$@"; do running "$p" && left=1; done
    [ $left -eq 0 ] && return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
}

down() {
  if [ ! -d "$dir" ]; then say "already down"; return 0; fi
  if alive slurmctld && command -v scancel >/dev/null; then
    ask scancel --user="$(id -un)" 2>/dev/null || true
    local deadline=$((SECONDS + 15))
    while [ $SECONDS -lt $deadline ]; do
      [ -z "$(ask squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  local pids=()
  for d in "${daemons[@]}"; do alive "$d" && pids+=("$(cat "$(pidfile "$d")")"); done
  stop_pids "${pids[@]}"
  # slurmstepd and job processes that outlived their daemons.
  mapfile -t pids < <(ours)
  stop_pids "${pids[@]}"
  rm -rf "$dir"
  say "down"
}

status() {
  local up=1
  for d in "${daemons[@]}"; do
    if alive "$d"; then say "$d running (pid $(cat "$(pidfile "$d")"))"; else say "$d not running"; up=0; fi
  done
  [ $up -eq 1 ] || return 3
  ask sinfo
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  env) echo "export SLURM_CONF=$conf" ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 64 ;;
esac
