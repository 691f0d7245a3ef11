#!/bin/bash
# keys.backend = "pkcs11": csodd generates the CA's and the developers' keys
# on a SoftHSM2 token (sensitive, never extractable) and signs hash and PE
# drops with them; the database holds no key material. A module that does
# not load, a wrong PIN and a loose PIN file are clear errors.
. "$(dirname "$0")/lib.sh"
softhsm_token csodd 4321 8765
ok $? "a SoftHSM2 token"
PIN=$T_DIR/pin
echo 4321 >"$PIN"
chmod 400 "$PIN"
DB=$SPOOL/state/csod.db

# write_pkcs11_config MODULE PIN_FILE
write_pkcs11_config() {
	write_config
	sed -i "s|keys = { backend = \"database\"; };|keys = { backend = \"pkcs11\"; pkcs11 = { module = \"$1\"; token = \"csodd\"; pin_file = \"$2\"; }; };|" "$CONF"
}
write_pkcs11_config "$MODULE" "$PIN"
start_daemon || exit 1
p11() { pkcs11-tool --module "$MODULE" --token-label csodd --login --pin 4321 "$@" 2>/dev/null; }
is "$(sqlite3 "$DB" "SELECT COUNT(*) FROM keys WHERE backend='pkcs11'")" 2 "the CA key and the developer's key are on the token"
is "$(sqlite3 "$DB" "SELECT COUNT(*) FROM keys WHERE blob IS NOT NULL")" 0 "the database holds no key blob"
like "$(sqlite3 "$DB" "SELECT uri FROM keys ORDER BY id DESC LIMIT 1")" "^pkcs11:token=csodd;object=csod-key-[0-9]+;type=private$" "each key is named by a pkcs11: URI"
test ! -e "$SPOOL/state/master.key"
ok $? "no master key file is made"

make_hash_drop h.sha256
drop_by_rename h.sha256
wait_state h.sha256 signed
ok $? "a hash drop is signed with the token key"
check "openssl cms verifies it" verify_p7s "$(request_dir h.sha256)/h.sha256.p7s" "$T_DIR/h.sha256.data"
if command -v x86_64-w64-mingw32-gcc >/dev/null; then
	printf 'int main(void){return 0;}\n' >"$T_DIR/m.c"
	x86_64-w64-mingw32-gcc -o "$T_DIR/app.exe" "$T_DIR/m.c"
	drop_by_rename app.exe
	wait_state app.exe signed
	ok $? "a PE drop is signed with the token key"
	check "osslsigncode verifies it" osslsigncode verify -CAfile "$SPOOL/ca/ca.pem" -in "$(request_dir app.exe)/app.exe"
fi
stop_daemon

objects=$(p11 --list-objects --type privkey)
is "$(printf '%s\n' "$objects" | grep -c 'label: *csod-key-')" 2 "pkcs11-tool lists both private keys"
is "$(printf '%s\n' "$objects" | grep -c 'Access:.*sensitive.*never extractable')" 2 "both sensitive and never extractable"
check "no private key on the token is extractable" sh -c "! printf '%s\n' '$objects' | grep 'Access:' | grep -v 'never extractable'"
# The developer's certificate is for the key on the token.
sqlite3 "$DB" "SELECT cert_pem FROM certificates WHERE developer='$DEV'" >"$T_DIR/dev.pem"
kid=$(sqlite3 "$DB" "SELECT key_id FROM certificates WHERE developer='$DEV'")
p11 --read-object --type pubkey --label "csod-key-$kid" -o "$T_DIR/pub.der" >/dev/null
is "$(openssl pkey -pubin -inform DER -in "$T_DIR/pub.der" -outform DER | sha256sum)" \
	"$(openssl x509 -in "$T_DIR/dev.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)" \
	"the developer's certificate holds the token key's public key"

echo 9999 >"$T_DIR/badpin"
chmod 400 "$T_DIR/badpin"
write_pkcs11_config "$MODULE" "$T_DIR/badpin"
out=$(csodd --config "$CONF" --foreground 2>&1)
is "$?" 1 "a wrong PIN stops csodd"
like "$out" "login to token \"csodd\" failed \\(wrong PIN in $T_DIR/badpin\\?\\)" "naming the token and the PIN file"
check "the PIN is not in the message" sh -c "! printf '%s' '$out' | grep -q 9999"

write_pkcs11_config /nonexistent/libnothing.so "$PIN"
out=$(csodd --config "$CONF" --foreground 2>&1)
is "$?" 1 "a module that does not load stops csodd"
like "$out" "cannot load the PKCS#11 module /nonexistent/libnothing.so" "naming the module"

chmod 644 "$PIN"
write_pkcs11_config "$MODULE" "$PIN"
out=$(csodd --config "$CONF" --foreground 2>&1)
is "$?" 1 "a PIN file others can read is refused"
like "$out" "PKCS#11 PIN file $PIN has mode 0644" "naming the file and its mode"
chmod 400 "$PIN"

# A full token: its directory on a tiny file system with no room left. The
# first start must make the CA's key there, and says why it cannot.
if [ "$(id -u)" = 0 ] && mkdir -p "$T_DIR/fulltok" && mount -t tmpfs -o size=64k tmpfs "$T_DIR/fulltok" 2>/dev/null; then
	FULLCONF=$T_DIR/softhsm2-full.conf
	printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T_DIR/fulltok" >"$FULLCONF"
	SOFTHSM2_CONF=$FULLCONF softhsm2-util --init-token --free --label csodd --pin 4321 --so-pin 8765 >/dev/null
	dd if=/dev/zero of="$T_DIR/fulltok/filler" bs=1k 2>/dev/null
	SAVED_SPOOL=$SPOOL
	SPOOL=$T_DIR/spool-full
	write_pkcs11_config "$MODULE" "$PIN"
	out=$(SOFTHSM2_CONF=$FULLCONF csodd --config "$CONF" --foreground 2>&1 &
		p=$!; sleep $((5 * T_SLOWDOWN)); kill $p 2>/dev/null; wait $p 2>/dev/null)
	like "$out" "cannot generate an RSA-[0-9]+ key on token \"csodd\" \(token full" "a full token: the key cannot be made, and the log says why"
	check "and no key is recorded" test "$(sqlite3 "$SPOOL/state/csod.db" "SELECT COUNT(*) FROM keys" 2>/dev/null || echo 0)" -eq 0
	umount "$T_DIR/fulltok"
	SPOOL=$SAVED_SPOOL
	write_pkcs11_config "$MODULE" "$PIN"
else
	diag "skipped the full-token case: needs root and a tmpfs mount"
fi

start_daemon || exit 1
make_hash_drop r.sha256
drop_by_rename r.sha256
wait_state r.sha256 signed
ok $? "after a restart the token keys still sign"
stop_daemon
ok $? "csodd stops cleanly"
# keys.pkcs11.token may be a pkcs11: URI as csod-sign reads it; with no
# module the p11-kit proxy is loaded. A second token labelled csodd makes
# the bare label ambiguous; its serial tells the tokens apart.
SERIAL1=$(pkcs11-tool --module "$MODULE" --token-label csodd -T 2>/dev/null | awk '/serial num/{print $4; exit}')
softhsm2-util --init-token --free --label csodd --pin 4321 --so-pin 8765 >/dev/null
write_config
sed -i "s|keys = { backend = \"database\"; };|keys = { backend = \"pkcs11\"; pkcs11 = { token = \"pkcs11:token=csodd\"; pin_file = \"$PIN\"; }; };|" "$CONF"
out=$(csodd --config "$CONF" --foreground 2>&1)
is "$?" 1 "token = a URI two tokens match stops csodd"
like "$out" "ambiguous: 2 tokens .*p11-kit-proxy.* match it" "as ambiguous, through the p11-kit proxy"
sed -i "s|token=csodd\"|token=csodd;serial=$SERIAL1\"|" "$CONF"
start_daemon || exit 1
make_hash_drop u.sha256
drop_by_rename u.sha256
wait_state u.sha256 signed
ok $? "token = pkcs11:token=csodd;serial=<the first's>, no module: the keys sign"
stop_daemon
done_testing
