#!/bin/bash
# JAR, WAR and APK dropped into an inbox come back signed by csodd and pass
# jarsigner -verify -strict and apksigner verify against the local CA.
. "$(dirname "$0")/lib.sh"
for t in jar jarsigner keytool zip apksigner zipalign; do
	command -v $t >/dev/null || skip_all "$t not installed"
done
write_config
start_daemon || exit 1
cd "$T_DIR"
mkdir -p src/com/dithers src/res
printf 'class A {}\n' >src/com/dithers/A.class
head -c 5000 /dev/urandom >src/res/data.bin
(cd src && jar cf "$T_DIR/app.jar" com res)
cp app.jar web.war
mkdir -p apk/lib/x86_64
printf '<manifest package="com.dithers.app"/>\n' >apk/AndroidManifest.xml
head -c 20000 /dev/urandom >apk/classes.dex
head -c 3000 /dev/urandom >apk/resources.arsc
head -c 8000 /dev/urandom >apk/lib/x86_64/libx.so
(cd apk && zip -q -r "$T_DIR/raw.apk" AndroidManifest.xml classes.dex lib && zip -q -0 "$T_DIR/raw.apk" resources.arsc)
zipalign -f 4 raw.apk app.apk
mkdir drop
cp app.jar web.war app.apk drop/
printf 'version = "3.1";\nmin_sdk = 21;\n' >drop/request.conf
mv drop "$SPOOL/inbox/$DEV/release"
wait_state release signed 60
ok $? "a folder with a JAR, a WAR and an APK is signed"
out=$(request_dir release)
keytool -importcert -noprompt -alias csodroot -file "$SPOOL/ca/ca.pem" -keystore trust.p12 \
	-storetype PKCS12 -storepass changeit >/dev/null 2>&1
for f in app.jar web.war; do
	like "$(jarsigner -verify -strict -keystore trust.p12 -storepass changeit "$out/$f" 2>&1)" \
		"jar verified\." "jarsigner -verify -strict accepts $f"
done
v=$(apksigner verify -v --min-sdk-version 21 "$out/app.apk" 2>&1)
ok $? "apksigner verify accepts the APK"
like "$v" "Verified using v1 scheme \(JAR signing\): true" "v1 (min_sdk 21 from request.conf)"
like "$v" "Verified using v2 scheme \(APK Signature Scheme v2\): true" "v2"
like "$v" "Verified using v3 scheme \(APK Signature Scheme v3\): true" "v3"
check "the APK stays 4-byte aligned" zipalign -c 4 "$out/app.apk"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
