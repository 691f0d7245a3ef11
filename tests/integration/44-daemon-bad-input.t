#!/bin/bash
# Bad input: each gives a failed request (or an ERROR file when no request
# can be made) with a one-line reason naming the file; csodd keeps running.
. "$(dirname "$0")/lib.sh"
MAX_FILE_SIZE=1M
write_config
start_daemon || exit 1
IN=$SPOOL/inbox/$DEV

expect_failure() { # expect_failure DROP PATTERN DESCRIPTION
	if wait_state "$1" failed 30; then
		local out
		out=$(request_dir "$1")
		like "$(cat "$out/ERROR")" "$2" "$3"
		like "$(json_field "$out/request.json" error)" "$2" "$3: reason in request.json"
		check "$3: one line" test "$(wc -l <"$out/ERROR")" -eq 1
	else
		fail "$3"
		ls -la "$SPOOL/outbox/$DEV" | sed 's/^/#   /'
	fi
}

head -c 100 /dev/urandom >"$IN/blob.xyz"
expect_failure blob.xyz "blob.xyz: unknown file type" "unknown file type"

: >"$IN/empty.sha256"
expect_failure empty.sha256 "empty.sha256: is empty" "empty file"

head -c 2000000 /dev/zero >"$T_DIR/big.exe"
mv "$T_DIR/big.exe" "$IN/big.exe"
expect_failure big.exe "big.exe: .*over max_file_size" "file over max_file_size"

make_hash_drop target.sha256
ln -s "$T_DIR/target.sha256" "$IN/link.sha256"
expect_failure link.sha256 "link.sha256: is a symbolic link" "symlink"
check "the symlink's target is untouched" test -f "$T_DIR/target.sha256"

make_hash_drop hard.sha256
ln "$T_DIR/hard.sha256" "$IN/hard.sha256"
expect_failure hard.sha256 "hard.sha256: has other hard links" "hard link to a file outside the inbox"

mkfifo "$T_DIR/pipe.sha256"
mv "$T_DIR/pipe.sha256" "$IN/pipe.sha256"
expect_failure pipe.sha256 "pipe.sha256: is not a regular file" "FIFO"

mkdir -p "$T_DIR/nested/sub"
make_hash_drop n.sha256
cp "$T_DIR/n.sha256" "$T_DIR/nested/"
cp "$T_DIR/n.sha256" "$T_DIR/nested/sub/"
mv "$T_DIR/nested" "$IN/nested"
expect_failure nested "sub: is a folder inside a folder drop" "folder nested deeper than one level"

mkdir "$T_DIR/badconf"
cp "$T_DIR/n.sha256" "$T_DIR/badconf/"
printf 'version = "1.0"\ndigests = [ sha256 ;\n' >"$T_DIR/badconf/request.conf"
mv "$T_DIR/badconf" "$IN/badconf"
expect_failure badconf "request.conf:2: syntax error" "request.conf with a syntax error names the line"

mkdir "$T_DIR/unknownkey"
cp "$T_DIR/n.sha256" "$T_DIR/unknownkey/"
printf 'versoin = "1.0";\n' >"$T_DIR/unknownkey/request.conf"
mv "$T_DIR/unknownkey" "$IN/unknownkey"
expect_failure unknownkey "request.conf:1: versoin: unknown setting" "request.conf with an unknown setting"

echo "not-a-hash  file" >"$T_DIR/mal.sha256"
mv "$T_DIR/mal.sha256" "$IN/mal.sha256"
expect_failure mal.sha256 "mal.sha256: not a file the hash service can sign \\(not a file holding one hexadecimal digest\\)" "a digest file with a malformed hash"

echo "$(printf '%040x' 7)" >"$T_DIR/short.sha256"
mv "$T_DIR/short.sha256" "$IN/short.sha256"
expect_failure short.sha256 "short.sha256: holds a 40-digit digest, which is sha1, not sha256" "a SHA-256 file holding a SHA-1 length digest"

mkdir -p "$SPOOL/inbox/stranger"
make_hash_drop s.sha256
cp "$T_DIR/s.sha256" "$SPOOL/inbox/stranger/"
wait_for 15 test -f "$SPOOL/outbox/stranger/ERROR"
ok $? "an inbox of an unknown developer gets an ERROR file"
like "$(cat "$SPOOL/outbox/stranger/ERROR" 2>/dev/null)" "s.sha256: inbox 'stranger' belongs to no configured developer" "naming the file and the reason"
check "and its files stay where they are" test -f "$SPOOL/inbox/stranger/s.sha256"

make_hash_drop good.sha256
drop_by_rename good.sha256
wait_state good.sha256 signed
ok $? "after all that, a good drop is still signed"
check "csodd is still running" daemon_alive
check "failures are in the log with the request id" grep -q "\] .*failed: blob.xyz: unknown file type" "$LOG"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
