#!/bin/bash
# make install honours PREFIX and DESTDIR and installs everything an
# administrator needs; a second install keeps the administrator's csod.conf
# (the new one goes beside it as csod.conf.dist). Every program answers
# --version with the one version (VERSION, debian/changelog). The build takes
# the packager's CPPFLAGS and LDFLAGS, and -Werror only when not told otherwise.
. "$(dirname "$0")/lib.sh"
dest=$T_DIR/root
# Run apart from any make that runs this suite (its MAKEFLAGS would leak in).
plain_make() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CFLAGS -u CPPFLAGS -u LDFLAGS -u B make "$@"; }
plain_make -s -C "$CSOD_TOP" install DESTDIR="$dest" PREFIX=/usr >"$T_DIR/install.log" 2>&1
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

# --- an upgrade keeps what the administrator edited ------------------------
conf=$dest/etc/csod/csod.conf
is "$(stat -c %a "$conf")" 640 "csod.conf is installed mode 0640"
sed -i 's/^retention = .*/retention = "7d";   # edited by the admin/' "$conf"
echo "edited by the admin" >>"$dest/etc/csod/templates/signed.txt"
edited=$(md5sum <"$conf")
plain_make -s -C "$CSOD_TOP" install DESTDIR="$dest" PREFIX=/usr >"$T_DIR/install2.log" 2>&1
ok $? "make install again over the installed tree"
is "$(md5sum <"$conf")" "$edited" "the second install keeps the edited csod.conf"
check "the new default goes beside it as csod.conf.dist" cmp "$CSOD_TOP/etc/csod.conf" "$conf.dist"
is "$(stat -c %a "$conf.dist")" 640 "csod.conf.dist is mode 0640 too"
check "an edited mail template is kept as well" grep -q "edited by the admin" "$dest/etc/csod/templates/signed.txt"
check "and its new version is signed.txt.dist" cmp "$CSOD_TOP/etc/templates/signed.txt" "$dest/etc/csod/templates/signed.txt.dist"
like "$(cat "$T_DIR/install2.log")" "kept .*/etc/csod/csod.conf; the new one is .*csod.conf.dist" \
	"make install says it kept csod.conf"

# --- one version, answered by every program without a config --------------
version=$(cat "$CSOD_TOP/VERSION")
like "$version" '^[0-9]+\.[0-9]+\.[0-9]+$' "VERSION holds one version ($version)"
if command -v dpkg-parsechangelog >/dev/null 2>&1; then
	is "$(dpkg-parsechangelog -l "$CSOD_TOP/debian/changelog" -S Version)" "$version" \
		"debian/changelog's top entry is the same version"
fi
for p in sbin/csodd bin/csodctl bin/csod-sign; do
	out=$(cd "$T_DIR" && env -u CSOD_CONFIG "$dest/usr/$p" --version 2>&1)
	rc=$?
	is "$rc:$out" "0:${p#*/} $version" "${p#*/} --version prints '${p#*/} $version' and exits 0, without a config"
done

# --- the packager's flags reach every compile and every link ---------------
# (make -n: the commands make would run, for a tree not built yet)
cmds=$(plain_make -n -C "$CSOD_TOP" B="$T_DIR/flags" CPPFLAGS=-DCSOD_CPPFLAGS_SEEN \
	LDFLAGS=-Wl,--csod-ldflags-seen all 2>&1)
n_cc=$(grep -c -- ' -c ' <<<"$cmds")
n_link=$(grep -- ' -o [^ ]*/bin/' <<<"$cmds" | grep -vc -- ' -c ')
test "$n_cc" -gt 20 && test "$n_link" = 3
ok $? "make -n shows the compiles ($n_cc) and the three links ($n_link)"
is "$(grep -- ' -c ' <<<"$cmds" | grep -vc -- -DCSOD_CPPFLAGS_SEEN)" 0 "CPPFLAGS reaches every compile"
is "$(grep -- ' -o [^ ]*/bin/' <<<"$cmds" | grep -v -- ' -c ' | grep -vc -- -Wl,--csod-ldflags-seen)" 0 \
	"LDFLAGS reaches every link"
is "$(grep -- ' -c ' <<<"$cmds" | grep -vc -- -Werror)" 0 "the project's own build fails on warnings (-Werror)"
cmds=$(plain_make -n -C "$CSOD_TOP" B="$T_DIR/flags" WERROR= all 2>&1)
is "$(grep -- ' -c ' <<<"$cmds" | grep -c -- '-Werror\b')" 0 "WERROR= (debian/rules) leaves -Werror out"
done_testing
