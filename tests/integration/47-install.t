#!/bin/bash
# make install honours PREFIX and DESTDIR and installs everything an
# administrator needs.
. "$(dirname "$0")/lib.sh"
dest=$T_DIR/root
# Run apart from any make that runs this suite (its MAKEFLAGS would leak in).
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$CSOD_TOP" install DESTDIR="$dest" PREFIX=/usr >"$T_DIR/install.log" 2>&1
rc=$?
[ $rc = 0 ] || sed "s/^/#   /" "$T_DIR/install.log" | tail -5
test $rc = 0
ok $? "make install DESTDIR=... PREFIX=/usr"
for f in usr/sbin/csodd usr/bin/csodctl usr/bin/csod-sign etc/csod/csod.conf \
	etc/csod/templates/signed.txt usr/lib/systemd/system/csodd.service \
	usr/lib/tmpfiles.d/csod.conf usr/lib/sysusers.d/csod.conf \
	usr/share/man/man8/csodd.8 usr/share/man/man8/csodctl.8 usr/share/man/man5/csod.conf.5; do
	check "installs $f" test -s "$dest/$f"
done
like "$(grep ExecStart= "$dest/usr/lib/systemd/system/csodd.service")" "/usr/sbin/csodd --config /etc/csod/csod.conf" \
	"the unit points at the installed paths"
check "the shipped csod.conf validates" "$dest/usr/sbin/csodd" --config "$dest/etc/csod/csod.conf" --check-config
# man -l exits 0 on any file: a page renders when it has its NAME section.
for m in man8/csodd.8 man8/csodctl.8 man5/csod.conf.5; do
	check "man page ${m#*/} renders" sh -c "man -l '$dest/usr/share/man/$m' 2>/dev/null | grep -q '^NAME'"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	out=$(systemd-analyze verify "$dest/usr/lib/systemd/system/csodd.service" 2>&1 | grep -v "csod.conf\|Cannot\|not found\|No such" | grep -i "unknown\|invalid\|error\|failed to parse")
	is "$out" "" "systemd-analyze verify finds no unknown or invalid settings"
	# systemd rates the unit's sandboxing (0 = locked down, 10 = exposed).
	score=$(systemd-analyze security --offline=yes "$dest/usr/lib/systemd/system/csodd.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for csodd.service: \([0-9.]*\).*/\1/p')
	diag "systemd-analyze security: exposure $score"
	awk -v s="${score:-99}" 'BEGIN { exit !(s < 3.0) }'
	ok $? "systemd-analyze security rates the unit below 3.0 (got $score)"
fi
done_testing
