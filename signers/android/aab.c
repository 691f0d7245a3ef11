/* The aab engine: Android App Bundles, the format Google Play takes for
 * uploads. A bundle is a ZIP (BundleConfig.pb, base/manifest/
 * AndroidManifest.xml as protocol buffers, base/dex/...) that Play wants
 * signed with the upload key by JAR signing alone (it is signed the way
 * jarsigner signs it; APK Signature Schemes v2/v3 apply to the APKs Play
 * builds from it, never to the bundle). So the signing is the jar
 * engine's; this engine adds what tells a bundle apart: it is taken by its
 * name (.aab, service android) and check() wants a bundle's layout. Its
 * manifest is a protocol buffer, not binary XML: the APK manifest reader
 * is never run on it. */
#include <string.h>

#include "../java/jar.h"
#include "../java/zip_read.h"
#include "../signer.h"

static int aab_detect(const unsigned char *head, size_t headlen, off_t size)
{
	(void)size;
	return headlen >= 4 && memcmp(head, "PK\003\004", 4) == 0;
}

/* A ZIP with a bundle's two required entries and no APK Signing Block. */
static int aab_check(int fd, const char *name, csod_error *err)
{
	static const char *const required[] = {"BundleConfig.pb",
	                                       "base/manifest/AndroidManifest.xml"};
	csod_zip z;
	csod_error why;
	if (csod_zip_open(&z, fd, "bundle", &why) < 0)
		return csod_fail(err, "%s: not an Android App Bundle: %s", name, why.msg);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof required / sizeof required[0]; i++)
		if (csod_zip_find(&z, required[i]) < 0)
			rc = csod_fail(err, "%s: not an Android App Bundle: no %s entry", name,
			               required[i]);
	if (rc == 0 && z.has_apk_sig_block)
		rc = csod_fail(err,
		               "%s: carries an APK signing block, which a bundle never has "
		               "(Google Play takes JAR-signed bundles only)",
		               name);
	csod_zip_close(&z);
	return rc;
}

static const char *const aab_extensions[] = {"aab", NULL};

const csod_signer csod_signer_aab = {
    .name = "aab",
    .service = "android",
    .detect = aab_detect,
    .check = aab_check,
    .output_name = NULL,
    .sign = csod_jar_sign,
    .verify = csod_jar_verify,
    .extract_signature = csod_jar_extract,
    .attach_signature = csod_jar_attach,
    .extensions = aab_extensions,
};
