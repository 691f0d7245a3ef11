#!/bin/bash
# Intake runs beside the event loop: a large drop being copied and hashed
# does not hold up a small one dropped after it. Outbox views are rewritten
# from the database at start-up when they lag behind it (views.h).
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"

MAX_FILE_SIZE=4G
write_config
start_daemon || exit 1

# A 1 GB file takes seconds to copy and hash three ways; a digest dropped
# just after it must not wait for that.
mkdir "$T_DIR/big"
truncate -s 1G "$T_DIR/big/huge.txt"
mv "$T_DIR/big" "$SPOOL/inbox/$DEV/big"
wait_for 10 sh -c "ls '$SPOOL/store/incoming/' | grep -q ."
ok $? "the large drop is being taken in"
make_hash_drop small.sha256
drop_by_rename small.sha256
wait_state small.sha256 signed 60
ok $? "a small drop made after it is signed"
big_seen=$(request_dir big >/dev/null && echo yes || echo no)
is "$big_seen" no "before the large drop's intake has finished"
check "the small signature verifies" verify_p7s "$(request_dir small.sha256)/small.sha256.p7s" \
	"$T_DIR/small.sha256.data"
wait_state big failed 120
ok $? "the large drop becomes a request too (refused: not a digest)"
like "$(cat "$(request_dir big)/ERROR")" "huge.txt" "its ERROR names the file"

# A file large enough for MD5 to run on its own thread: the three digests
# in details.json are the standard tools' own.
head -c 20000000 /dev/urandom >"$T_DIR/mid.bin"
mkdir "$T_DIR/mid"
cp "$T_DIR/mid.bin" "$T_DIR/mid/mid.bin"
mv "$T_DIR/mid" "$SPOOL/inbox/$DEV/mid"
wait_state mid failed 60
ok $? "a 20 MB drop is taken in (and refused: unknown file type)"
mid=$(dir_id "$(request_dir mid)")
digest_of() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["files"][0][sys.argv[2]])' "$SPOOL/requests/$mid/details.json" "$1"; }
is "$(digest_of md5)" "$(md5sum "$T_DIR/mid.bin" | cut -d' ' -f1)" "its MD5 is md5sum's"
is "$(digest_of sha1)" "$(sha1sum "$T_DIR/mid.bin" | cut -d' ' -f1)" "its SHA-1 is sha1sum's"
is "$(digest_of sha256)" "$(sha256sum "$T_DIR/mid.bin" | cut -d' ' -f1)" "its SHA-256 is sha256sum's"

# Views behind the database are rewritten at start: lose a signed request's
# STATUS and request.json and mark its views stale, as a crash between the
# database commit and the rewrite would leave it.
dir=$(request_dir small.sha256)
id=$(dir_id "$dir")
stop_daemon
rm -f "$dir/STATUS" "$dir/request.json" "$SPOOL/requests/$id/details.json"
sqlite3 "$SPOOL/state/csod.db" "UPDATE requests SET published = 'in_progress' WHERE id = '$id'"
start_daemon
wait_for 10 test -f "$dir/STATUS"
ok $? "STATUS is rewritten at start"
is "$(cat "$dir/STATUS" 2>/dev/null)" signed "with the state in the database"
is "$(json_field "$dir/request.json" state 2>/dev/null)" signed "request.json too"
check "details.json too, with the file's SHA-256" grep -q "\"sha256\": \"$(sha256sum "$T_DIR/small.sha256" | cut -d' ' -f1)\"" \
	"$SPOOL/requests/$id/details.json"
is "$(sqlite3 "$SPOOL/state/csod.db" "SELECT count(*) FROM requests WHERE published IS NOT state")" 0 \
	"every request's views are current"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
