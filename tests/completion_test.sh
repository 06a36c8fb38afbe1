#!/usr/bin/env bash
# bash completion of memmon-agent and memmonctl (etc/bash-completion/
# memmon-agent): registered for both names; flags, subcommands, FIFO
# commands after `ctl`, and @target names read from the configuration given
# with -c (and its includes), which is never executed; the options of top.  COMP_WORDS and
# COMP_CWORD are set as readline would, and COMPREPLY is checked.
set -u
fail=0
script=${TEST_SRCDIR:-.}/memmon/etc/bash-completion/memmon-agent
[[ -f $script ]] || script=$PWD/etc/bash-completion/memmon-agent
tmp=$(mktemp -d "${TEST_TMPDIR:-/tmp}/completion.XXXXXX")
cd "$tmp" || exit 1

# shellcheck source=/dev/null
source "$script"

# Completes the words given (the last is the word under the cursor) and
# prints COMPREPLY sorted, one per line.
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	local spec
	spec=$(complete -p "${COMP_WORDS[0]##*/}" 2>/dev/null) || { echo "<no completion>"; return; }
	local fn=${spec#*-F }
	fn=${fn%% *}
	"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
	printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort
}

expect() {
	local want=$1 got
	shift
	got=$(comp "$@")
	if [[ $got != "$want" ]]; then
		printf 'FAIL: completing [%s]\n  want: %s\n  got:  %s\n' "$*" "${want//$'\n'/ }" "${got//$'\n'/ }"
		fail=1
	fi
}

for name in memmon-agent memmonctl; do
	complete -p "$name" | grep -q -- "-F _memmon_agent" || { echo "FAIL: no completion for $name"; fail=1; }
done

mkdir -p conf/memmon.d
cat > conf/memmon.ini <<'INI'
[agent]
base_dir = /var/lib/memmon
[target:web]
pid = 1
  [target:webdb]   ; a comment
match = postgres
[target:$(touch PWNED-dollar)]
pid = 2
[target:`touch PWNED-backtick`]
pid = 3
[target:bad name]
pid = 4
[include]
files = memmon.d/*.ini ../../etc/$(touch PWNED-include)/*.ini
INI
printf '[target:cache]\nmatch = redis\n[target:x;$(touch PWNED-inc)]\n' > conf/memmon.d/more.ini
printf '[target:skipped]\n' > conf/memmon.d/not-ini.conf

expect $'replay\nreport' memmon-agent re
expect $'ctl' memmon-agent ct
expect $'scan' memmon-agent sc
expect $'top' memmon-agent t
expect $'--check-config\n--config' memmon-agent --c
expect $'--version' memmon-agent --ver
expect $'500ms' memmon-agent -T 50
expect $'conf/memmon.d\nconf/memmon.ini' memmon-agent -c conf/
# Pids come from /proc: ours is offered, and nothing that is not a number.
pids=$(comp memmon-agent -p "$$")
if ! grep -qx "$$" <<<"$pids" || grep -qv '^[0-9]*$' <<<"$pids"; then
	echo "FAIL: -p $$ offered: ${pids//$'\n'/ }"
	fail=1
fi
expect $'alerts\nbackup\nhelp\ninterval\nmetrics\npause\npid\nquit\nreload\nresume\nstatus\nstop\ntargets' memmon-agent ctl -c conf/memmon.ini ""
expect $'pause\npid' memmon-agent ctl -c conf/memmon.ini p
expect $'@cache\n@web\n@webdb' memmon-agent ctl -c conf/memmon.ini @
expect $'@web\n@webdb' memmonctl --config conf/memmon.ini @w
expect $'@cache' memmonctl -c conf/memmon.ini --json @c
expect $'status\nstop' memmonctl -c conf/memmon.ini @web st
expect '' memmonctl -c conf/memmon.ini @web status ""
expect $'--help\n--json' memmonctl --
expect $'--delay' memmon-agent top --d
expect $'0.5\n1\n10\n2\n5' memmon-agent top -b /var/lib/memmon -d ""
expect $'conf/memmon.d\nconf/memmon.ini' memmon-agent top -c conf/
expect $'targets\ntop' memmonctl t
expect $'--base\n--config\n--delay\n--help' memmonctl top --
expect $'targets' memmon-agent ctl -c conf/memmon.ini t
expect $'--at' memmon-agent replay backups --a
expect $'conf' memmon-agent verify con
expect $'--all' memmon-agent scan --a
# No configuration there: no names, and no error.
expect '' memmonctl -c missing.ini @

# Nothing in the files ran.
if compgen -G 'PWNED*' >/dev/null || compgen -G 'conf/PWNED*' >/dev/null; then
	echo "FAIL: the configuration was executed: $(ls -- *PWNED* conf/*PWNED* 2>/dev/null)"
	fail=1
fi

[[ $fail == 0 ]] && echo "PASS"
exit "$fail"
