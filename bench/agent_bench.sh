#!/usr/bin/env bash
# agent_bench.sh: the memmon agent against a bare reader of the same maps
# files at the same interval, in the same run.
#
#   bench/agent_bench.sh
#
# Builds //agent and //bench:all with -c opt, then for each scenario starts
# the workload processes, writes one INI file with a [target:tN] pid = ...
# section per process, and runs in turn the agent (`agent -c FILE -f`, in a
# temp base dir) and bench/bare_reader (`-c FILE`: open, read whole, close,
# every interval on absolute deadlines, one thread) on those pids.  Each
# program runs ROUNDS times, the order alternating (agent first in odd
# rounds); its CPU time (utime + stime from /proc/PID/stat) and the bytes it
# read (rchar from /proc/PID/io) are taken over a window of WINDOW seconds
# that starts once the agent has written its first full snapshot of every
# target and WARMUP more seconds have passed, so start-up is left out (the
# agent's start-up CPU is reported apart).  Peak RSS is VmHWM just before
# the program is stopped.
#
# Scenarios (SCENARIOS, space-separated; default all three):
#   big      1 workload of 60,000 anonymous regions, 100 ms
#   many     1,000 workloads of 10 regions, 1 s
#   hundred  100 workloads of 100 regions, 100 ms
#
# Environment: WINDOW (default 10 s), ROUNDS (2), WARMUP (2 s), SCENARIOS,
# BAZEL (bazel), BAZEL_STARTUP (e.g. --output_base=/tmp/ob), BAZEL_FLAGS
# (extra build flags, e.g. --symlink_prefix=/), KEEP=1 keeps the temp dir.
# Every process the script starts is stopped on exit, Ctrl-C included.
set -euo pipefail

cd "$(dirname "$0")/.."

WINDOW=${WINDOW:-10}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-2}
SCENARIOS=${SCENARIOS:-"big many hundred"}
BAZEL=${BAZEL:-bazel}
read -r -a BAZEL_STARTUP_ARGS <<<"${BAZEL_STARTUP:-}"
read -r -a BAZEL_FLAG_ARGS <<<"${BAZEL_FLAGS:-}"

log() { printf '%s\n' "agent_bench: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# Every pid this script starts and has not yet stopped (the keys), so that
# cleanup stops them all.
declare -A PIDS=()
TMP=""
cleanup() {
	local p alive=() still
	for p in "${!PIDS[@]}"; do
		if kill -TERM "$p" 2>/dev/null; then
			alive+=("$p")
		fi
	done
	# Give them a moment, then make sure.
	local deadline=$((SECONDS + 10))
	while ((${#alive[@]} > 0 && SECONDS < deadline)); do
		still=()
		for p in "${alive[@]}"; do
			if kill -0 "$p" 2>/dev/null; then
				still+=("$p")
			fi
		done
		alive=("${still[@]+"${still[@]}"}")
		if ((${#alive[@]} > 0)); then
			sleep 0.2
		fi
	done
	for p in "${alive[@]+"${alive[@]}"}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	PIDS=()
	if [[ -n "$TMP" && -d "$TMP" && "${KEEP:-0}" != 1 ]]; then
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- build -------------------------------------------------------------------
log "building: $BAZEL ${BAZEL_STARTUP_ARGS[*]-} build -c opt ${BAZEL_FLAG_ARGS[*]-} //agent //bench:all"
"$BAZEL" "${BAZEL_STARTUP_ARGS[@]+"${BAZEL_STARTUP_ARGS[@]}"}" build -c opt \
	"${BAZEL_FLAG_ARGS[@]+"${BAZEL_FLAG_ARGS[@]}"}" //agent //bench:all >&2
BIN=$("$BAZEL" "${BAZEL_STARTUP_ARGS[@]+"${BAZEL_STARTUP_ARGS[@]}"}" info -c opt \
	"${BAZEL_FLAG_ARGS[@]+"${BAZEL_FLAG_ARGS[@]}"}" bazel-bin 2>/dev/null)
AGENT=$BIN/agent/agent
BARE=$BIN/bench/bare_reader
WORKLOAD=$BIN/bench/workload
for f in "$AGENT" "$BARE" "$WORKLOAD"; do
	[[ -x "$f" ]] || die "missing $f after the build"
done

# --- limits --------------------------------------------------------------------
HZ=$(getconf CLK_TCK)
max_map=$(cat /proc/sys/vm/max_map_count)
nofile=$(ulimit -n)
nproc_limit=$(ulimit -u)
pid_max=$(cat /proc/sys/kernel/pid_max)
threads_max=$(cat /proc/sys/kernel/threads-max)
# The agent keeps per target its maps fd and three folder fds.
if [[ "$nofile" != unlimited ]] && ((nofile < 4200)); then
	hard=$(ulimit -Hn)
	if [[ "$hard" == unlimited ]] || ((hard >= 4200)); then
		ulimit -n 4200 && log "raised ulimit -n from $nofile to 4200"
	else
		log "WARNING: ulimit -n is $nofile (hard $hard); 1,000 targets need about 4,100 fds"
	fi
fi
if ((max_map < 60100)); then
	log "WARNING: vm.max_map_count is $max_map; the 60,000-region workload needs 60,100 (sysctl -w vm.max_map_count=65530)"
fi
# 1,000 workloads plus 1,000 agent threads plus this shell's helpers.
if [[ "$nproc_limit" != unlimited ]] && ((nproc_limit < 2600)); then
	log "WARNING: ulimit -u is $nproc_limit; the 1,000-target scenario runs about 2,100 processes and threads"
fi
if ((pid_max < 4096 || threads_max < 4096)); then
	log "WARNING: kernel.pid_max $pid_max, kernel.threads-max $threads_max: the 1,000-target scenario may not fit"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/memmon_agent_bench.XXXXXX")

# --- helpers -------------------------------------------------------------------

# cpu_ticks PID: utime + stime of all its threads, in clock ticks.
cpu_ticks() {
	local stat rest
	stat=$(<"/proc/$1/stat") || return 1
	# Fields after the command name, which may hold spaces: state is the
	# first, utime the 12th, stime the 13th.
	rest=${stat##*) }
	read -r -a f <<<"$rest"
	echo $((f[11] + f[12]))
}

# rchar PID: bytes the process has read with read() and pread().
rchar() {
	awk '/^rchar:/ { print $2 }' "/proc/$1/io"
}

# status_kb PID KEY: a kB value from /proc/PID/status.
status_kb() {
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

WL_PIDS=()
# start_workloads COUNT REGIONS: starts them and waits until each says ready.
start_workloads() {
	local count=$1 regions=$2 ready=$TMP/ready.$RANDOM i
	: >"$ready"
	WL_PIDS=()
	# They end on their own after this long, should everything else fail.
	local life=$(((WARMUP + WINDOW) * ROUNDS * 2 + 120))
	for ((i = 0; i < count; i++)); do
		"$WORKLOAD" --regions "$regions" --seconds "$life" </dev/null >>"$ready" 2>>"$TMP/workload.err" &
		WL_PIDS+=($!)
		PIDS[$!]=1
	done
	local deadline=$((SECONDS + 120))
	while (($(wc -l <"$ready") < count)); do
		((SECONDS < deadline)) || die "only $(wc -l <"$ready") of $count workloads got ready ($(head -c 300 "$TMP/workload.err"))"
		sleep 0.2
	done
}

stop_pids() {
	local p
	for p in "$@"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "$@"; do
		wait "$p" 2>/dev/null || true
		unset "PIDS[$p]"
	done
}

# write_ini FILE INTERVAL: one target per workload.
write_ini() {
	local file=$1 interval=$2 i=0 p
	{
		echo "; written by bench/agent_bench.sh"
		echo "[agent]"
		echo "base_dir = ."
		echo "[defaults]"
		echo "interval = $interval"
		for p in "${WL_PIDS[@]}"; do
			i=$((i + 1))
			echo "[target:t$i]"
			echo "pid = $p"
		done
	} >"$file"
}

# wait_full BASE COUNT: until the agent has written a first full snapshot of
# every target (or 60 s passed).
wait_full() {
	local base=$1 count=$2 deadline=$((SECONDS + 60)) n=0
	while ((SECONDS < deadline)); do
		n=$({ find "$base/backups" -path '*/full/backup_*' 2>/dev/null || true; } | wc -l)
		if ((n >= count)); then
			return 0
		fi
		sleep 0.2
	done
	log "WARNING: only $n of $count first full snapshots after 60 s"
}

# measure NAME PID: waits WARMUP, then measures over WINDOW seconds; sets
# M_CPU (seconds), M_READ (bytes), M_HWM (kB), M_START_CPU (seconds before
# the window).
measure() {
	local pid=$2 c0 c1 r0 r1
	sleep "$WARMUP"
	kill -0 "$pid" 2>/dev/null || die "$1 (pid $pid) ended early; see $TMP"
	c0=$(cpu_ticks "$pid")
	r0=$(rchar "$pid")
	sleep "$WINDOW"
	kill -0 "$pid" 2>/dev/null || die "$1 (pid $pid) ended early; see $TMP"
	c1=$(cpu_ticks "$pid")
	r1=$(rchar "$pid")
	M_HWM=$(status_kb "$pid" VmHWM)
	M_CPU=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')
	M_START_CPU=$(awk -v a="$c0" -v hz="$HZ" 'BEGIN { printf "%.2f", a / hz }')
	M_READ=$((r1 - r0))
}

run_agent() {
	local ini=$1 count=$2 dir
	dir=$(dirname "$ini")
	"$AGENT" -c "$ini" -f </dev/null >"$dir/agent.out" 2>&1 &
	local pid=$!
	PIDS[$pid]=1
	wait_full "$dir" "$count"
	measure agent "$pid"
	A_CPU=$(awk -v s="$A_CPU" -v c="$M_CPU" 'BEGIN { printf "%.2f", s + c }')
	A_READ=$((A_READ + M_READ))
	if ((M_HWM > A_HWM)); then
		A_HWM=$M_HWM
	fi
	A_START="$A_START $M_START_CPU"
	A_THREADS=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")
	stop_pids "$pid"
}

run_bare() {
	local ini=$1 interval=$2
	"$BARE" -T "$interval" -c "$ini" 2>>"$(dirname "$ini")/bare.err" &
	local pid=$!
	PIDS[$pid]=1
	measure bare_reader "$pid"
	B_CPU=$(awk -v s="$B_CPU" -v c="$M_CPU" 'BEGIN { printf "%.2f", s + c }')
	B_READ=$((B_READ + M_READ))
	if ((M_HWM > B_HWM)); then
		B_HWM=$M_HWM
	fi
	stop_pids "$pid"
}

ROWS=()
# scenario NAME COUNT REGIONS INTERVAL
scenario() {
	local name=$1 count=$2 regions=$3 interval=$4 dir=$TMP/$1 r
	mkdir -p "$dir"
	log "$name: starting $count workload(s) of $regions regions"
	start_workloads "$count" "$regions"
	write_ini "$dir/memmon.ini" "$interval"
	A_CPU=0 B_CPU=0 A_READ=0 B_READ=0 A_HWM=0 B_HWM=0 A_START="" A_THREADS=0
	for ((r = 1; r <= ROUNDS; r++)); do
		# A fresh base dir per round: each agent starts a new chain.
		rm -rf "$dir/backups" "$dir/logs"
		if ((r % 2 == 1)); then
			log "$name: round $r/$ROUNDS: agent, then bare reader (${WINDOW}s each)"
			run_agent "$dir/memmon.ini" "$count"
			run_bare "$dir/memmon.ini" "$interval"
		else
			log "$name: round $r/$ROUNDS: bare reader, then agent (${WINDOW}s each)"
			run_bare "$dir/memmon.ini" "$interval"
			run_agent "$dir/memmon.ini" "$count"
		fi
	done
	stop_pids "${WL_PIDS[@]}"
	local secs=$((WINDOW * ROUNDS))
	ROWS+=("$(awk -v n="$name" -v c="$count" -v rg="$regions" -v iv="$interval" -v s="$secs" \
		-v a="$A_CPU" -v b="$B_CPU" -v ah="$A_HWM" -v bh="$B_HWM" -v ar="$A_READ" -v br="$B_READ" \
		-v st="$A_START" -v th="$A_THREADS" 'BEGIN {
			ratio = b > 0 ? sprintf("%.3f", a / b) : "n/a"
			printf "| %s | %d × %d regions | %s | %d | %.2f | %.2f | **%s** | %.2f%% | %.2f%% | %.1f | %.1f | %.1f | %.1f | %s | %d |",
				n, c, rg, iv, s, a, b, ratio, 100 * a / s, 100 * b / s, ah / 1024, bh / 1024,
				ar / 1048576, br / 1048576, st, th
		}')")
}

for s in $SCENARIOS; do
	case $s in
	big)
		if ((max_map < 60100)); then
			log "big: skipped (vm.max_map_count $max_map)"
			continue
		fi
		scenario big 1 60000 100ms
		;;
	many) scenario many 1000 10 1s ;;
	hundred) scenario hundred 100 100 100ms ;;
	*) die "unknown scenario '$s' (big, many, hundred)" ;;
	esac
done

echo
echo "Machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r); load average before the last scenario ended: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Window: ${WINDOW}s × $ROUNDS rounds per program (agent and bare reader alternating), after the first full snapshots and ${WARMUP}s more."
echo
echo "| scenario | targets | interval | measured s | agent CPU s | bare reader CPU s | agent / bare | agent % of a core | bare % of a core | agent peak RSS MiB | bare peak RSS MiB | agent MiB read | bare MiB read | agent CPU s before the window, per round | agent threads |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
for row in "${ROWS[@]}"; do
	echo "$row"
done
