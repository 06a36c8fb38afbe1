#!/usr/bin/env bash
# capture_bench.sh: what the eBPF capture (issue 12) sees and what it costs
# the processes it runs beside, against polling and against no agent at all,
# in the same run.  Root (the agent loads its BPF program); run by hand.
#
#   bench/capture_bench.sh [churn] [flash] [phantom]     (default: all three)
#
# churn   Host cost.  bench/churn_loop (mmap 16 KiB, touch, mprotect 4 KiB,
#         munmap, CHURN_ITERS times), pinned with taskset to CHURN_CPU, in
#         three variants per round, the order rotating each round:
#           none       no agent of this script running;
#           unwatched  the agent running with capture = ebpf, watching a
#                      quiet workload (its BPF program is attached and sees
#                      every write acquisition of every mmap lock on the host);
#           watched    the same agent watching the churn loop itself (every
#                      iteration posts records the agent writes to its chain).
#         The measure is the loop's own CPU time per iteration (the BPF
#         programs run in its context); the ratio is taken to the "none" run
#         of the same round, and the median and range over CHURN_ROUNDS
#         rounds are printed.  The agent is pinned to AGENT_CPU.  Each run
#         also notes how many memmon_lock programs other than this agent's
#         were attached (another agent on the machine makes "none" not none).
#         CHURN_MODE=mprotect or getppid runs churn_loop's other loops;
#         AGENT_B=PATH adds a fourth variant, "unwatched-B": the same as
#         unwatched with the agent binary at PATH (another build, to compare
#         two versions of the BPF program in the same rounds).
# flash   A workload maps one page rwx, writes it and unmaps it, FLASH_COUNT
#         times, FLASH_GAP_US apart (each lives well under 1 ms; the workload
#         says how long the longest lived), watched at 1 s in each mode of
#         CAPTURES: how many are in the chain's events (`agent replay
#         --events`), how many were alerted `wx` (logs/events.jsonl), how
#         many events were lost.
# phantom The mremap phantom: `workload --regions 20000 --mremap-phantom F`
#         (one file page moved between the two ends of 20,000 regions as
#         fast as the process can) watched every 20 ms for PHANTOM_SECONDS in
#         each mode of CAPTURES; every recorded state is replayed and the
#         lines of the moving file counted: a state with 0 or 2 never
#         existed.
#
# Environment: CAPTURES ("ebpf poll"), CHURN_ITERS (50000), CHURN_MODE
# (churn), AGENT_B (none), CHURN_ROUNDS
# (15), CHURN_CPU (1), AGENT_CPU (0), FLASH_COUNT (10000), FLASH_GAP_US
# (100), PHANTOM_SECONDS (30), PHANTOM_MAX_STATES (300: replay at most that
# many, evenly spread), BAZEL, BAZEL_STARTUP, BAZEL_FLAGS (as
# bench/agent_bench.sh), KEEP=1 keeps the temp dir.  Every process the
# script starts is stopped on exit, Ctrl-C included.
set -euo pipefail

cd "$(dirname "$0")/.."

CAPTURES=${CAPTURES:-"ebpf poll"}
CHURN_ITERS=${CHURN_ITERS:-50000}
CHURN_MODE=${CHURN_MODE:-churn}
AGENT_B=${AGENT_B:-}
CHURN_ROUNDS=${CHURN_ROUNDS:-15}
CHURN_CPU=${CHURN_CPU:-1}
AGENT_CPU=${AGENT_CPU:-0}
FLASH_COUNT=${FLASH_COUNT:-10000}
FLASH_GAP_US=${FLASH_GAP_US:-100}
PHANTOM_SECONDS=${PHANTOM_SECONDS:-30}
PHANTOM_MAX_STATES=${PHANTOM_MAX_STATES:-300}
BAZEL=${BAZEL:-bazel}
read -r -a BAZEL_STARTUP_ARGS <<<"${BAZEL_STARTUP:-}"
read -r -a BAZEL_FLAG_ARGS <<<"${BAZEL_FLAGS:-}"
WHAT=("$@")
if ((${#WHAT[@]} == 0)); then
	WHAT=(churn flash phantom)
fi

log() { printf '%s\n' "capture_bench: $*" >&2; }
die() {
	log "$*"
	exit 1
}

((EUID == 0)) || die "run as root: the agent must load its BPF program"

declare -A PIDS=()
TMP=""
cleanup() {
	local p
	for p in "${!PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${!PIDS[@]}"; do
		local deadline=$((SECONDS + 10))
		while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.1
		done
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

log "building: $BAZEL ${BAZEL_STARTUP_ARGS[*]-} build -c opt ${BAZEL_FLAG_ARGS[*]-} //agent //bench:workload //bench:churn_loop"
"$BAZEL" "${BAZEL_STARTUP_ARGS[@]+"${BAZEL_STARTUP_ARGS[@]}"}" build -c opt \
	"${BAZEL_FLAG_ARGS[@]+"${BAZEL_FLAG_ARGS[@]}"}" //agent //bench:workload //bench:churn_loop >&2
BIN=$("$BAZEL" "${BAZEL_STARTUP_ARGS[@]+"${BAZEL_STARTUP_ARGS[@]}"}" info -c opt \
	"${BAZEL_FLAG_ARGS[@]+"${BAZEL_FLAG_ARGS[@]}"}" bazel-bin 2>/dev/null)
AGENT=$BIN/agent/agent
WORKLOAD=$BIN/bench/workload
CHURN=$BIN/bench/churn_loop
for f in "$AGENT" "$WORKLOAD" "$CHURN"; do
	[[ -x "$f" ]] || die "missing $f after the build"
done
command -v taskset >/dev/null || die "taskset (util-linux) is needed"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/memmon_capture_bench.XXXXXX")

# --- helpers -------------------------------------------------------------------

stop_pid() {
	local p=$1
	kill -TERM "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	unset "PIDS[$p]"
}

# wait_ready FILE SECONDS WHAT: until FILE has a line starting "ready" (a
# workload or churn_loop set up), or dies after SECONDS.
wait_ready() {
	local deadline=$((SECONDS + $2))
	until grep -q '^ready' "$1"; do
		((SECONDS < deadline)) || die "$3 did not get ready: $(head -c 300 "$1")"
		sleep 0.02
	done
}

# write_ini FILE CAPTURE INTERVAL PID: one target, t1.
write_ini() {
	cat >"$1" <<EOF
; written by bench/capture_bench.sh
[agent]
base_dir = .
capture = $2
[defaults]
interval = $3
[target:t1]
pid = $4
EOF
}

# start_agent DIR CAPTURE [BINARY]: starts the agent (BINARY, default the
# one just built) on DIR/memmon.ini, pinned to AGENT_CPU, and waits until it
# has written the first full snapshot of t1 and says it runs in CAPTURE
# mode.  Sets AGENT_PID.
start_agent() {
	local dir=$1 capture=$2 bin=${3:-$AGENT} deadline
	rm -rf "$dir/backups" "$dir/logs"
	taskset -c "$AGENT_CPU" "$bin" -c "$dir/memmon.ini" -f </dev/null >"$dir/agent.out" 2>&1 &
	AGENT_PID=$!
	PIDS[$AGENT_PID]=1
	deadline=$((SECONDS + 60))
	until compgen -G "$dir/backups/t1/full/*" >/dev/null; do
		((SECONDS < deadline)) || die "no first snapshot after 60 s; see $dir/agent.out"
		kill -0 "$AGENT_PID" 2>/dev/null || die "the agent ended early: $(tail -3 "$dir/agent.out")"
		sleep 0.05
	done
	grep -q "capture: $capture" "$dir/agent.out" "$dir"/logs/*.log 2>/dev/null ||
		die "agent asked for capture = $capture runs otherwise: $(grep -h 'capture:' "$dir/agent.out" | head -1)"
}

# foreign_progs: memmon_lock programs attached that this script's agent did
# not load (called when ours is not running, or minus one when it is).
memmon_progs() {
	if command -v bpftool >/dev/null; then
		bpftool prog show 2>/dev/null | grep -c 'name memmon_lock' || true
	else
		echo "?"
	fi
}

# median of the numbers on stdin; "min..max" with RANGE=1.
stats() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "n/a"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.4f (%.4f..%.4f, n=%d)\n", m, v[1], v[NR], NR }'
}

# --- churn -----------------------------------------------------------------------

churn() {
	local dir=$TMP/churn r k v out quiet fifo cpu others
	mkdir -p "$dir"
	local variants=(none unwatched watched)
	if [[ -n $AGENT_B ]]; then
		[[ -x $AGENT_B ]] || die "AGENT_B=$AGENT_B is not an executable"
		variants+=(unwatched-B)
	fi
	local nv=${#variants[@]}
	log "churn: $CHURN_ROUNDS rounds x (${variants[*]}), $CHURN_ITERS iterations of $CHURN_MODE each, loop on CPU $CHURN_CPU, agent on CPU $AGENT_CPU"
	"$WORKLOAD" --seconds 100000 </dev/null >"$dir/quiet.out" 2>&1 &
	quiet=$!
	PIDS[$quiet]=1
	: >"$dir/runs"
	for ((r = 0; r < CHURN_ROUNDS; r++)); do
		for ((k = 0; k < nv; k++)); do
			v=${variants[$(((k + r) % nv))]}
			case $v in
			none)
				others=$(memmon_progs)
				out=$(taskset -c "$CHURN_CPU" "$CHURN" -m "$CHURN_MODE" -n "$CHURN_ITERS")
				;;
			unwatched | unwatched-B)
				write_ini "$dir/memmon.ini" ebpf 1s "$quiet"
				if [[ $v == unwatched ]]; then
					start_agent "$dir" ebpf
				else
					start_agent "$dir" ebpf "$AGENT_B"
				fi
				others=$(($(memmon_progs) - 1))
				out=$(taskset -c "$CHURN_CPU" "$CHURN" -m "$CHURN_MODE" -n "$CHURN_ITERS")
				stop_pid "$AGENT_PID"
				;;
			watched)
				fifo=$dir/go
				rm -f "$fifo"
				mkfifo "$fifo"
				taskset -c "$CHURN_CPU" "$CHURN" -w -m "$CHURN_MODE" -n "$CHURN_ITERS" <"$fifo" >"$dir/loop.out" &
				local loop=$!
				PIDS[$loop]=1
				exec 9>"$fifo"
				wait_ready "$dir/loop.out" 10 "churn_loop -w"
				write_ini "$dir/memmon.ini" ebpf 1s "$loop"
				start_agent "$dir" ebpf
				others=$(($(memmon_progs) - 1))
				echo go >&9
				exec 9>&-
				wait "$loop" || die "churn_loop failed: $(cat "$dir/loop.out")"
				unset "PIDS[$loop]"
				out=$(grep -v '^ready' "$dir/loop.out")
				# Let the agent write what it drained, then count it.
				stop_pid "$AGENT_PID"
				local events lost
				events=$(cat "$dir"/backups/t1/*/* 2>/dev/null | grep -c '^! ' || true)
				lost=$(cat "$dir"/backups/t1/*/* 2>/dev/null | awk '$1 == "#" && $2 == "lost" { s += $3 } END { print s + 0 }')
				echo "$r watched-events $events $lost" >>"$dir/runs"
				;;
			esac
			read -r _ _ cpu _ <<<"$out"
			echo "$r $v $cpu $others" >>"$dir/runs"
		done
	done
	stop_pid "$quiet"

	echo
	echo "### churn ($CHURN_MODE): $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "$CHURN_ITERS iterations of $CHURN_MODE x $CHURN_ROUNDS rounds; CPU ns per iteration of the loop (median, min..max); ratio to the same round's \"none\"."
	echo
	echo "| variant | CPU ns per iteration | ratio to none |"
	echo "|---|---:|---:|"
	for v in "${variants[@]}"; do
		local ns ratio
		ns=$(awk -v v="$v" '$2 == v { print $3 }' "$dir/runs" | stats)
		ratio=$(awk -v v="$v" '$2 == "none" { n[$1] = $3 } $2 == v { c[$1] = $3 }
			END { for (r in c) if (r in n) print c[r] / n[r] }' "$dir/runs" | stats)
		echo "| $v | $ns | **$ratio** |"
	done
	if [[ -n $AGENT_B ]]; then
		echo
		echo "unwatched (this build) / unwatched-B ($AGENT_B), same round: $(awk '$2 == "unwatched" { a[$1] = $3 } $2 == "unwatched-B" { b[$1] = $3 }
			END { for (r in a) if (r in b) print a[r] / b[r] }' "$dir/runs" | stats)"
	fi
	echo
	echo "watched runs: events in the chain per run, lost: $(awk '$2 == "watched-events" { printf "%s/%s ", $3, $4 }' "$dir/runs")"
	echo "memmon_lock programs of other agents attached during the runs (in run order): $(awk '$2 != "watched-events" { printf "%s ", $4 }' "$dir/runs")"
}

# --- flash -----------------------------------------------------------------------

flash() {
	local c
	echo
	echo "### flash: $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "$FLASH_COUNT one-page rwx mappings, each written and unmapped at once, $FLASH_GAP_US µs apart, watched at 1 s."
	echo
	echo "| capture | longest life µs | rwx mmap events in the chain | munmap events | wx alerts raised | events lost | states recorded |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for c in $CAPTURES; do
		local dir=$TMP/flash_$c fifo wl reply deadline
		mkdir -p "$dir"
		fifo=$dir/cmd
		rm -f "$fifo"
		mkfifo "$fifo"
		"$WORKLOAD" <"$fifo" >"$dir/workload.out" 2>&1 &
		wl=$!
		PIDS[$wl]=1
		exec 9>"$fifo"
		wait_ready "$dir/workload.out" 10 workload
		write_ini "$dir/memmon.ini" "$c" 1s "$wl"
		start_agent "$dir" "$c"
		echo "flash $FLASH_COUNT $FLASH_GAP_US" >&9
		deadline=$((SECONDS + 300))
		until grep -q "^ok $FLASH_COUNT " "$dir/workload.out"; do
			((SECONDS < deadline)) || die "flash did not end: $(tail -2 "$dir/workload.out")"
			grep -q '^error' "$dir/workload.out" && die "workload: $(grep '^error' "$dir/workload.out")"
			sleep 0.1
		done
		reply=$(grep "^ok $FLASH_COUNT " "$dir/workload.out")
		# Two intervals for the last events to reach the chain.
		sleep 2.5
		stop_pid "$AGENT_PID"
		exec 9>&-
		stop_pid "$wl"
		local ev rwx unmaps alerts lost states
		ev=$(cd "$dir" && { "$AGENT" replay backups/t1 --events 2>/dev/null || true; })
		rwx=$(grep -c ' mmap by .*prot=rwx' <<<"$ev" || true)
		unmaps=$(grep -c ' munmap by ' <<<"$ev" || true)
		alerts=$(grep -c '"event":"alert",.*"rule":"wx"' "$dir/logs/events.jsonl" || true)
		lost=$(cat "$dir"/backups/t1/*/* 2>/dev/null | awk '$1 == "#" && $2 == "lost" { s += $3 } END { print s + 0 }')
		states=$(find "$dir/backups/t1" -type f -name '*_*_*' | wc -l)
		echo "| $c | $(awk '{ printf "%.0f", $3 / 1000 }' <<<"$reply") | $rwx of $FLASH_COUNT | $unmaps | $alerts of $FLASH_COUNT | $lost | $states |"
	done
}

# --- phantom ---------------------------------------------------------------------

phantom() {
	local c
	echo
	echo "### phantom: $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "One file page moved by mremap between the two ends of 20,000 regions, as fast as the process can; sampled every 20 ms for $PHANTOM_SECONDS s."
	echo
	echo "| capture | states recorded | states replayed | with the mapping once | phantoms (0 or 2 times) | mremap events in the chain |"
	echo "|---|---:|---:|---:|---:|---:|"
	for c in $CAPTURES; do
		local dir=$TMP/phantom_$c wl file
		mkdir -p "$dir"
		file=$dir/phantom.data
		"$WORKLOAD" --regions 20000 --mremap-phantom "$file" --seconds 100000 </dev/null >"$dir/workload.out" 2>&1 &
		wl=$!
		PIDS[$wl]=1
		wait_ready "$dir/workload.out" 60 "the phantom workload"
		write_ini "$dir/memmon.ini" "$c" 20ms "$wl"
		start_agent "$dir" "$c"
		sleep "$PHANTOM_SECONDS"
		stop_pid "$AGENT_PID"
		stop_pid "$wl"
		local names total step i=0 once=0 bad=0 replayed=0 n mremaps
		mapfile -t names < <(find "$dir/backups/t1" -type f -name '*_*_*.*' -printf '%f\n' |
			sed -E 's/^[^_]*_[^_]*_(.*)\.[^.]*$/\1/' | sort -u)
		total=${#names[@]}
		step=$(((total + PHANTOM_MAX_STATES - 1) / PHANTOM_MAX_STATES))
		((step > 0)) || step=1
		for ((i = 0; i < total; i += step)); do
			n=$(cd "$dir" && { "$AGENT" replay backups/t1 --at "${names[$i]}" 2>/dev/null | grep -c " $file\$" || true; })
			replayed=$((replayed + 1))
			if ((n == 1)); then
				once=$((once + 1))
			else
				bad=$((bad + 1))
				log "phantom: $c: state ${names[$i]} shows the mapping $n times"
			fi
		done
		mremaps=$(cd "$dir" && { "$AGENT" replay backups/t1 --events 2>/dev/null | grep -c ' mremap by ' || true; })
		echo "| $c | $total | $replayed | $once | **$bad** | $mremaps |"
	done
}

for w in "${WHAT[@]}"; do
	case $w in
	churn | flash | phantom) "$w" ;;
	*) die "unknown part '$w' (churn, flash, phantom)" ;;
	esac
done
