/* One signature per requested digest, shared by the Authenticode engines:
 * the first digest is the primary signature, each further one is nested
 * in it; with an existing signature to keep (append), that one stays
 * primary and all of ours nest in it. */
#include "spc.h"

PKCS7 *csod_spc_sign_digests(const csod_identity *id, const csod_sign_options *opt,
                             const csod_spc_data *type, PKCS7 *existing, csod_spc_hash_fn hash,
                             void *ctx, csod_error *err)
{
	PKCS7 *primary = existing;
	int n = opt->n_digests > 0 ? opt->n_digests : 1;
	for (int i = 0; i < n; i++) {
		const char *name = opt->n_digests ? opt->digests[i] : "sha256";
		const EVP_MD *md = csod_digest_by_name(name);
		unsigned char digest[EVP_MAX_MD_SIZE];
		unsigned digest_len = 0;
		if (!md) {
			csod_fail(err, "unknown digest %s", name);
			goto fail;
		}
		if (hash(ctx, md, digest, &digest_len, err) < 0)
			goto fail;
		PKCS7 *p7 = csod_spc_sign_data(id, opt, type, md, digest, digest_len, err);
		if (!p7)
			goto fail;
		if (opt->timestamp_url && *opt->timestamp_url &&
		    csod_spc_timestamp(p7, opt, err) < 0) {
			PKCS7_free(p7);
			goto fail;
		}
		if (!primary) {
			primary = p7;
			continue;
		}
		int rc = csod_spc_nest(primary, p7, err);
		PKCS7_free(p7);
		if (rc < 0)
			goto fail;
	}
	return primary;
fail:
	if (primary != existing)
		PKCS7_free(primary);
	return NULL;
}
