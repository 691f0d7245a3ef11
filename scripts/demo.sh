#!/bin/sh
# make demo: runs csodd on its embedded default (etc/demo.conf: local CA,
# auto-approve, mail to spool/mail/), signs a sample end to end, and keeps
# running so you can drop more files. CSOD_DEMO_ONESHOT=1 stops after the
# sample (the test suite uses it); CSOD_DEMO_DIR runs it elsewhere than the
# source tree; CSOD_DEMO_SLOWDOWN multiplies its waits (the suite under
# valgrind).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${CSOD_BIN:-$top/build/bin}
dir=${CSOD_DEMO_DIR:-$top}
mkdir -p "$dir"
cd "$dir"
spool=$dir/spool
mkdir -p "$spool"
slow=${CSOD_DEMO_SLOWDOWN:-1}

"$bin/csodd" --config "$top/etc/demo.conf" --spool "$spool" --check-config
"$bin/csodd" --config "$top/etc/demo.conf" --spool "$spool" --foreground 2>"$spool/csodd.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM

# The first start creates the CA and demo's certificate; wait for the inbox.
i=0
until [ -d "$spool/inbox/demo" ] && [ -f "$spool/ca/ca.pem" ]; do
	i=$((i + 1))
	[ $i -gt $((200 * slow)) ] && { echo "csodd did not start; see $spool/csodd.log" >&2; cat "$spool/csodd.log" >&2; exit 1; }
	kill -0 $pid 2>/dev/null || { cat "$spool/csodd.log" >&2; exit 1; }
	sleep 0.1
done

# A sample as a build server would drop it: write elsewhere, rename in.
sample=$spool/sample.txt
echo "csod demo sample, $(date -u +%FT%TZ)" >"$sample"
sha256sum "$sample" | sed 's|  .*|  sample.txt|' >"$spool/inbox/demo/.sample.sha256.tmp"
mv "$spool/inbox/demo/.sample.sha256.tmp" "$spool/inbox/demo/sample.txt.sha256"
echo "dropped spool/inbox/demo/sample.txt.sha256 (the SHA-256 of spool/sample.txt)"

i=0
while :; do
	status=$(cat "$spool"/outbox/demo/*/STATUS 2>/dev/null | tail -n 1)
	case "$status" in signed | failed) break ;; esac
	i=$((i + 1))
	[ $i -gt $((300 * slow)) ] && { echo "no result after $((30 * slow)) s; see $spool/csodd.log" >&2; exit 1; }
	sleep 0.1
done
out=$(dirname "$(grep -l . "$spool"/outbox/demo/*/STATUS | tail -n 1)")
# The folder is named "<id> <drop>": the id is its first word.
echo "request $(basename "$out" | cut -d' ' -f1): $status"
if [ "$status" != signed ]; then
	cat "$out/ERROR" >&2
	exit 1
fi
echo "signed result: $out/sample.txt.sha256.p7s"
echo "verify it with:"
p7s=$out/sample.txt.sha256.p7s
echo "  openssl cms -verify -binary -inform DER -in \"$p7s\" -content \"$sample\" -CAfile \"$spool/ca/ca.pem\" -purpose any -out /dev/null"
openssl cms -verify -binary -inform DER -in "$p7s" -content "$sample" -CAfile "$spool/ca/ca.pem" -purpose any -out /dev/null
echo "mail the developer would get: $(ls "$spool"/mail/*.eml 2>/dev/null | tail -n 1)"
if [ "${CSOD_DEMO_ONESHOT:-0}" = 1 ]; then
	exit 0
fi
echo
echo "csodd keeps running (log: $spool/csodd.log). Drop files into $spool/inbox/demo/"
echo "(exe dll msi cab jar apk, or a .sha256 file); results appear in $spool/outbox/demo/."
echo "Ctrl-C stops it."
wait $pid
