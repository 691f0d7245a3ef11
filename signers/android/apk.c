/* Placeholder until the apk engine lands: recognises nothing, signs nothing. */
#include "../signer.h"

static int apk_detect(const unsigned char *head, size_t headlen, off_t size)
{
	(void)head;
	(void)headlen;
	(void)size;
	return 0;
}

static int apk_sign(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
		   csod_error *err)
{
	(void)in_fd;
	(void)out_fd;
	(void)id;
	(void)opt;
	return csod_fail(err, "the apk engine is not available yet");
}

static int apk_verify(int in_fd, int out_fd, X509_STORE *trust, csod_error *err)
{
	(void)in_fd;
	(void)out_fd;
	(void)trust;
	return csod_fail(err, "the apk engine is not available yet");
}

const csod_signer csod_signer_apk = {
	.name = "apk",
	.service = "android",
	.detect = apk_detect,
	.output_name = NULL,
	.sign = apk_sign,
	.verify = apk_verify,
};
