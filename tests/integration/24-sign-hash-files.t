#!/bin/bash
# Hash signing with csod-sign of digest files as people name and write them:
# the vendor manual's own ".sha", ".sha1"…".sha512", ".md5", ".txt", in the
# formats sha256sum and md5sum --tag write; judged by openssl cms against
# the original file. Several digests without file names are refused with the line.
. "$(dirname "$0")/lib.sh"
PKI=$T_DIR/pki
make_pki "$PKI"
cd "$T_DIR"
head -c 5000 /dev/urandom >app.bin
sign() { # sign IN OUT
	run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" "$1" "$2" 2>&1
}
cms_ok() { # cms_ok P7S ORIGINAL
	openssl cms -verify -binary -inform DER -in "$1" -content "$2" -CAfile "$PKI/root.pem" \
		-purpose any -out /dev/null 2>/dev/null
}
sha256sum app.bin >app.sha
sha256sum app.bin >app-sum.txt
md5sum --tag app.bin >app-tag.txt
md5sum --tag app.bin >app-tag.md5
sha1sum app.bin >app.sha1
sha256sum --tag app.bin >app.sha256
sha384sum app.bin | cut -d' ' -f1 >app.sha384
sha512sum --tag app.bin >app.sha512
for f in app.sha app-sum.txt app-tag.txt app-tag.md5 app.sha1 app.sha256 app.sha384 app.sha512; do
	out=$(sign "$f" "$f.p7s")
	ok $? "$f ($(head -c 24 "$f")…) is signed ($out)"
	check "openssl cms verifies $f.p7s against the file" cms_ok "$f.p7s" app.bin
done
! cms_ok app.sha.p7s "$PKI/root.pem"
ok $? "and not against another file"

# Several digests without file names are refused, naming the first line
# that has none (lists whose lines name files: 36-hash-lists.t).
{ sha256sum app.bin; echo; sha256sum app.bin | cut -d' ' -f1; } >two.sha
out=$(sign two.sha two.sha.p7s)
is "$?" 1 "a file of two digests, one without a file name, is refused"
like "$out" "two.sha: line 3: names no file, and the file holds more than one digest" \
	"naming the file and the line"
check "and nothing is written" test ! -e two.sha.p7s
# A BSD tag that names another algorithm than the digest's length is refused.
sed 's/^SHA256/SHA1/' app.sha256 >liar.sha
out=$(sign liar.sha liar.sha.p7s)
like "$out" "liar.sha: says SHA1 but holds a 64-digit digest" "a tag that lies about the algorithm is refused"
# The digest is given, so is its algorithm: another one asked for is
# refused with the reason, not ignored; the file's own is accepted.
out=$(run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" \
	--digest sha1 app.sha256 asked.p7s 2>&1)
is "$?" 1 "--digest sha1 on a SHA-256 file is refused"
like "$out" "app.sha256: holds a sha256 digest, which is signed as given: the digest asked for \\(sha1\\) cannot apply" \
	"with the reason"
check "and nothing is written" test ! -e asked.p7s
run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" \
	--digest sha256 app.sha256 asked.p7s
ok $? "--digest sha256 on it is its own and signs"
check "and verifies" cms_ok asked.p7s app.bin
# Durability is asked for, as with the tools csod-sign replaces: the output
# appears by an atomic rename either way, and is fsynced only with --sync.
if command -v strace >/dev/null 2>&1; then
	# LeakSanitizer stops the world with ptrace, which a traced process
	# cannot: leaks are checked by every other run of csod-sign.
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	strace -f -qq -e trace=fsync,fdatasync -o "$T_DIR/nosync.trace" \
		csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" app.sha plain.p7s
	ok $? "csod-sign signs without --sync"
	is "$(grep -c 'fsync\|fdatasync' "$T_DIR/nosync.trace")" 0 "and fsyncs nothing"
	strace -f -qq -e trace=fsync,fdatasync -o "$T_DIR/sync.trace" \
		csod-sign --sync --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" app.sha synced.p7s
	ok $? "with --sync"
	check "it fsyncs the output and its folder" test "$(grep -c 'fsync' "$T_DIR/sync.trace")" -ge 2
	check "the synced output verifies" cms_ok synced.p7s app.bin
else
	fail "strace (Debian strace) is needed to see csod-sign's fsyncs"
fi
done_testing
