/* The jar engine (JAR, WAR, EAR): JAR signing with our signer added beside
 * existing ones or replacing them. Two passes over the input: one to digest
 * every entry, one to copy the entries' compressed bytes into the output. */
#include <string.h>

#include "../signer.h"
#include "jar.h"
#include "repack.h"
#include "v1.h"
#include "zip_read.h"
#include "zip_write.h"

static int jar_detect(const unsigned char *head, size_t headlen, off_t size)
{
	(void)size;
	/* An archive with no entries is its end record alone; jarsigner signs it. */
	return headlen >= 4 &&
	       (memcmp(head, "PK\003\004", 4) == 0 || memcmp(head, "PK\005\006", 4) == 0);
}

int csod_jar_write_archive(const csod_zip *z, const csod_v1_result *v1, const unsigned char *drop,
                           const uint16_t *dos_time_date, int out_fd, csod_error *err)
{
	csod_zip_out o;
	csod_zip_out_init(&o, out_fd);
	if (dos_time_date) {
		o.dos_time = dos_time_date[0];
		o.dos_date = dos_time_date[1];
	}
	csod_buf eocd = {0};
	int rc = csod_repack_entries(z, v1, drop, 0, &o, err);
	uint64_t cd_offset = o.pos;
	if (rc == 0)
		rc = csod_zip_out_write(&o, o.cd.p, o.cd.len, err);
	if (rc == 0) {
		csod_zip_out_eocd(&o, cd_offset, z->comment, z->comment_len, &eocd);
		rc = eocd.oom ? csod_fail(err, "out of memory")
		              : csod_zip_out_write(&o, eocd.p, eocd.len, err);
	}
	csod_buf_free(&eocd);
	csod_zip_out_free(&o);
	return rc;
}

int csod_jar_sign(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
                  csod_error *err)
{
	csod_v1_config cfg;
	if (csod_v1_config_from(&cfg, opt, err) < 0)
		return -1;
	csod_zip z;
	if (csod_zip_open(&z, in_fd, "archive", err) < 0)
		return -1;
	int rc = 0;
	if (opt->max_size > 0 && z.size > (uint64_t)opt->max_size)
		rc = csod_fail(err, "archive is larger than the limit of %lld bytes",
		               (long long)opt->max_size);
	if (rc == 0 && z.has_apk_sig_block)
		rc = csod_fail(err, "archive carries an APK signing block: sign it as an APK");
	csod_v1_result v1;
	memset(&v1, 0, sizeof v1);
	if (rc == 0)
		rc = csod_v1_build(&z, id, &cfg, &v1, err);
	if (rc == 0)
		rc = csod_jar_write_archive(&z, &v1, v1.drop, NULL, out_fd, err);
	csod_v1_result_free(&v1);
	csod_zip_close(&z);
	return rc;
}

int csod_jar_verify(int in_fd, int out_fd, X509_STORE *trust, csod_error *err)
{
	csod_zip out;
	if (csod_repack_open_signed(in_fd, out_fd, "archive", &out, err) < 0)
		return -1;
	int rc = csod_v1_verify(&out, trust, 0, err);
	csod_zip_close(&out);
	return rc;
}

const csod_signer csod_signer_jar = {
    .name = "jar",
    .service = "java",
    .detect = jar_detect,
    .output_name = NULL,
    .sign = csod_jar_sign,
    .verify = csod_jar_verify,
    .extract_signature = csod_jar_extract,
    .attach_signature = csod_jar_attach,
};
