/* Placeholder until the msi engine lands: recognises nothing, signs nothing. */
#include "../signer.h"

static int msi_detect(const unsigned char *head, size_t headlen, off_t size)
{
	(void)head;
	(void)headlen;
	(void)size;
	return 0;
}

static int msi_sign(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
                    csod_error *err)
{
	(void)in_fd;
	(void)out_fd;
	(void)id;
	(void)opt;
	return csod_fail(err, "the msi engine is not available yet");
}

static int msi_verify(int in_fd, int out_fd, X509_STORE *trust, csod_error *err)
{
	(void)in_fd;
	(void)out_fd;
	(void)trust;
	return csod_fail(err, "the msi engine is not available yet");
}

const csod_signer csod_signer_msi = {
    .name = "msi",
    .service = "authenticode",
    .detect = msi_detect,
    .output_name = NULL,
    .sign = msi_sign,
    .verify = msi_verify,
};
