/* Placeholder until the cab engine lands: recognises nothing, signs nothing. */
#include "../signer.h"

static int cab_detect(const unsigned char *head, size_t headlen, off_t size)
{
	(void)head;
	(void)headlen;
	(void)size;
	return 0;
}

static int cab_sign(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
                    csod_error *err)
{
	(void)in_fd;
	(void)out_fd;
	(void)id;
	(void)opt;
	return csod_fail(err, "the cab engine is not available yet");
}

static int cab_verify(int in_fd, int out_fd, X509_STORE *trust, csod_error *err)
{
	(void)in_fd;
	(void)out_fd;
	(void)trust;
	return csod_fail(err, "the cab engine is not available yet");
}

const csod_signer csod_signer_cab = {
    .name = "cab",
    .service = "authenticode",
    .detect = cab_detect,
    .output_name = NULL,
    .sign = cab_sign,
    .verify = cab_verify,
};
