#!/bin/bash
# The Debian package: `make deb` builds csod_<version>_amd64.deb (lintian
# finds no error); unpacked, it holds the programs, the unit (pointing at
# /usr/sbin/csodd), the sysusers.d and tmpfiles.d entries and csod.conf as a
# conffile, with their modes, and its csod.conf is a working one: the
# packaged csodd starts on it. As root, on a machine without csod, the
# package is installed for real (apt-get install ./csod_*.deb), which creates
# the user, the spool and enables the unit; a re-install and an upgrade keep
# an edited csod.conf; remove and purge take it all away again.
. "$(dirname "$0")/lib.sh"

skip() { echo "ok $((T_COUNT += 1)) # SKIP $1"; }

command -v dpkg-buildpackage >/dev/null 2>&1 || skip_all "dpkg-buildpackage is not installed (scripts/deps.sh)"
version=$(cat "$CSOD_TOP/VERSION")
arch=$(dpkg --print-architecture)
deb=$CSOD_TOP/build/deb/csod_${version}_$arch.deb

# --- build -------------------------------------------------------------------
# Apart from any make that runs this suite (its flags would leak in).
start=$(date +%s)
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CFLAGS -u CPPFLAGS -u LDFLAGS -u B \
	make -s -C "$CSOD_TOP" deb >"$T_DIR/deb.log" 2>&1
rc=$?
[ $rc = 0 ] || sed "s/^/#   /" "$T_DIR/deb.log" | tail -20
is "$rc" 0 "make deb builds the package ($(($(date +%s) - start)) s)"
check "it is build/deb/csod_${version}_$arch.deb" test -s "$deb"
[ -s "$deb" ] || {
	done_testing
	exit
}

if command -v lintian >/dev/null 2>&1; then
	lintian "$deb" >"$T_DIR/lintian.txt" 2>&1
	grep '^W:' "$T_DIR/lintian.txt" | sed 's/^/# lintian: /'
	is "$(grep -c '^E:' "$T_DIR/lintian.txt")" 0 "lintian finds no error"
	grep '^E:' "$T_DIR/lintian.txt" | sed 's/^/#   /'
fi

# --- what the package says -------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
is "$(field Package) $(field Version) $(field Architecture)" "csod $version $arch" \
	"package csod, the version of VERSION, this architecture"
depends=$(field Depends)
# libcurl is dlopen'ed (signers/common/curl_runtime.c): no linker records it.
like "$depends" '(^|, )libcurl4(,|$| )' "Depends names libcurl4 (loaded at run time)"
like "$depends" 'libssl3' "Depends has the linked libraries (shlibs)"
like "$depends" 'systemd' "Depends has what runs sysusers.d (misc)"
# Every library the Makefile builds against is a build dependency.
pkgs=$(make -s -C "$CSOD_TOP" --eval 'csod-print-pkgs: ; @echo $(PKGS)' csod-print-pkgs 2>/dev/null)
bdeps=$(sed -n '/^Build-Depends:/,/^[^ ]/{s/^Build-Depends://;/^[A-Za-z-]*:/d;p}' "$CSOD_TOP/debian/control" |
	tr ',' '\n' | awk 'NF { print $1 }')
missing=""
for pc in $pkgs; do
	dev=$(dpkg -S "$(pkg-config --variable=pcfiledir "$pc")/$pc.pc" 2>/dev/null | cut -d: -f1)
	grep -qx "${dev:-?}" <<<"$bdeps" || missing="$missing $pc(${dev:-?})"
done
is "${missing:-none}" none "debian/control's Build-Depends covers the Makefile's PKGS ($pkgs)"

dpkg-deb -e "$deb" "$T_DIR/DEBIAN"
is "$(grep -c '^/etc/csod/csod.conf$' "$T_DIR/DEBIAN/conffiles" 2>/dev/null)" 1 \
	"/etc/csod/csod.conf is a conffile"
postinst=$(cat "$T_DIR/DEBIAN/postinst" 2>/dev/null)
like "$postinst" "systemd-sysusers .*csod.conf" "postinst creates the csod user (sysusers.d)"
like "$postinst" "systemd-tmpfiles .*--create csod.conf" "postinst creates the spool (tmpfiles.d)"
like "$postinst" "deb-systemd-helper enable 'csodd.service'" "postinst enables csodd.service"
users_at=$(grep -n systemd-sysusers <<<"$postinst" | head -1 | cut -d: -f1)
spool_at=$(grep -n systemd-tmpfiles <<<"$postinst" | head -1 | cut -d: -f1)
test "${users_at:-99}" -lt "${spool_at:-0}"
ok $? "the user is made before the spool that belongs to it"

# --- unpacked into a throwaway root ----------------------------------------
root=$T_DIR/root
dpkg -x "$deb" "$root"
ok $? "dpkg -x unpacks it"
listing=$(dpkg-deb -c "$deb")
mode_of() { awk -v p="./$1" '$NF == p { print $1, $2 }' <<<"$listing"; }
for p in usr/sbin/csodd usr/bin/csodctl usr/bin/csod-sign; do
	is "$(mode_of "$p")" "-rwxr-xr-x root/root" "$p is 0755 root:root"
	is "$("$root/$p" --version 2>&1)" "${p##*/} $version" "the packaged ${p##*/} --version"
done
is "$(mode_of etc/csod/csod.conf)" "-rw-r----- root/root" "etc/csod/csod.conf is 0640 root:root"
for f in lib/systemd/system/csodd.service usr/lib/sysusers.d/csod.conf usr/lib/tmpfiles.d/csod.conf \
	etc/csod/templates/signed.txt usr/share/man/man8/csodd.8.gz usr/share/man/man5/csod.conf.5.gz \
	usr/share/doc/csod/copyright; do
	check "ships $f" test -s "$root/$f"
done
unit=$root/lib/systemd/system/csodd.service
is "$(sed -n 's/^ExecStart=//p' "$unit")" "/usr/sbin/csodd --config /etc/csod/csod.conf --foreground" \
	"the unit's ExecStart runs /usr/sbin/csodd on /etc/csod/csod.conf"
is "$(grep -c '@[A-Z]*@' "$unit")" 0 "no @PLACEHOLDER@ is left in the unit"
check "the packaged unit is systemd/csodd.service.in, filled in" cmp -s "$unit" \
	<(sed 's|@SBINDIR@|/usr/sbin|g; s|@SYSCONFDIR@|/etc|g' "$CSOD_TOP/systemd/csodd.service.in")
# The hardening flags of dpkg-buildflags reached the compiles and the links.
check "csodd is linked with -z now (LDFLAGS)" sh -c "readelf -d '$root/usr/sbin/csodd' | grep -q BIND_NOW"
# (_FORTIFY_SOURCE calls the checking variants: __snprintf_chk, __memcpy_chk...)
check "csodd is compiled with _FORTIFY_SOURCE (CPPFLAGS)" sh -c \
	"readelf --dyn-syms -W '$root/usr/sbin/csodd' | grep -v __stack_chk_fail | grep -q '__[a-z0-9]*_chk'"

out=$("$root/usr/sbin/csodd" --config "$root/etc/csod/csod.conf" --check-config 2>&1)
ok $? "the packaged csod.conf passes csodd --check-config ($out)"
# A working configuration: the packaged csodd starts on it (on a spool of its
# own here), makes its CA and database, and stops when told to.
# Its state_dir (/var/lib/csod) moved into the test's own folder too.
sed "s|^state_dir = .*|state_dir = \"$T_DIR/lib\";|" "$root/etc/csod/csod.conf" >"$T_DIR/packaged.conf"
check "the packaged csod.conf keeps the state in /var/lib/csod" grep -q '^state_dir = "/var/lib/csod";' "$root/etc/csod/csod.conf"
"$root/usr/sbin/csodd" --config "$T_DIR/packaged.conf" --spool "$T_DIR/spool" --foreground \
	>/dev/null 2>"$T_DIR/csodd.log" &
DAEMON_PID=$!
wait_for 60 test -s "$T_DIR/spool/ca/ca.pem" -a -s "$T_DIR/lib/csod.db"
ok $? "the packaged csodd starts on the packaged csod.conf (local CA, database)"
check "it keeps running" daemon_alive
stop_daemon
ok $? "and stops cleanly"
grep -i 'error\|fail' "$T_DIR/csodd.log" | sed 's/^/#   /'

# --- installed on this machine -----------------------------------------------
# Only where it disturbs nothing: as root, with no csod here before (neither
# the package nor a `make install` to /usr, nor its directories), unless
# CSOD_NO_DPKG=1. The directories are those of the packaged tmpfiles.d entry.
dirs=$(awk '$1 == "d" { print $2 }' "$root/usr/lib/tmpfiles.d/csod.conf")
why_not=""
if [ "$(id -u)" != 0 ]; then
	why_not="not root"
elif [ "${CSOD_NO_DPKG:-0}" = 1 ]; then
	why_not="CSOD_NO_DPKG=1"
elif dpkg-query -W -f='${Status}' csod 2>/dev/null | grep -q installed; then
	why_not="the csod package is installed here"
else
	for p in /etc/csod /usr/sbin/csodd /usr/bin/csodctl $dirs /lib/systemd/system/csodd.service \
		/usr/lib/systemd/system/csodd.service /etc/systemd/system/csodd.service; do
		[ -e "$p" ] && why_not="$p exists" && break
	done
fi
if [ -n "$why_not" ]; then
	skip "installing the package on this machine: $why_not"
	done_testing
	exit
fi

user_existed=0
getent passwd csod >/dev/null && user_existed=1
wants=/etc/systemd/system/multi-user.target.wants/csodd.service
undo_install() {
	dpkg -P csod >/dev/null 2>&1
	# shellcheck disable=SC2086
	rm -rf $dirs /etc/csod
	[ $user_existed = 1 ] || { userdel csod 2>/dev/null; groupdel csod 2>/dev/null; }
	cleanup
}
trap undo_install EXIT
# dpkg takes a lock: another installation on the machine may hold it a while.
with_dpkg_lock() {
	local tries
	for tries in $(seq 1 60); do
		"$@" >>"$T_DIR/dpkg.log" 2>&1 && return 0
		grep -q "lock" "$T_DIR/dpkg.log" || return 1
		: >"$T_DIR/dpkg.log"
		diag "dpkg is locked, waiting (try $tries)"
		sleep 2
	done
	return 1
}
show_dpkg_log() { sed 's/^/#   /' "$T_DIR/dpkg.log" | tail -15; }

# As an administrator would: apt resolves Depends (all installed here).
with_dpkg_lock env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb"
ok $? "apt-get install ./csod_${version}_$arch.deb" || show_dpkg_log
is "$(dpkg-query -W -f='${Status} ${Version}' csod 2>/dev/null)" "install ok installed $version" \
	"dpkg records csod $version as installed"
check "the csod system user exists" getent passwd csod
while read -r type path mode user group _; do
	[ "$type" = d ] || continue
	is "$(stat -c '%U:%G %a' "$path" 2>&1)" "$user:$group ${mode#0}" "$path is made, $user:$group ${mode#0} (tmpfiles.d)"
done <"$root/usr/lib/tmpfiles.d/csod.conf"
is "$(stat -c '%U:%G %a' /etc/csod/csod.conf 2>&1)" "root:root 640" "/etc/csod/csod.conf is 0640 root:root"
is "$(readlink "$wants")" "/lib/systemd/system/csodd.service" "csodd.service is enabled (multi-user.target.wants)"
if [ -d /run/systemd/system ]; then
	is "$(systemctl is-enabled csodd 2>&1)" enabled "systemctl says csodd is enabled"
	wait_for 20 sh -c '[ "$(systemctl is-active csodd)" = active ]'
	ok $? "and it runs"
fi
out=$(/usr/sbin/csodd --config /etc/csod/csod.conf --check-config 2>&1)
ok $? "the installed csod.conf passes csodd --check-config" || diag "$out"
is "$(/usr/sbin/csodd --version)" "csodd $version" "the installed csodd --version"

# The administrator edits the configuration; a re-install keeps it.
sed -i 's/^retention = .*/retention = "7d";   # edited by the admin/' /etc/csod/csod.conf
edited=$(md5sum </etc/csod/csod.conf)
with_dpkg_lock dpkg -i "$deb"
ok $? "dpkg -i again (re-install)" || show_dpkg_log
is "$(md5sum </etc/csod/csod.conf)" "$edited" "the re-install keeps the edited csod.conf"

# An upgrade whose csod.conf changed too: the package as it would be in the
# next version (repacked, not rebuilt). Told to keep the administrator's
# files (--force-confold, what answering N at dpkg's question does), dpkg
# keeps the edited file and puts the new default beside it as
# csod.conf.dpkg-dist.
next=$T_DIR/next
dpkg-deb -R "$deb" "$next"
sed -i "s/^Version: .*/Version: $version+next1/" "$next/DEBIAN/control"
echo "# a new default in the next version" >>"$next/etc/csod/csod.conf"
(cd "$next" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | xargs -0 md5sum >DEBIAN/md5sums)
dpkg-deb -b --root-owner-group "$next" "$T_DIR/csod_next.deb" >/dev/null
with_dpkg_lock dpkg -i --force-confdef --force-confold "$T_DIR/csod_next.deb"
ok $? "dpkg -i the next version (upgrade)" || show_dpkg_log
is "$(md5sum </etc/csod/csod.conf)" "$edited" "the upgrade keeps the edited csod.conf"
check "the new default is beside it as csod.conf.dpkg-dist" grep -q "a new default in the next version" \
	/etc/csod/csod.conf.dpkg-dist
rm -f /etc/csod/csod.conf.dpkg-dist
is "$(readlink "$wants")" "/lib/systemd/system/csodd.service" "csodd.service is still enabled after the upgrade"

with_dpkg_lock dpkg -r csod
ok $? "dpkg -r csod" || show_dpkg_log
check "the programs are gone" test ! -e /usr/sbin/csodd -a ! -e /usr/bin/csodctl
check "csod.conf stays after a remove (a conffile)" test -f /etc/csod/csod.conf
with_dpkg_lock dpkg -P csod
ok $? "dpkg -P csod" || show_dpkg_log
check "the purge takes csod.conf" test ! -e /etc/csod/csod.conf
check "and the unit's enablement" test ! -e "$wants" -a ! -L "$wants"
# The spool holds the keys, the database and the audit log: a purge never
# deletes them (README: backup, and rm -r by hand).
top=$(head -1 <<<"$dirs")
check "$top, with the keys and the audit log, survives the purge" test -d "$top"
done_testing
