#!/usr/bin/env bash
# Runs the README's cluster recipe on a real (single-node) Slurm: brings Slurm up with
# scripts/slurm-local.sh, projects 12 scenes once as one plain process (the reference) and once
# as a 4-task array job of scripts/slurm-project.sbatch, pre-empts one running task with
# `scancel JOBID_K` after its first batch finished, resubmits that index, waits, and tears Slurm
# down (also on failure or interruption). It records what happened for the checks of
# Tests/LatentLabCLITests/SlurmArrayTests.swift, which runs it:
#
#   scripts/slurm-test.sh --latentlab .build/release/latentlab --scenes ../shared/testdata/scenes --work DIR
#
# DIR gets: scenes/ (the 12 inputs), single/ (the plain run), array/ (the array job's shared
# output folder), logs/ (one Slurm log per task and attempt), snapshot.txt (inode and path of
# every metrics.json once the cancelled task had ended) and facts.env (job ids, task states,
# timings, Slurm version). Exit 0: every step ran (the checks are the test's); 3: Slurm could not
# be installed or started here (the reason is printed); 1: a step failed.
#
# Options: --steps S (default 100), --batch B (array tasks, default 2), --single-batch B
# (reference, default 4), --images N (default 12), --tasks T (default 4), --cancel K (default 1),
# --no-preempt (no cancellation: the timing run of Bench/slurm.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

latentlab="" scenes="" work="" steps=100 batch=2 single_batch=4 images=12 tasks=4 cancel=1 preempt=1
while [ $# -gt 0 ]; do
  case $1 in
    --latentlab) latentlab=$2; shift 2 ;;
    --scenes) scenes=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --single-batch) single_batch=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --cancel) cancel=$2; shift 2 ;;
    --no-preempt) preempt=0; shift ;;
    *) echo "slurm-test: unknown argument $1" >&2; exit 64 ;;
  esac
done
[ -x "$latentlab" ] || { echo "slurm-test: --latentlab $latentlab is not an executable" >&2; exit 64; }
[ -d "$scenes" ] || { echo "slurm-test: --scenes $scenes is not a folder" >&2; exit 64; }
[ -n "$work" ] || { echo "slurm-test: --work DIR is required" >&2; exit 64; }
latentlab=$(cd "$(dirname "$latentlab")" && pwd)/$(basename "$latentlab")
mkdir -p "$work"
work=$(cd "$work" && pwd)

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
log() { echo "slurm-test: $(date -u +%T) $*"; }
fail() { echo "slurm-test: $*" >&2; exit 1; }

# This test's own cluster: its own state folder and two free ports (a cluster brought up with the
# defaults, or the same test running in another checkout, is left alone). Torn down whatever
# happens (the daemons must not outlive the test).
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + $$ % 20000))
while listening "$port" || listening $((port + 1)); do port=$((port + 2)); done
export LATENTLAB_SLURM_DIR=$work/slurm LATENTLAB_SLURMCTLD_PORT=$port LATENTLAB_SLURMD_PORT=$((port + 1))
export SLURM_CONF=$LATENTLAB_SLURM_DIR/slurm.conf
teardown() { "$root/scripts/slurm-local.sh" down >/dev/null 2>&1 || true; }
trap teardown EXIT
# Long steps run in the background so that a signal is handled at once (bash runs traps only
# between foreground commands): the step is stopped, then the EXIT trap tears Slurm down.
child=""
trap 'trap - INT TERM; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; exit 130' INT TERM
step() { local rc=0; "$@" & child=$!; wait "$child" || rc=$?; child=""; return $rc; }

# Every run (reference and tasks) shares one W statistics cache, written by the reference run.
export LATENTLAB_CACHE=$work/cache
mkdir -p "$work/scenes" "$work/logs"
mapfile -t inputs < <(cd "$scenes" && ls | grep -E '\.(png|jpg|jpeg)$' | sort | head -n "$images")
[ ${#inputs[@]} -eq "$images" ] || fail "$scenes has ${#inputs[@]} images, need $images"
for f in "${inputs[@]}"; do cp "$scenes/$f" "$work/scenes/"; done

log "bringing Slurm up"
if ! step "$root/scripts/slurm-local.sh" up >"$work/slurm-up.log" 2>&1; then
  cat "$work/slurm-up.log" >&2
  echo "slurm-test: Slurm could not be started on this machine (output of scripts/slurm-local.sh up above)" >&2
  exit 3
fi
cat "$work/slurm-up.log"
version=$(sinfo -V)

log "reference: one process, $images images, batch $single_batch, $steps steps"
t0=$(date +%s.%N)
step "$latentlab" project "$work/scenes" --out "$work/single" --batch "$single_batch" --steps "$steps" \
  >"$work/logs/single.out" 2>&1 || { cat "$work/logs/single.out" >&2; fail "the reference run failed"; }
single_seconds=$(since "$t0")

submit() {  # submit ARRAY [VAR=value…]: prints the job id
  env "$@" LATENTLAB="$latentlab" BATCH="$batch" STEPS="$steps" \
    sbatch --parsable --array="$array" --cpus-per-task=1 --output="$work/logs/slurm-%A_%a.out" \
    "$root/scripts/slurm-project.sbatch" "$work/scenes" "$work/array"
}
tasks_left() { squeue -h -r -j "$1" -o %i 2>/dev/null | wc -l; }
wait_job() {  # wait_job JOBID: until none of its tasks is pending or running (15 min at most)
  for _ in $(seq 4500); do [ "$(tasks_left "$1")" -eq 0 ] && return 0; sleep 0.2; done
  squeue >&2; fail "job $1 did not finish within 15 minutes"
}
task_state() { scontrol -o show job "$1_$2" | tr ' ' '\n' | grep -E '^(JobState|ExitCode)=' | tr '\n' ' '; }
# Finished images of shard K: their metrics.json records the shard ("1/4", slash maybe escaped).
finished_in_shard() { grep -lE "\"shard\" ?: ?\"$1\\\\?/$tasks\"" "$work"/array/*/metrics.json 2>/dev/null | wc -l; }

log "array: $tasks tasks, batch $batch, $steps steps, 1 CPU each"
array=0-$((tasks - 1))
t0=$(date +%s.%N)
job=$(submit)
log "submitted job $job"
resubmitted=""
if [ $preempt -eq 1 ]; then
  # Pre-empt task $cancel once its first batch is written and while its next one runs.
  for i in $(seq 3000); do
    [ "$(finished_in_shard "$cancel")" -ge "$batch" ] && break
    [ "$(tasks_left "$job")" -eq 0 ] && fail "job $job ended before task $cancel finished a batch"
    sleep 0.1
  done
  log "task $cancel has $(finished_in_shard "$cancel") images; scancel ${job}_$cancel"
  scancel "${job}_$cancel"
  for _ in $(seq 600); do
    case $(task_state "$job" "$cancel") in *JobState=CANCELLED*) break ;; esac
    sleep 0.1
  done
  state=$(task_state "$job" "$cancel")
  case $state in *JobState=CANCELLED*) ;; *) fail "task ${job}_$cancel not cancelled: $state" ;; esac
  # Wait until the task's processes are gone (Slurm marks it CANCELLED on the signal).
  for _ in $(seq 300); do pgrep -f -- "$latentlab project .*--shard $cancel/$tasks" >/dev/null || break; sleep 0.1; done
  finished_before=$(finished_in_shard "$cancel")
  find "$work/array" -name metrics.json -exec stat -c '%i %n' {} + | sort -k2 >"$work/snapshot.txt"
  log "task $cancel cancelled with $finished_before images finished; resubmitting index $cancel"
  array=$cancel
  resubmitted=$(submit SHARDS="$tasks")
  log "resubmitted as job $resubmitted"
fi
wait_job "$job"
[ -n "$resubmitted" ] && wait_job "$resubmitted"
array_seconds=$(since "$t0")
log "array done in ${array_seconds}s (reference ${single_seconds}s)"

{
  echo "SLURM_VERSION='$version'"
  echo "JOB=$job"
  echo "RESUBMITTED=$resubmitted"
  echo "CANCELLED_INDEX=$([ $preempt -eq 1 ] && echo "$cancel")"
  echo "FINISHED_BEFORE_CANCEL=${finished_before:-}"
  echo "TASKS=$tasks IMAGES=$images STEPS=$steps BATCH=$batch SINGLE_BATCH=$single_batch"
  echo "SINGLE_SECONDS=$single_seconds"
  echo "ARRAY_SECONDS=$array_seconds"
  for k in $(seq 0 $((tasks - 1))); do echo "STATE_$k='$(task_state "$job" "$k")'"; done
  [ -n "$resubmitted" ] && echo "STATE_RESUBMITTED='$(task_state "$resubmitted" "$cancel")'"
} >"$work/facts.env"
cat "$work/facts.env"
