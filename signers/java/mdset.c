/* Running digests; see mdset.h. */
#include "mdset.h"

#include <string.h>

int csod_mdset_start(csod_mdset *s, const EVP_MD *const *md, int n, csod_error *err)
{
	if (n > CSOD_MDSET_MAX)
		return csod_fail(err, "too many digests");
	for (int i = 0; i < n; i++) {
		if (!s->ctx[i] && !(s->ctx[i] = EVP_MD_CTX_new()))
			return csod_fail(err, "out of memory");
		if (s->asked[i] != md[i]) {
			EVP_MD_free(s->fetched[i]);
			s->fetched[i] = EVP_MD_fetch(NULL, EVP_MD_get0_name(md[i]), NULL);
			s->asked[i] = s->fetched[i] ? md[i] : NULL;
			if (!s->fetched[i])
				return csod_fail_ssl(err, "digest %s is not available",
				                     EVP_MD_get0_name(md[i]));
		}
		if (!EVP_DigestInit_ex2(s->ctx[i], s->fetched[i], NULL))
			return csod_fail_ssl(err, "cannot start a digest");
	}
	s->n = n;
	return 0;
}

int csod_mdset_feed(void *p, const unsigned char *data, size_t len)
{
	csod_mdset *s = p;
	for (int i = 0; i < s->n; i++)
		if (!EVP_DigestUpdate(s->ctx[i], data, len))
			return -1;
	return 0;
}

int csod_mdset_finish(csod_mdset *s, unsigned char out[][EVP_MAX_MD_SIZE], csod_error *err)
{
	for (int i = 0; i < s->n; i++)
		if (!EVP_DigestFinal_ex(s->ctx[i], out[i], NULL))
			return csod_fail_ssl(err, "cannot finish a digest");
	return 0;
}

void csod_mdset_free(csod_mdset *s)
{
	for (int i = 0; i < CSOD_MDSET_MAX; i++) {
		EVP_MD_CTX_free(s->ctx[i]);
		EVP_MD_free(s->fetched[i]);
	}
	memset(s, 0, sizeof *s);
}
