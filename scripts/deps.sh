#!/bin/sh
# Installs the Debian packages csod needs to build, test and benchmark.
# Called by `make deps` (and so by `make check` and `make demo`); a no-op
# when everything is already there, so it is cheap to run every time.
set -eu

# libcurl4 is named on its own: csod loads it at run time, for timestamps
# only (signers/common/curl_runtime.c), so no linker records the dependency.
# sbsigntool and shim-signed: nesting onto Microsoft's two signatures of
# Debian's shimx64.efi.signed (tests/integration/25), listed by sbverify.
BUILD="gcc make pkg-config libssl-dev libconfig-dev libsqlite3-dev libzip-dev
libesmtp-dev libcurl4-openssl-dev libcurl4 libp11-dev libp11-kit-dev libjansson-dev libdeflate-dev
libsystemd-dev libacl1-dev libpq-dev"
TEST="libcmocka-dev perl openssl sqlite3 osslsigncode softhsm2 opensc p11-kit-modules
gcc-mingw-w64-x86-64 gcc-mingw-w64-i686 msitools wixl libgsf-bin gir1.2-gsf-1 python3-gi gcab zip unzip
openjdk-17-jdk-headless apksigner zipalign aapt android-framework-res python3-aiosmtpd python3-cryptography inotify-tools
clang libclang-rt-14-dev valgrind procps psmisc time man-db
libseccomp-dev systemd util-linux acl strace sbsigntool shim-signed clamav-daemon chromium postgresql"
BENCH="hyperfine time"
# `make deb`, and `make check`, which builds the package and installs it.
DEB="debhelper dpkg-dev fakeroot lintian"

want="$BUILD"
case "${1:-test}" in
build) ;;
deb) want="$BUILD $DEB" ;;
test) want="$BUILD $TEST $DEB" ;;
bench) want="$BUILD $TEST $DEB $BENCH" ;;
*) echo "usage: $0 [build|deb|test|bench]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "csod: missing Debian packages:$missing" >&2
	echo "csod: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "csod: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
