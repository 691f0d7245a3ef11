# Time-stamping authorities on loopback for tests 27-29 (sourced after
# lib.sh). tsa_make NAME makes a TSA with its own root in $T_DIR/NAME
# (tests/fixtures/mktsa.sh); tsa_start NAME MODE serves it with
# tests/fixtures/tsa.py (modes there) and sets TSA_URL_<NAME>; tsa_stop_all
# stops every one started. A second TSA sharing a first one's keys:
# tsa_clone FROM NAME.
TSA_PIDS=
tsa_make() {
	sh "$CSOD_TOP/tests/fixtures/mktsa.sh" "$T_DIR/$1" || {
		fail "tests/fixtures/mktsa.sh makes TSA $1"
		done_testing
		exit 1
	}
}
tsa_clone() {
	mkdir -p "$T_DIR/$2"
	cp "$T_DIR/$1"/* "$T_DIR/$2/"
	rm -f "$T_DIR/$2/port" "$T_DIR/$2/requests.log"
	sed -i "s#^dir = .*#dir = $T_DIR/$2#" "$T_DIR/$2/tsa.cnf"
}
tsa_start() {
	local d=$T_DIR/$1
	rm -f "$d/port"
	# Not on our stdout: prove reads it to the end.
	/usr/bin/python3 "$CSOD_TOP/tests/fixtures/tsa.py" "$d" "$d/port" "$2" >/dev/null 2>&1 &
	TSA_PIDS="$TSA_PIDS $!"
	wait_for 10 test -s "$d/port"
	eval "TSA_URL_$1=http://127.0.0.1:$(cat "$d/port")/tsa"
}
tsa_stop_all() {
	local p
	for p in $TSA_PIDS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	TSA_PIDS=
}
# A port nothing listens on: bound, then closed, by python.
dead_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
