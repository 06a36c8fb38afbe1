#!/usr/bin/env bash
# agent_bench.sh: the memmon agent against a bare reader of the same maps
# files at the same interval, in the same run.
#
#   bench/agent_bench.sh
#
# Builds //agent and //bench:all with -c opt, then for each scenario starts
# the workload processes, writes one INI file per capture mode with a
# [target:tN] pid = ... section per process, and runs in turn the agent
# (`agent -c FILE -f`, in a temp base dir) in each mode of CAPTURES and
# bench/bare_reader (`-c FILE`: open, read whole, close, every interval on
# absolute deadlines, one thread) on those pids.  Each program runs ROUNDS
# times, the order rotating by one each round, so that none always follows
# the same one; its CPU time (utime + stime from /proc/PID/stat) and the bytes it
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
# CAPTURES (space-separated, default "poll ebpf"): the agent's `capture`
# modes to measure, each against the same bare reader.  An agent that was
# asked for ebpf and polls instead (not root, no BTF) stops the run.
# FLOOR=1 also runs bench/wake_floor (one thread per target waking every
# interval and doing nothing) as one more program: what is left of a quiet
# target's cost when no file is read.
#
# Environment: WINDOW (default 10 s), ROUNDS (2), WARMUP (2 s), SCENARIOS, CAPTURES,
# BAZEL (bazel), BAZEL_STARTUP (e.g. --output_base=/tmp/ob), BAZEL_FLAGS
# (extra build flags, e.g. --symlink_prefix=/), KEEP=1 keeps the temp dir.
# Every process the script starts is stopped on exit, Ctrl-C included.
set -euo pipefail

cd "$(dirname "$0")/.."

WINDOW=${WINDOW:-10}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-2}
SCENARIOS=${SCENARIOS:-"big many hundred"}
CAPTURES=${CAPTURES:-"poll ebpf"}
FLOOR=${FLOOR:-0}
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
WAKE_FLOOR=$BIN/bench/wake_floor
for f in "$AGENT" "$BARE" "$WORKLOAD" "$WAKE_FLOOR"; do
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
	# Each program's turn also waits up to 60 s for the first snapshots.
	local nprog=$((1 + $(wc -w <<<"$CAPTURES") + (FLOOR == 1 ? 1 : 0)))
	local life=$(((WARMUP + WINDOW + 60) * ROUNDS * nprog + 120))
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

# write_ini FILE INTERVAL CAPTURE: one target per workload.
write_ini() {
	local file=$1 interval=$2 capture=$3 i=0 p
	{
		echo "; written by bench/agent_bench.sh"
		echo "[agent]"
		echo "base_dir = ."
		echo "capture = $capture"
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

# run_agent INI COUNT CAPTURE: one round of the agent; adds to the
# A_* accumulators of CAPTURE.
run_agent() {
	local ini=$1 count=$2 capture=$3 dir
	dir=$(dirname "$ini")
	rm -rf "$dir/backups" "$dir/logs"
	"$AGENT" -c "$ini" -f </dev/null >"$dir/agent.out" 2>&1 &
	local pid=$!
	PIDS[$pid]=1
	wait_full "$dir" "$count"
	measure "agent ($capture)" "$pid"
	# The mode the agent says it runs in, from its start-up line.
	if ! grep -q "capture: $capture" "$dir/agent.out" "$dir"/logs/*.log 2>/dev/null; then
		die "agent asked for capture = $capture runs otherwise: $(grep -h 'capture:' "$dir/agent.out" "$dir"/logs/*.log 2>/dev/null | head -1)"
	fi
	A_CPU[$capture]=$(awk -v s="${A_CPU[$capture]}" -v c="$M_CPU" 'BEGIN { printf "%.2f", s + c }')
	A_READ[$capture]=$((A_READ[$capture] + M_READ))
	if ((M_HWM > A_HWM[$capture])); then
		A_HWM[$capture]=$M_HWM
	fi
	A_START[$capture]="${A_START[$capture]} $M_START_CPU"
	A_THREADS[$capture]=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")
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

run_floor() {
	local count=$1 interval=$2
	"$WAKE_FLOOR" -n "$count" -T "$interval" 2>>"$TMP/floor.err" &
	local pid=$!
	PIDS[$pid]=1
	measure wake_floor "$pid"
	F_CPU=$(awk -v s="$F_CPU" -v c="$M_CPU" 'BEGIN { printf "%.2f", s + c }')
	if ((M_HWM > F_HWM)); then
		F_HWM=$M_HWM
	fi
	stop_pids "$pid"
}

ROWS=()
declare -A A_CPU A_READ A_HWM A_START A_THREADS
# scenario NAME COUNT REGIONS INTERVAL
scenario() {
	local name=$1 count=$2 regions=$3 interval=$4 dir=$TMP/$1 r k c
	local programs=(bare)
	if [[ $FLOOR == 1 ]]; then
		programs+=(floor)
	fi
	for c in $CAPTURES; do
		mkdir -p "$dir/$c"
		programs+=("$c")
	done
	log "$name: starting $count workload(s) of $regions regions"
	start_workloads "$count" "$regions"
	for c in $CAPTURES; do
		write_ini "$dir/$c/memmon.ini" "$interval" "$c"
		A_CPU[$c]=0 A_READ[$c]=0 A_HWM[$c]=0 A_START[$c]="" A_THREADS[$c]=0
	done
	B_CPU=0 B_READ=0 B_HWM=0 F_CPU=0 F_HWM=0
	local np=${#programs[@]}
	for ((r = 1; r <= ROUNDS; r++)); do
		local order=()
		for ((k = 0; k < np; k++)); do
			order+=("${programs[$(((k + r - 1) % np))]}")
		done
		log "$name: round $r/$ROUNDS: ${order[*]} (${WINDOW}s each)"
		for c in "${order[@]}"; do
			if [[ $c == bare ]]; then
				run_bare "$dir/${programs[-1]}/memmon.ini" "$interval"
			elif [[ $c == floor ]]; then
				run_floor "$count" "$interval"
			else
				run_agent "$dir/$c/memmon.ini" "$count" "$c"
			fi
		done
	done
	stop_pids "${WL_PIDS[@]}"
	local secs=$((WINDOW * ROUNDS))
	for c in $CAPTURES; do
		ROWS+=("$(awk -v n="$name" -v cap="$c" -v c="$count" -v rg="$regions" -v iv="$interval" -v s="$secs" \
			-v a="${A_CPU[$c]}" -v b="$B_CPU" -v ah="${A_HWM[$c]}" -v bh="$B_HWM" -v ar="${A_READ[$c]}" \
			-v br="$B_READ" -v st="${A_START[$c]}" -v th="${A_THREADS[$c]}" 'BEGIN {
				ratio = b > 0 ? sprintf("%.4f", a / b) : "n/a"
				printf "| %s | %s | %d × %d regions | %s | %d | %.2f | %.2f | **%s** | %.2f%% | %.2f%% | %.1f | %.1f | %.1f | %.1f | %s | %d |",
					n, cap, c, rg, iv, s, a, b, ratio, 100 * a / s, 100 * b / s, ah / 1024, bh / 1024,
					ar / 1048576, br / 1048576, st, th
			}')")
	done
	if [[ $FLOOR == 1 ]]; then
		ROWS+=("$(awk -v n="$name" -v c="$count" -v rg="$regions" -v iv="$interval" -v s="$secs" \
			-v a="$F_CPU" -v b="$B_CPU" -v ah="$F_HWM" -v bh="$B_HWM" 'BEGIN {
				printf "| %s | (wake_floor: %d threads waking, no work) | %d × %d regions | %s | %d | %.2f | %.2f | **%.4f** | %.2f%% | %.2f%% | %.1f | %.1f | 0.0 | – | – | %d |",
					n, c, c, rg, iv, s, a, b, (b > 0 ? a / b : 0), 100 * a / s, 100 * b / s, ah / 1024, bh / 1024, c + 1
			}')")
	fi
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
echo "Window: ${WINDOW}s × $ROUNDS rounds per program (the agent in each capture mode and the bare reader in turn, the order rotating), after the first full snapshots and ${WARMUP}s more."
echo
echo "| scenario | capture | targets | interval | measured s | agent CPU s | bare reader CPU s | agent / bare | agent % of a core | bare % of a core | agent peak RSS MiB | bare peak RSS MiB | agent MiB read | bare MiB read | agent CPU s before the window, per round | agent threads |"
echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
for row in "${ROWS[@]}"; do
	echo "$row"
done
