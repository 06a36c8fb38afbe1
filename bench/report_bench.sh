#!/usr/bin/env bash
# report_bench.sh: what `agent report` costs on a large history, and how
# fast its page renders in headless Chromium, next to an empty page
# rendered in the same run.
#
#   bench/report_bench.sh
#
# Builds //agent and //bench:report_chain with -c opt, writes a synthetic
# chain with memmon's own writer (bench/report_chain: REGIONS regions,
# STATES recorded states, a full snapshot every 100), and then:
#   - runs `agent verify` (the baseline: it reads and checks the same
#     chain) and `agent report` on it in turn, ROUNDS times: wall times,
#     the report's peak RSS (GNU time), the size of the HTML file;
#   - renders the report and a baseline (an empty HTML page) in turn,
#     ROUNDS times each, with `chromium --headless --screenshot` at
#     1280x800: the wall time of each Chromium run (start to exit, so
#     start-up, parse, script, layout and paint), the report's minus the
#     baseline's, and their ratio;
#   - from the report's own clock (body[data-render-ms]: navigation start to
#     the map drawn and the last moment's maps text built; data-timing
#     splits it), the median redraw after a zoom and the median click on a
#     moment (#bench: data-redraw-ms, data-select-ms).
# Prints medians as a Markdown table.
#
# Environment: REGIONS (60000), STATES (1000), ROUNDS (5), BAZEL (bazel),
# BAZEL_STARTUP (e.g. --output_base=/tmp/ob), BAZEL_FLAGS (e.g.
# --symlink_prefix=/), CHROMIUM (chromium), KEEP=1 keeps the temp dir.
#
# The backquotes in the printed table are Markdown, not commands:
# shellcheck disable=SC2016
set -euo pipefail

cd "$(dirname "$0")/.."

REGIONS=${REGIONS:-60000}
STATES=${STATES:-1000}
ROUNDS=${ROUNDS:-5}
BAZEL=${BAZEL:-bazel}
CHROMIUM=${CHROMIUM:-chromium}
read -r -a BAZEL_STARTUP_ARGS <<<"${BAZEL_STARTUP:-}"
read -r -a BAZEL_FLAG_ARGS <<<"${BAZEL_FLAGS:-}"

log() { printf '%s\n' "report_bench: $*" >&2; }
die() {
	log "$*"
	exit 1
}

command -v "$CHROMIUM" >/dev/null || die "$CHROMIUM not found (scripts/install-deps installs chromium)"
[[ -x /usr/bin/time ]] || log "no /usr/bin/time (Debian: time): peak RSS not measured"

TMP=""
cleanup() {
	if [[ -n "$TMP" && -d "$TMP" && "${KEEP:-0}" != 1 ]]; then
		rm -rf "$TMP"
	elif [[ -n "$TMP" ]]; then
		log "kept $TMP"
	fi
}
trap cleanup EXIT

log "building: $BAZEL build -c opt //agent //bench:report_chain"
"$BAZEL" "${BAZEL_STARTUP_ARGS[@]+"${BAZEL_STARTUP_ARGS[@]}"}" build -c opt \
	"${BAZEL_FLAG_ARGS[@]+"${BAZEL_FLAG_ARGS[@]}"}" //agent //bench:report_chain >&2
BIN=$("$BAZEL" "${BAZEL_STARTUP_ARGS[@]+"${BAZEL_STARTUP_ARGS[@]}"}" info -c opt \
	"${BAZEL_FLAG_ARGS[@]+"${BAZEL_FLAG_ARGS[@]}"}" bazel-bin 2>/dev/null)
AGENT=$BIN/agent/agent
CHAIN=$BIN/bench/report_chain
for f in "$AGENT" "$CHAIN"; do
	[[ -x "$f" ]] || die "missing $f after the build"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/memmon_report_bench.XXXXXX")
log "writing a chain of $REGIONS regions and $STATES states in $TMP"
"$CHAIN" "$TMP/backups/synth" --regions "$REGIONS" --states "$STATES" >&2
chain_bytes=$(du -sb "$TMP/backups" | cut -f1)

now_ms() { date +%s%3N; }

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# --- agent report, next to agent verify (which reads the same chain) ---------------
gen=() rss=() ver=()
for ((i = 0; i < ROUNDS; i++)); do
	t0=$(now_ms)
	"$AGENT" verify "$TMP/backups/synth" >/dev/null
	ver+=($(($(now_ms) - t0)))
	t0=$(now_ms)
	if [[ -x /usr/bin/time ]]; then
		/usr/bin/time -f %M -o "$TMP/rss" "$AGENT" report "$TMP/backups/synth" -o "$TMP/report.html" 2>/dev/null
		rss+=("$(tail -1 "$TMP/rss")")
	else
		"$AGENT" report "$TMP/backups/synth" -o "$TMP/report.html" 2>/dev/null
	fi
	gen+=($(($(now_ms) - t0)))
done
html_bytes=$(stat -c %s "$TMP/report.html")

# --- rendering ---------------------------------------------------------------------
printf '<!DOCTYPE html><html><head><meta charset="utf-8"><title>empty</title></head><body></body></html>\n' \
	>"$TMP/empty.html"

chromium_run() { # chromium_run OUT URL ARGS...: the wall time in ms
	local out=$1 url=$2 profile t0
	shift 2
	profile=$(mktemp -d "$TMP/profile.XXXXXX")
	t0=$(now_ms)
	"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$profile" --window-size=1280,800 "$@" "$url" >"$out" 2>/dev/null
	echo $(($(now_ms) - t0))
	rm -rf "$profile"
}

base=() rep=() diff=() page=() redraw=() select=()
for ((i = 0; i < ROUNDS; i++)); do
	# Alternate which goes first, so both see the same machine.
	if ((i % 2 == 0)); then
		b=$(chromium_run /dev/null "file://$TMP/empty.html" --screenshot="$TMP/empty.png")
		r=$(chromium_run /dev/null "file://$TMP/report.html" --screenshot="$TMP/report.png")
	else
		r=$(chromium_run /dev/null "file://$TMP/report.html" --screenshot="$TMP/report.png")
		b=$(chromium_run /dev/null "file://$TMP/empty.html" --screenshot="$TMP/empty.png")
	fi
	base+=("$b")
	rep+=("$r")
	diff+=($((r - b)))
	chromium_run "$TMP/dom.html" "file://$TMP/report.html#bench" --dump-dom --virtual-time-budget=60000 >/dev/null
	bodytag=$(grep -o '<body[^>]*>' "$TMP/dom.html" | head -1)
	grep -q 'data-state="ready"' <<<"$bodytag" || die "the page did not get ready: $bodytag"
	grep -q 'data-count="0"' <(grep -o 'id="errors"[^>]*' "$TMP/dom.html") || die "the page reported errors"
	page+=("$(sed -n 's/.*data-render-ms="\([0-9]*\)".*/\1/p' <<<"$bodytag")")
	redraw+=("$(sed -n 's/.*data-redraw-ms="\([0-9]*\)".*/\1/p' <<<"$bodytag")")
	select+=("$(sed -n 's/.*data-select-ms="\([0-9]*\)".*/\1/p' <<<"$bodytag")")
	timing=$(sed -n 's/.*data-timing="\([^"]*\)".*/\1/p' <<<"$bodytag")
	merged=$(grep -o '<svg id="map"[^>]*>' "$TMP/dom.html" | sed -n 's/.*data-merged="\([0-9]*\)".*data-merged-bars="\([0-9]*\)".*/\1 regions in \2 merged bars/p')
done

m() { printf '%s\n' "$@" | median; }
bm=$(m "${base[@]}")
rm_=$(m "${rep[@]}")
printf '\n## agent report: %s regions, %s states (%s rounds)\n\n' "$REGIONS" "$STATES" "$ROUNDS"
printf '| measure | median |\n|---|---|\n'
printf '| chain on disk | %s MB |\n' "$((chain_bytes / 1000000))"
gm=$(m "${gen[@]}")
vm=$(m "${ver[@]}")
printf '| `agent verify` wall time (baseline: reads the same chain) | %s ms |\n' "$vm"
printf '| `agent report` wall time | %s ms |\n' "$gm"
printf '| report / verify | %s |\n' "$(awk -v a="$gm" -v b="$vm" 'BEGIN {printf "%.2f", a / b}')"
if ((${#rss[@]} > 0)); then
	printf '| `agent report` peak RSS | %s MB |\n' "$(($(m "${rss[@]}") / 1024))"
fi
printf '| report.html | %s bytes (%s MB) |\n' "$html_bytes" "$((html_bytes / 1000000))"
printf '| Chromium, empty page (baseline) | %s ms |\n' "$bm"
printf '| Chromium, the report | %s ms |\n' "$rm_"
printf '| report minus baseline | %s ms |\n' "$(m "${diff[@]}")"
printf '| report / baseline | %s |\n' "$(awk -v a="$rm_" -v b="$bm" 'BEGIN {printf "%.2f", a / b}')"
printf '| page clock: navigation start to ready | %s ms |\n' "$(m "${page[@]}")"
printf '| page clock: split (last round) | %s |\n' "$timing"
printf '| redraw after a zoom | %s ms |\n' "$(m "${redraw[@]}")"
printf '| click on a moment (maps text laid out) | %s ms |\n' "$(m "${select[@]}")"
printf '| merged at first view (last round) | %s |\n' "$merged"
