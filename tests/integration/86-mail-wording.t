#!/bin/bash
# Mail people can act on (issue 15), through a real SMTP server on
# loopback: the approvers' mail says who asks to sign what ("... asks to
# sign version 2.4.1 (authenticode) of release, 2 files, 14 MB"), an
# organization's own templates override the global ones, `csodctl request
# resend` sends the templated notice, and `csodctl developer welcome` (or
# `developer add --welcome`) tells a developer how to map the share.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || skip_all "python3-aiosmtpd not installed"
command -v x86_64-w64-mingw32-gcc >/dev/null || skip_all "mingw-w64 not installed"
chmod 755 "$T_DIR"
DEV=csm-dag$$
useradd -M -N -s /usr/sbin/nologin "$DEV" || exit 1
MBOX=$T_DIR/mbox
mkdir -p "$MBOX/new" "$MBOX/cur" "$MBOX/tmp"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 "$CSOD_TOP/tests/fixtures/smtp_server.py" "$PORT" "$MBOX" >/dev/null 2>&1 &
SMTP_PID=$!
trap 'kill $SMTP_PID 2>/dev/null; userdel "$DEV" 2>/dev/null; cleanup' EXIT
wait_for 10 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))"
# mail_to ADDRESS SUBJECT-REGEX: the delivered message (its file).
mail_to() {
	grep -l -i "^To: $1" "$MBOX"/new/* 2>/dev/null | while read -r f; do
		grep -q -E "^Subject: .*$2" "$f" && echo "$f"
	done | head -1
}
got_mail() { [ -n "$(mail_to "$1" "$2")" ]; }
# has_line FILE LINE: the message holds exactly that line (CRLF or LF).
has_line() { tr -d '\r' <"$1" | grep -qxF -- "$2"; }

# The global templates (the shipped ones) and one organization's own
# signed notice.
TPL=$T_DIR/templates
mkdir -p "$TPL/$ORG"
cp "$CSOD_TOP"/etc/templates/*.txt "$TPL/"
cat >"$TPL/$ORG/signed.txt" <<'TXT'
Subject: Dithers: {{what}} is signed (request {{id}})
Dithers signed {{summary}} for {{developer}}.
Pick it up from {{outbox}} before {{expires}}.
TXT

AUTO_APPROVE=false
EXTRA='share_path = "\\\\files\\csod";'
write_config
sed -i "s|^mail = .*|mail = { transport = \"smtp\"; host = \"127.0.0.1\"; port = $PORT; starttls = \"never\"; from = \"csod@dithercons.com\"; retry = \"1s\"; templates = \"$TPL\"; };|" "$CONF"
start_daemon || exit 1

# A release folder: two real PE files of 7,000,000 bytes each, version 2.4.1,
# made in a folder of the developer's beside the spool and moved in by them.
printf '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n' >"$T_DIR/hello.c"
STAGE=$T_DIR/stage
mkdir -p "$STAGE/release"
x86_64-w64-mingw32-gcc -O1 -o "$STAGE/release/app.exe" "$T_DIR/hello.c" || exit 1
x86_64-w64-mingw32-gcc -O1 -shared -o "$STAGE/release/lib.dll" "$T_DIR/hello.c" || exit 1
truncate -s 7000000 "$STAGE/release/app.exe" "$STAGE/release/lib.dll"
printf 'version = "2.4.1";\n' >"$STAGE/release/request.conf"
chown -R "$DEV" "$STAGE"
runuser -u "$DEV" -- mv "$STAGE/release" "$SPOOL/inbox/$DEV/release"
wait_state release created 30 "$DEV"
id=$(dir_id "$(request_dir release "$DEV")")
wait_for 20 got_mail root@dithercons.com "\\(request $id\\)"
ok $? "the approver gets a mail"
m=$(mail_to root@dithercons.com "\\(request $id\\)")
has_line "$m" "Subject: csod: $DEV asks to sign release 2.4.1 (request $id)"
ok $? "its subject: csod: $DEV asks to sign release 2.4.1 (request $id)"
has_line "$m" "$DEV asks to sign version 2.4.1 (authenticode) of release, 2 files, 14 MB."
ok $? "it says: $DEV asks to sign version 2.4.1 (authenticode) of release, 2 files, 14 MB."
has_line "$m" "$ORG / Software Development; digests sha256."
ok $? "with the organization, department and digests"
has_line "$m" "Everything that waits for approval: \\\\files\\csod\\requests\\index.html"
ok $? "and the approvers' status page, as the share shows it"
tr -d '\r' <"$m" | grep -q -e '(none)' -e 'by file type'
ok $((!$?)) "no '(none)', no 'by file type'"

# One file without a version: the other wording.
x86_64-w64-mingw32-gcc -O1 -o "$STAGE/tool.exe" "$T_DIR/hello.c"
truncate -s 1500000 "$STAGE/tool.exe"
chown "$DEV" "$STAGE/tool.exe"
runuser -u "$DEV" -- mv "$STAGE/tool.exe" "$SPOOL/inbox/$DEV/tool.exe"
wait_state tool.exe created 30 "$DEV"
id2=$(dir_id "$(request_dir tool.exe "$DEV")")
wait_for 20 got_mail root@dithercons.com "\\(request $id2\\)"
has_line "$(mail_to root@dithercons.com "\\(request $id2\\)")" "$DEV asks to sign tool.exe (authenticode), 1 file, 1.5 MB."
ok $? "a single file: $DEV asks to sign tool.exe (authenticode), 1 file, 1.5 MB."

# The organization's own signed notice wins over the global one.
csodctl --config "$CONF" request approve "$id" -m "ship it" >/dev/null
wait_state release signed 60 "$DEV"
wait_for 20 got_mail dagwood@dithercons.com "is signed \\(request $id\\)"
ok $? "the developer gets the signed notice"
m=$(mail_to dagwood@dithercons.com "is signed \\(request $id\\)")
has_line "$m" "Subject: Dithers: release 2.4.1 is signed (request $id)"
ok $? "from the organization's template: Subject: Dithers: release 2.4.1 is signed"
has_line "$m" "Dithers signed version 2.4.1 (authenticode) of release, 2 files, 14 MB for $DEV."
ok $? "with its own wording"
out=$(basename "$(request_dir release "$DEV")")
has_line "$m" "Pick it up from \\\\files\\csod\\outbox\\$DEV\\$out before $(json_field "$(request_dir release "$DEV")/request.json" expires | sed 's/Z$/Z/')."
ok $? "and the outbox as the share shows it"

# resend: the same template, not a text of csodctl's own.
n=$(grep -l "is signed (request $id)" "$MBOX"/new/* | wc -l)
like "$(csodctl --config "$CONF" request resend "$id")" "signed notice for $id queued to dagwood@dithercons.com" "request resend queues the notice"
wait_for 20 sh -c "[ \$(grep -l 'is signed (request $id)' '$MBOX'/new/* | wc -l) -gt $n ]"
ok $? "and it is delivered"
m2=$(grep -l "is signed (request $id)" "$MBOX"/new/* | xargs ls -t | head -1)
has_line "$m2" "Subject: Dithers: release 2.4.1 is signed (request $id)"
ok $? "resend uses the organization's template"
has_line "$m2" "Dithers signed version 2.4.1 (authenticode) of release, 2 files, 14 MB for $DEV."
ok $? "with the same wording as the first notice"

# The welcome mail: on request, with the share and where things are on it.
csodctl --config "$CONF" developer add blondie@dithercons.com --name "Blondie Bumstead" \
	--user blondie --organization "$ORG" >/dev/null
ok $? "developer add without --welcome"
like "$(csodctl --config "$CONF" developer welcome "$DEV")" "welcome mail to $DEV queued to dagwood@dithercons.com" "developer welcome queues the mail"
wait_for 20 got_mail dagwood@dithercons.com "your code-signing inbox"
ok $? "the welcome arrives"
m=$(mail_to dagwood@dithercons.com "your code-signing inbox")
has_line "$m" "Welcome, Dagwood Bumstead."
ok $? "it greets the developer by name"
has_line "$m" "  \\\\files\\csod"
ok $? "names the share to map"
has_line "$m" "net use S: \\\\files\\csod), or mount it (Linux, macOS)."
ok $? "says how to map it"
has_line "$m" "  \\\\files\\csod\\inbox\\$DEV"
ok $? "names the inbox on the share"
has_line "$m" "  \\\\files\\csod\\outbox\\$DEV\\index.html"
ok $? "and the status page"
got_mail blondie@dithercons.com "your code-signing inbox"
ok $((!$?)) "developer add without --welcome sent none"
csodctl --config "$CONF" developer add cookie@dithercons.com --name Cookie --user cookie \
	--organization "$ORG" --welcome >/dev/null
wait_for 20 got_mail cookie@dithercons.com "your code-signing inbox"
ok $? "developer add --welcome sends it"
has_line "$(mail_to cookie@dithercons.com "your code-signing inbox")" "Welcome, Cookie."
ok $? "to the new developer"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
