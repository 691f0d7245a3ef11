/* Placeholder until the jar engine lands: recognises nothing, signs nothing. */
#include "../signer.h"

static int jar_detect(const unsigned char *head, size_t headlen, off_t size)
{
	(void)head;
	(void)headlen;
	(void)size;
	return 0;
}

static int jar_sign(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
		   csod_error *err)
{
	(void)in_fd;
	(void)out_fd;
	(void)id;
	(void)opt;
	return csod_fail(err, "the jar engine is not available yet");
}

static int jar_verify(int in_fd, int out_fd, X509_STORE *trust, csod_error *err)
{
	(void)in_fd;
	(void)out_fd;
	(void)trust;
	return csod_fail(err, "the jar engine is not available yet");
}

const csod_signer csod_signer_jar = {
	.name = "jar",
	.service = "java",
	.detect = jar_detect,
	.output_name = NULL,
	.sign = jar_sign,
	.verify = jar_verify,
};
