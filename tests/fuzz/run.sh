#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang and runs each for
# SECONDS (default 30) on a copy of its seed corpus.  Prints each target's
# executions (libFuzzer's final stats) and exits non-zero if any target
# crashed, leaked, hung or tripped a sanitizer, naming the input that did.
#
#   tests/fuzz/run.sh [SECONDS]
#
# Environment:
#   MEMMON_FUZZ_DIR   where binaries, logs and crash inputs go
#                     (default: $TMPDIR/memmon-fuzz-$UID, outside the tree)
#   FUZZ_TARGETS      the targets to run (default: maps backup config command json)
#   FUZZ_FLAGS        more libFuzzer flags, e.g. -seed=1
#   CC_FUZZ           the compiler (default: clang)
#
# The committed corpus (tests/fuzz/corpus/, plus the fixtures and shipped
# files tests/fuzz/seeds names) is never written to: each run fuzzes a copy
# in a temporary folder, removed at the end.  Inputs in
# tests/fuzz/regress/<target>/ (the crashes found so far) are replayed first.
set -euo pipefail

# One function, read whole before it runs, so that editing this file while
# it runs cannot derail the run.
main() {
	secs=${1:-30}
	case $secs in
	'' | *[!0-9]*)
		echo "usage: $0 [SECONDS]" >&2
		exit 2
		;;
	esac

	root=$(cd "$(dirname "$0")/../.." && pwd)
	out=${MEMMON_FUZZ_DIR:-${TMPDIR:-/tmp}/memmon-fuzz-$(id -u)}
	cc=${CC_FUZZ:-clang}
	targets=${FUZZ_TARGETS:-maps backup config command json}
	mkdir -p "$out/bin" "$out/logs" "$out/crashes"
	out=$(cd "$out" && pwd)

	# Per target: the largest input and the sources besides the fuzzer itself.
	max_len() {
		case $1 in
		maps | backup) echo 16384 ;;
		config | json) echo 4096 ;;
		command) echo 8192 ;;
		esac
	}
	# Every core/ module (and config/ for the config target): a list per
	# target went stale with every split of a module.  The globs expand in
	# the repository's root, where the compiler runs.
	sources() {
		case $1 in
		maps | backup | command | json) echo "core/*.c" ;;
		config) echo "config/*.c core/*.c" ;;
		*)
			echo "unknown fuzz target: $1" >&2
			return 1
			;;
		esac
	}
	libs() {
		case $1 in
		config) echo "-linih -Wl,--wrap=glob -pthread -lm" ;; # the wrap keeps [include] in its folder
		*) echo "-pthread -lm" ;;
		esac
	}

	# shellcheck disable=SC2054 # the commas are -fsanitize='s
	cflags=(-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
		-D_GNU_SOURCE -DMEMMON_LIBFUZZER -std=c11 -Wall -Wextra -Wvla -I"$root")

	# Fail early, and clearly, where clang or its libFuzzer runtime is missing.
	probe=$(mktemp -d)
	trap 'rm -rf "$probe"' EXIT
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
		>"$probe/p.c"
	if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
		cat "$probe/err" >&2
		echo "run.sh: '$cc -fsanitize=fuzzer' does not work; install clang and libclang-rt-14-dev" \
			"(scripts/install-deps)" >&2
		exit 2
	fi

	# The corpus copies and the config target's files live here, in memory
	# where /dev/shm is writable.
	base=/dev/shm
	[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
	work=$(mktemp -d "$base/memmon-fuzz.XXXXXX")
	trap 'rm -rf "$probe" "$work"' EXIT

	export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	export TEST_TMPDIR=$work

	failed=0
	total=0
	summary=()
	for t in $targets; do
		src=$(sources "$t")
		bin=$out/bin/fuzz_$t
		log=$out/logs/fuzz_$t.log
		crashes=$out/crashes/$t
		mkdir -p "$crashes"
		echo "== fuzz_$t: building"
		# shellcheck disable=SC2046,SC2086
		(cd "$root" && "$cc" "${cflags[@]}" "tests/fuzz/fuzz_$t.c" $src $(libs "$t") -o "$bin")

		if [ -d "$root/tests/fuzz/regress/$t" ] && [ -n "$(ls -A "$root/tests/fuzz/regress/$t")" ]; then
			echo "== fuzz_$t: replaying tests/fuzz/regress/$t"
			if ! "$bin" "$root"/tests/fuzz/regress/"$t"/* </dev/null >"$log" 2>&1; then
				tail -n 40 "$log"
				echo "FAIL fuzz_$t: a regression input fails again (log: $log)"
				failed=1
				summary+=("fuzz_$t: regression input failed")
				continue
			fi
		fi

		corpus=$work/corpus_$t
		mkdir -p "$corpus"
		cp -R "$root/tests/fuzz/corpus/$t/." "$corpus/"
		while read -r target glob; do
			[ "$target" = "$t" ] || continue
			# shellcheck disable=SC2086 # the glob is meant to expand
			for f in "$root"/$glob; do
				if [ -f "$f" ]; then
					rel=${f#"$root"/}
					cp "$f" "$corpus/seed_${rel//\//_}"
				fi
			done
		done < <(grep -v '^#' "$root/tests/fuzz/seeds")
		echo "== fuzz_$t: fuzzing for ${secs}s"
		rc=0
		# shellcheck disable=SC2086
		"$bin" "$corpus" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 \
			-rss_limit_mb=512 -malloc_limit_mb=256 -print_final_stats=1 \
			-artifact_prefix="$crashes/" ${FUZZ_FLAGS:-} </dev/null >"$log" 2>&1 || rc=$?
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
		rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
		grep '^stat::' "$log" || true
		if [ "$rc" -ne 0 ]; then
			artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
			grep -E -B2 -A30 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|broken promise' \
				"$log" | head -n 60 || tail -n 40 "$log"
			echo "FAIL fuzz_$t: exit $rc after ${execs:-?} executions; crash input: ${artifact:-none written}"
			echo "     log: $log"
			echo "     reproduce: $bin ${artifact:-<input>}"
			echo "     minimize:  $bin -minimize_crash=1 -max_total_time=60 ${artifact:-<input>}"
			failed=1
			summary+=("fuzz_$t: CRASH ${artifact:-} after ${execs:-?} executions")
		else
			echo "ok fuzz_$t: ${execs:-?} executions in ${secs}s (${rate:-?}/s, peak RSS ${rss:-?} MB)"
			summary+=("fuzz_$t: ${execs:-?} executions, ok")
			total=$((total + ${execs:-0}))
		fi
	done

	echo "== summary (${secs}s per target)"
	printf '%s\n' "${summary[@]}"
	echo "total executions: $total"
	exit "$failed"
}

main "$@"
