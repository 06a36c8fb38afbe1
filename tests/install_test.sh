#!/usr/bin/env bash
# scripts/install into a temporary DESTDIR: the tree (names, modes, owners,
# links), the unit's ExecStart (and systemd-analyze verify of the installed
# unit, with the installed bin/ mounted where ExecStart looks), the
# configuration (written once, never overwritten), gzipped man pages that
# render cleanly, the completion, memmonctl acting as `agent ctl`, the
# installed name's default configuration, --prefix /usr, bad prefixes, and
# --uninstall leaving only the configuration and the data.
set -u
fail=0
say() { echo "FAIL: $*"; fail=1; }
r=${TEST_SRCDIR:-$PWD}/memmon
[[ -d $r/scripts ]] || r=$PWD
install=$r/scripts/install
agent=$r/agent/agent
tmp=$(mktemp -d "${TEST_TMPDIR:-/tmp}/install.XXXXXX")
root=$tmp/root

out=$(umask 077 && "$install" --destdir "$root" --binary "$agent" 2>&1) || say "install failed: $out"

# Every path under the root with its type, mode and owner (links: target).
tree() {
	(cd "$1" && find . -mindepth 1 -printf '%y %m %u:%g %p -> %l\n' | sed 's/ -> $//' | LC_ALL=C sort -k4,4)
}
want=$(cat <<'TREE'
d 755 root:root ./etc
d 755 root:root ./etc/logrotate.d
f 644 root:root ./etc/logrotate.d/memmon
d 755 root:root ./etc/memmon
d 755 root:root ./etc/memmon/memmon.d
f 644 root:root ./etc/memmon/memmon.ini
d 755 root:root ./usr
d 755 root:root ./usr/local
d 755 root:root ./usr/local/bin
f 755 root:root ./usr/local/bin/memmon-agent
l 777 root:root ./usr/local/bin/memmonctl -> memmon-agent
d 755 root:root ./usr/local/lib
d 755 root:root ./usr/local/lib/systemd
d 755 root:root ./usr/local/lib/systemd/system
f 644 root:root ./usr/local/lib/systemd/system/memmon.service
d 755 root:root ./usr/local/share
d 755 root:root ./usr/local/share/bash-completion
d 755 root:root ./usr/local/share/bash-completion/completions
f 644 root:root ./usr/local/share/bash-completion/completions/memmon-agent
l 777 root:root ./usr/local/share/bash-completion/completions/memmonctl -> memmon-agent
d 755 root:root ./usr/local/share/man
d 755 root:root ./usr/local/share/man/man5
f 644 root:root ./usr/local/share/man/man5/memmon.ini.5.gz
d 755 root:root ./usr/local/share/man/man8
f 644 root:root ./usr/local/share/man/man8/memmon-agent.8.gz
l 777 root:root ./usr/local/share/man/man8/memmonctl.8.gz -> memmon-agent.8.gz
d 755 root:root ./var
d 755 root:root ./var/lib
d 700 root:root ./var/lib/memmon
TREE
)
got=$(tree "$root")
[[ $got == "$want" ]] || say "installed tree differs:$(diff <(echo "$want") <(echo "$got"))"

unit=$root/usr/local/lib/systemd/system/memmon.service
grep -qx 'ExecStart=/usr/local/bin/memmon-agent -f -c /etc/memmon/memmon.ini' "$unit" || say "ExecStart: $(grep ExecStart "$unit")"
grep -qx 'WatchdogSec=30s' "$unit" || say "no WatchdogSec in the installed unit"
cmp -s "$r/etc/memmon.logrotate" "$root/etc/logrotate.d/memmon" || say "logrotate snippet differs"
cmp -s "$r/etc/bash-completion/memmon-agent" "$root/usr/local/share/bash-completion/completions/memmon-agent" || say "completion differs"
cmp -s "$agent" "$root/usr/local/bin/memmon-agent" || say "binary differs"

conf=$root/etc/memmon/memmon.ini
grep -qE '^base_dir = /var/lib/memmon( |$)' "$conf" || say "base_dir: $(grep base_dir "$conf")"
check=$("$root/usr/local/bin/memmon-agent" -t -c "$conf" 2>&1)
[[ $check == "$conf: OK (1 target, base_dir /var/lib/memmon)" ]] || say "memmon-agent -t: $check"

# The installed name reads the system's configuration by default.
if [[ ! -e /etc/memmon/memmon.ini ]]; then
	msg=$(cd "$tmp" && "$root/usr/local/bin/memmon-agent" -t 2>&1)
	[[ $msg == *"/etc/memmon/memmon.ini"* ]] || say "memmon-agent -t without -c: $msg"
fi
# memmonctl is `memmon-agent ctl`: no agent runs on an empty base directory.
mkdir -p "$tmp/base"
msg=$("$root/usr/local/bin/memmonctl" -b "$tmp/base" status 2>&1)
code=$?
[[ $code == 69 && $msg == *"no agent running on $tmp/base"* ]] || say "memmonctl: exit $code: $msg"
msg=$("$root/usr/local/bin/memmon-agent" ctl -b "$tmp/base" status 2>&1)
code=$?
[[ $code == 69 ]] || say "memmon-agent ctl: exit $code: $msg"
msg=$("$root/usr/local/bin/memmonctl" 2>&1)
code=$?
[[ $code == 64 && $msg == *"no command given"* ]] || say "memmonctl without a command: exit $code: $msg"

# Man pages: valid gzip, rendered without a warning.
for page in man8/memmon-agent.8.gz man5/memmon.ini.5.gz man8/memmonctl.8.gz; do
	f=$root/usr/local/share/man/$page
	gzip -t "$f" || say "$page is not valid gzip"
	if command -v mandoc >/dev/null; then
		lint=$(zcat "$f" | mandoc -Tlint -W style 2>&1)
		[[ -z $lint ]] || say "$page: $lint"
	fi
done
zcat "$root/usr/local/share/man/man8/memmon-agent.8.gz" | cmp -s - "$r/man/memmon-agent.8" || say "memmon-agent.8.gz differs from man/memmon-agent.8"

# The installed unit passes systemd-analyze with the installed binary where
# its ExecStart looks (a private mount namespace).
if [[ -x /usr/bin/systemd-analyze ]]; then
	# The man pages of Documentation= are the installed ones.
	# shellcheck disable=SC2016
	v=$(MANPATH=$root/usr/local/share/man:/usr/share/man unshare --mount sh -c \
		'mount --bind "$1" /usr/local/bin && exec systemd-analyze verify "$2"' sh "$root/usr/local/bin" "$unit" 2>&1)
	code=$?
	if [[ $code != 0 && $v == *"unshare"* ]]; then
		echo "skipped systemd-analyze verify of the installed unit: $v"
	elif [[ $code != 0 || -n $v ]]; then
		say "systemd-analyze verify: exit $code: $v"
	fi
else
	echo "skipped systemd-analyze verify: not installed (Debian: systemd)"
fi

# A second install keeps an edited configuration.
echo "; edited" >>"$conf"
before=$(cat "$conf")
out=$("$install" --destdir "$root" --binary "$agent" 2>&1) || say "second install failed: $out"
[[ $(cat "$conf") == "$before" ]] || say "the configuration was overwritten"
[[ $out == *"kept $conf (it exists; not overwritten)"* ]] || say "second install did not say it kept the configuration: $out"

# --prefix /usr.
out=$("$install" --prefix /usr --destdir "$tmp/usr-root" --binary "$agent" 2>&1) || say "--prefix /usr failed: $out"
grep -qx 'ExecStart=/usr/bin/memmon-agent -f -c /etc/memmon/memmon.ini' "$tmp/usr-root/usr/lib/systemd/system/memmon.service" ||
	say "--prefix /usr: unit not where expected or wrong ExecStart"
[[ -x $tmp/usr-root/usr/bin/memmon-agent ]] || say "--prefix /usr: no usr/bin/memmon-agent"

# Prefixes that cannot be written into ExecStart= as they are.
for bad in relative/path "/opt/with space" '/opt/a|b'; do
	out=$("$install" --prefix "$bad" --destdir "$tmp/bad" --binary "$agent" 2>&1)
	code=$?
	[[ $code == 64 && ! -e $tmp/bad ]] || say "--prefix '$bad': exit $code: $out"
done

# Uninstall: everything goes but the configuration and the data.
out=$("$install" --destdir "$root" --uninstall 2>&1) || say "uninstall failed: $out"
left=$(cd "$root" && find . \( -type f -o -type l \) | LC_ALL=C sort)
[[ $left == "./etc/memmon/memmon.ini" ]] || say "left after uninstall: $left"
[[ -d $root/var/lib/memmon ]] || say "uninstall removed the data folder"
[[ $out == *"kept $root/etc/memmon"* ]] || say "uninstall did not name what it kept: $out"

[[ $fail == 0 ]] && echo PASS
exit "$fail"
