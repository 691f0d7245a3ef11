#!/bin/bash
# Benchmark (not a test): csod-sign against apksigner sign and jarsigner on
# the same 2 MB APK and JAR, in the same run. Median wall time of 5 runs and
# peak RSS (/usr/bin/time -v), then the ratios. With BIG=1 also a 200 MB APK
# against the floor of reading it once and hashing it (cat + openssl dgst).
#   sh bench/jar_apk.sh            (uses build/bin/csod-sign or $CSOD_BIN)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${CSOD_BIN:-$top/build/bin}
runs=${RUNS:-5}
for t in "$bin/csod-sign" apksigner jarsigner keytool zip openssl /usr/bin/time; do
	command -v "$t" >/dev/null || {
		echo "bench: needs $t" >&2
		exit 1
	}
done
w=$(mktemp -d /tmp/csod-bench.XXXXXX)
trap 'rm -rf "$w"' EXIT
sh "$top/tests/fixtures/mkpki.sh" "$w/pki" >/dev/null
P=$w/pki

# Inputs: ~2 MB each, half compressible, some stored entries.
mkdir -p "$w/src/lib/x86_64" "$w/src/com/example"
head -c 700000 /dev/urandom >"$w/src/classes.dex"
yes 'csod benchmark text line' | head -c 800000 >"$w/src/com/example/text.txt"
head -c 500000 /dev/urandom >"$w/src/lib/x86_64/libbench.so"
printf '<manifest/>\n' >"$w/src/AndroidManifest.xml"
for i in $(seq 1 200); do printf 'class C%d {}\n' "$i" >"$w/src/com/example/C$i.java"; done
(cd "$w/src" && zip -q -r "$w/in.apk" AndroidManifest.xml classes.dex com &&
	zip -q -0 "$w/in.apk" lib/x86_64/libbench.so)
(cd "$w/src" && zip -q -r "$w/in.jar" classes.dex com lib)

openssl pkcs8 -topk8 -nocrypt -in "$P/rsa.key" -outform DER -out "$w/rsa.pk8"
openssl x509 -in "$P/rsa.pem" -outform DER -out "$w/rsa.der"
cat "$P/rsa.pem" "$P/chain.pem" >"$w/fullchain.pem"
openssl pkcs12 -export -in "$P/rsa.pem" -inkey "$P/rsa.key" -certfile "$P/chain.pem" -name csod \
	-out "$w/ks.p12" -passout pass:changeit

# measure NAME CMD...: prints "median_seconds peak_rss_kb"
measure() {
	local name=$1
	shift
	: >"$w/$name.times"
	local rss=0
	for _ in $(seq 1 "$runs"); do
		# Each run writes a new file: replacing the last run's output
		# would add its deletion (~70 ms for 200 MB on ext4) to the time.
		rm -f "$w"/out-* "$w"/big-out.apk
		/usr/bin/time -v -o "$w/time.out" "$@" >/dev/null 2>&1 || {
			echo "bench: $name failed: $*" >&2
			exit 1
		}
		awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, a, ":"); s = 0;
			for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$w/time.out" >>"$w/$name.times"
		r=$(awk -F': ' '/Maximum resident/ {print $2}' "$w/time.out")
		[ "$r" -gt "$rss" ] && rss=$r
	done
	echo "$(sort -n "$w/$name.times" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}') $rss"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.1f", a / b }'; }

cs_apk=$(measure csod-apk "$bin/csod-sign" --cert "$P/rsa.pem" --key "$P/rsa.key" --chain "$P/chain.pem" \
	--min-sdk 21 "$w/in.apk" "$w/out-csod.apk")
as_apk=$(measure apksigner apksigner sign --key "$w/rsa.pk8" --cert "$w/rsa.der" --min-sdk-version 21 \
	--out "$w/out-apksigner.apk" "$w/in.apk")
cs_jar=$(measure csod-jar "$bin/csod-sign" --cert "$P/rsa.pem" --key "$P/rsa.key" --chain "$P/chain.pem" \
	"$w/in.jar" "$w/out-csod.jar")
js_jar=$(measure jarsigner jarsigner -keystore "$w/ks.p12" -storepass changeit \
	-signedjar "$w/out-jarsigner.jar" "$w/in.jar" csod)

printf '%-28s %10s %12s\n' "2 MB archives" "median s" "peak RSS KB"
printf '%-28s %10s %12s\n' "csod-sign APK (v1+v2+v3)" $cs_apk
printf '%-28s %10s %12s\n' "apksigner sign" $as_apk
printf '%-28s %10s %12s\n' "csod-sign JAR" $cs_jar
printf '%-28s %10s %12s\n' "jarsigner" $js_jar
echo "APK: csod-sign is $(ratio "${as_apk% *}" "${cs_apk% *}")x faster than apksigner," \
	"$(ratio "${as_apk#* }" "${cs_apk#* }")x less memory"
echo "JAR: csod-sign is $(ratio "${js_jar% *}" "${cs_jar% *}")x faster than jarsigner," \
	"$(ratio "${js_jar#* }" "${cs_jar#* }")x less memory"

if [ "${BIG:-0}" = 1 ]; then
	mkdir -p "$w/big"
	for i in 1 2 3 4; do head -c 50000000 /dev/urandom >"$w/big/blob$i.bin"; done
	cp "$w/src/AndroidManifest.xml" "$w/big/"
	(cd "$w/big" && zip -q -1 "$w/big.apk" AndroidManifest.xml blob1.bin blob2.bin &&
		zip -q -0 "$w/big.apk" blob3.bin blob4.bin)
	rm -rf "$w/big"
	floor=$(measure floor sh -c "cat '$w/big.apk' >/dev/null && openssl dgst -sha256 '$w/big.apk'")
	# minSdkVersion 24 and up: v2 and v3 only; 21: v1 as well, which hashes
	# the entries' uncompressed content besides the chunks. (The manifest
	# here is not compiled XML, so the minimum is given.)
	sign_big=("$bin/csod-sign" --cert "$P/rsa.pem" --key "$P/rsa.key" --chain "$P/chain.pem"
		"$w/big.apk" "$w/big-out.apk")
	big=$(measure csod-big "${sign_big[@]}" --min-sdk 24 --no-verify)
	bigv=$(measure csod-bigv "${sign_big[@]}" --min-sdk 24)
	big1=$(measure csod-big1 "${sign_big[@]}" --min-sdk 21 --no-verify)
	big1v=$(measure csod-big1v "${sign_big[@]}" --min-sdk 21)
	printf '%-28s %10s %12s\n' "200 MB APK" "median s" "peak RSS KB"
	printf '%-28s %10s %12s\n' "read once + sha256 (floor)" $floor
	printf '%-28s %10s %12s\n' "csod-sign v2+v3 --no-verify" $big
	printf '%-28s %10s %12s\n' "csod-sign v2+v3 self-check" $bigv
	printf '%-28s %10s %12s\n' "csod-sign v1+v2+v3 --no-v." $big1
	printf '%-28s %10s %12s\n' "csod-sign v1+v2+v3 self-ch." $big1v
	echo "200 MB APK: signing takes $(ratio "${big% *}" "${floor% *}")x the floor" \
		"($(ratio "${bigv% *}" "${floor% *}")x with the self-check);" \
		"with v1 $(ratio "${big1% *}" "${floor% *}")x ($(ratio "${big1v% *}" "${floor% *}")x)"
fi
