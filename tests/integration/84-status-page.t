#!/bin/bash
# The status pages people open from the share (issue 15): a developer's
# outbox/<user>/index.html and the approvers' requests/index.html, loaded
# in a real browser (headless Chromium) as the Unix users who read them.
# The right requests appear with their states and time lines, the signed
# files are links that resolve, a failed request shows its ERROR in full,
# and names a developer chose that look like HTML stay text.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
command -v chromium >/dev/null || skip_all "chromium not installed"
command -v x86_64-w64-mingw32-gcc >/dev/null || skip_all "mingw-w64 not installed"
command -v osslsigncode >/dev/null || skip_all "osslsigncode not installed"
chmod 755 "$T_DIR"

S=$$
DEV=csh-dev$S
ADM=csh-adm$S
for u in $DEV $ADM; do useradd -M -N -s /usr/sbin/nologin "$u" || exit 1; done
trap 'userdel "$DEV" 2>/dev/null; userdel "$ADM" 2>/dev/null; cleanup' EXIT
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }

# Chromium as USER, with a profile of its own: prints the DOM of FILE.
browse() { # browse USER FILE [chromium options...]
	local u=$1 file=$2
	shift 2
	mkdir -p "$T_DIR/home-$u"
	chown "$u" "$T_DIR/home-$u"
	as "$u" env HOME="$T_DIR/home-$u" timeout 120 chromium --headless --no-sandbox \
		--disable-gpu --user-data-dir="$T_DIR/home-$u/profile" "$@" "file://$file" \
		2>>"$T_DIR/chromium-$u.log"
}
# count TAG FILE: elements <TAG ...> in a dumped DOM (escaped text is &lt;TAG).
count() { grep -o "<$1[ >]" "$2" | wc -l; }

AUTO_APPROVE=false
ADMINS="{ user = \"$ADM\"; email = \"adm@dithercons.com\"; role = \"MRAO\"; }"
write_config
start_daemon || exit 1
INBOX=$SPOOL/inbox/$DEV
PAGE=$SPOOL/outbox/$DEV/index.html
APPROVERS=$SPOOL/requests/index.html

# Inputs made now, by real tools, dropped by the developer as themselves
# (from a folder of their own: the spool's modes are csodd's business).
IN=$T_DIR/in
mkdir "$IN"
printf '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n' >"$T_DIR/hello.c"
x86_64-w64-mingw32-gcc -O1 -o "$IN/app.exe" "$T_DIR/hello.c" || exit 1
mkdir "$IN/release"
cp "$IN/app.exe" "$IN/release/app.exe"
printf 'version = "2.4.1";\n' >"$IN/release/request.conf"
HOSTILE1='<img src=x onerror=alert(1)>.sha256'
HOSTILE2='"><script>alert(2).sha256'
# The second request that waits has a name for the approvers' page to escape.
W2NAME='<img src=y onerror=alert(3)>waiting2.sha256'
for n in h1 h2 waiting1.sha256 w2; do make_hash_drop $n && mv "$T_DIR/$n" "$IN/"; done
mv "$IN/w2" "$IN/$W2NAME"
mv "$IN/h1" "$IN/$HOSTILE1"
mv "$IN/h2" "$IN/$HOSTILE2"
printf 'this is not a program\n' >"$IN/broken.exe"
chmod -R a+rX "$IN"
drop() { # drop NAME: copied in as the developer, then renamed (atomic)
	as "$DEV" cp -r "$IN/$1" "$INBOX/.tmp-drop"
	as "$DEV" mv "$INBOX/.tmp-drop" "$INBOX/$1"
}
# The request folder of drop NAME, found by its name ("<id> NAME").
# (or "<id> NAME VERSION").
folder() { ls -d "$SPOOL/outbox/$DEV/"*" $1" "$SPOOL/outbox/$DEV/"*" $1 "* 2>/dev/null | head -1; }
wait_status() { # wait_status NAME STATE
	wait_for 60 sh -c 'for d in "$1"/*" $2" "$1"/*" $2 "*; do grep -qx "$3" "$d/STATUS" 2>/dev/null && exit 0; done; exit 1' - "$SPOOL/outbox/$DEV" "$1" "$2"
}
approve() { # approve DROP MESSAGE: the approver's marker, written as them
	local id
	id=$(dir_id "$(folder "$1")")
	as "$ADM" sh -c "printf '%s' '$2' >'$SPOOL/approvals/$id.approve'"
}

for d in release "$HOSTILE1" "$HOSTILE2" broken.exe; do drop "$d"; done
wait_status release created && wait_status "$HOSTILE1" created &&
	wait_status "$HOSTILE2" created && wait_status broken.exe failed
ok $? "the drops are requests (broken.exe failed at intake)"
approve release "looks good, ship it"
approve "$HOSTILE1" "ok"
approve "$HOSTILE2" "ok"
wait_status release signed && wait_status "$HOSTILE1" signed &&
	wait_status "$HOSTILE2" signed
ok $? "three requests are signed"
# Two that wait, dropped one after the other: oldest first on the approvers' page.
drop waiting1.sha256
wait_state waiting1.sha256 created 30 "$DEV"
sleep 1.1 # ids hold seconds: the second is younger
drop "$W2NAME"
wait_status "$W2NAME" created
ok $? "two requests wait for approval"
W1=$(dir_id "$(request_dir waiting1.sha256 "$DEV")")
W2=$(dir_id "$(folder "$W2NAME")")
REL=$(request_dir release "$DEV")
wait_for 10 grep -q "$W2" "$PAGE" && wait_for 10 grep -q "$W2" "$APPROVERS"
ok $? "both pages are written"

# --- the developer's page, in the browser, as the developer ---------------
check "the developer may read their page" as "$DEV" test -r "$PAGE"
browse "$DEV" "$PAGE" --dump-dom >"$T_DIR/dev.dom"
like "$(cat "$T_DIR/dev.dom")" '<title>csod: requests of' "Chromium loads the page"
is "$(count script "$T_DIR/dev.dom")" 0 "no <script> element: the hostile names stayed text"
is "$(count img "$T_DIR/dev.dom")" 0 "no <img> element either"
grep -qF '&lt;img src=x onerror=alert(1)&gt;.sha256' "$T_DIR/dev.dom"
ok $? "the name <img src=x onerror=alert(1)>.sha256 shows as text"
grep -qF '"&gt;&lt;script&gt;alert(2).sha256' "$T_DIR/dev.dom"
ok $? "the name \"><script>... shows as text"
# Each request's section, by its id: its state and time line.
section() { # section ID [DOM]: that request's part of the dumped DOM
	/usr/bin/python3 - "${2:-$T_DIR/dev.dom}" "$1" <<'PY'
import re, sys
dom = open(sys.argv[1]).read()
m = re.search(r'<section class="req" id="r-%s">(.*?)</section>' % re.escape(sys.argv[2]), dom, re.S)
print(m.group(1) if m else "")
PY
}
rel=$(section "$(dir_id "$REL")")
like "$rel" 'release <span class="meta">version</span> 2\.4\.1<span class="state s-signed">signed</span>' "release 2.4.1 is shown signed"
like "$rel" "approved by <b>$ADM</b>.*looks good, ship it" "with who approved it and their message"
like "$rel" '<li>signed ' "the time it was signed"
like "$rel" 'expires .*\(in 72 hours\)' "and when it expires (in 72 hours)"
like "$rel" 'osslsigncode verify -CAfile .*chain\.pem.* -in .*app\.exe' "with the command that verifies it"
bad=$(section "$(dir_id "$(request_dir broken.exe "$DEV")")")
like "$bad" 's-failed">failed' "broken.exe is shown failed"
err=$(cat "$(request_dir broken.exe "$DEV")/ERROR")
grep -qF "$(printf '%s' "$err" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g')" "$T_DIR/dev.dom"
ok $? "with its ERROR in full: $err"
w=$(section "$W1")
like "$w" 's-created">created' "a waiting request is shown created"

# Links: relative to the page, each to a signed file that is there.
/usr/bin/python3 - "$T_DIR/dev.dom" >"$T_DIR/links" <<'PY'
import re, sys, urllib.parse
for href in re.findall(r'<a href="([^"]*)"', open(sys.argv[1]).read()):
    print(urllib.parse.unquote(href.replace("&amp;", "&")))
PY
is "$(wc -l <"$T_DIR/links")" 3 "three links: one per signed file"
all_there=0
while IFS= read -r l; do
	case "$l" in /* | *..*) all_there=1 ;; esac
	as "$DEV" test -f "$SPOOL/outbox/$DEV/$l" || all_there=1
done <"$T_DIR/links"
ok $all_there "every link is relative and names a signed file the developer can read"
exe=$(grep 'app\.exe$' "$T_DIR/links")
check "the app.exe link is the signed app.exe" osslsigncode verify -CAfile "$SPOOL/ca/ca.pem" -in "$SPOOL/outbox/$DEV/$exe"
grep -qF "$HOSTILE1.p7s" "$T_DIR/links"
ok $? "the hostile name's signature is linked under its own name"

# A screenshot, kept with the test's files (and in CSOD_ARTIFACTS).
browse "$DEV" "$PAGE" --screenshot="$T_DIR/home-$DEV/status-page.png" --window-size=1200,900 >/dev/null
cp "$T_DIR/home-$DEV/status-page.png" "$T_DIR/status-page.png" 2>/dev/null
like "$(file -b "$T_DIR/status-page.png")" '^PNG image data, 1200 x 900' "Chromium renders a screenshot of the page"
if [ -n "${CSOD_ARTIFACTS:-}" ]; then
	mkdir -p "$CSOD_ARTIFACTS" && cp "$T_DIR/status-page.png" "$CSOD_ARTIFACTS/84-status-page.png"
fi

# --- the approvers' page ----------------------------------------------------
as "$DEV" cat "$APPROVERS" >/dev/null 2>&1
ok $((!$?)) "a developer cannot read the approvers' page"
browse "$ADM" "$APPROVERS" --dump-dom >"$T_DIR/adm.dom"
like "$(cat "$T_DIR/adm.dom")" '<title>csod: requests waiting for approval</title>' "the approver loads their page"
like "$(cat "$T_DIR/adm.dom")" "2 request\(s\) wait" "two requests wait"
is "$(count img "$T_DIR/adm.dom")" 0 "no <img> element on the approvers' page"
grep -qF '&lt;img src=y onerror=alert(3)&gt;waiting2.sha256' "$T_DIR/adm.dom"
ok $? "the hostile name shows there as text"
order=$(grep -o '<a href="[^"]*/details.json">[^<]*</a>' "$T_DIR/adm.dom" | sed 's/.*">//; s/<.*//' | tr '\n' ' ')
is "$order" "$W1 $W2 " "oldest first"
check "each links to its details.json" as "$ADM" test -r "$SPOOL/requests/$W1/details.json"
approve waiting1.sha256 "fine"
wait_state waiting1.sha256 signed 30 "$DEV"
wait_for 10 sh -c "! grep -q '$W1' '$APPROVERS'"
ok $? "an approved request leaves the approvers' page"
wait_for 10 sh -c "tr -d '\\n' <'$PAGE' | grep -q 'id=\"r-$W1\"><h2>[^<]*<span class=\"state s-signed'"
browse "$DEV" "$PAGE" --dump-dom >"$T_DIR/dev2.dom"
like "$(section "$W1" "$T_DIR/dev2.dom" | tr -d '\n')" 's-signed">signed' "and the developer's page shows it signed"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
