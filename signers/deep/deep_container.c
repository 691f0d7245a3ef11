/* Deep signing of containers with a signature of their own; see
 * deep_container.h. */
#include "deep_container.h"

#include <string.h>
#include <unistd.h>

#include "../common/fileio.h"
#include "deep_cab.h"
#include "deep_msi.h"
#include "deep_entry.h"

extern const csod_signer csod_signer_zip;

/* The inside of one kind of container: rebuild writes in_fd to out_fd with
 * its signable inner files signed; verify checks such a copy against
 * in_fd, inner file by inner file. */
typedef struct container {
	const char *engine;
	int (*rebuild)(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
	               csod_error *err);
	int (*verify)(int in_fd, int copy_fd, X509_STORE *trust, csod_error *err);
	/* At intake: the rules the rebuild would refuse the inside by. */
	int (*check)(int fd, csod_error *err);
} container;

/* A JAR is a ZIP archive: its inner files are signed as a ZIP drop's are
 * (entry order, names, times and compression kept; its own META-INF
 * signature files copied, to be replaced by the JAR signing after). */
static int zip_rebuild(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
                       csod_error *err)
{
	return csod_signer_zip.sign(in_fd, out_fd, id, opt, err);
}

static int zip_rules(int fd, csod_error *err)
{
	csod_zip z;
	if (csod_deep_open(&z, fd, 0, err) < 0)
		return -1;
	csod_zip_close(&z);
	return 0;
}

static const container containers[] = {
    {"jar", zip_rebuild, NULL, zip_rules},
    {"aab", zip_rebuild, NULL, zip_rules},
    {"cab", csod_deep_cab_rebuild, csod_deep_cab_verify, csod_deep_cab_rules},
    {"msi", csod_deep_msi_rebuild, csod_deep_msi_verify, csod_deep_msi_check},
};

static const container *container_of(const csod_signer *s)
{
	for (size_t i = 0; i < sizeof containers / sizeof containers[0]; i++)
		if (strcmp(containers[i].engine, s->name) == 0)
			return &containers[i];
	return NULL;
}

/* Why s cannot be signed deep. */
static int refuse(const csod_signer *s, csod_error *err)
{
	return csod_fail(err,
	                 "deep signing asked for, but a %s file has no inner files to sign "
	                 "(deep takes ZIP, JAR, WAR, EAR, AAB, CAB and MSI files)",
	                 s->name);
}

/* The container's own signatures cover the inner files as they were:
 * kept beside ours, they would no longer verify. */
static int refuse_append(csod_error *err)
{
	return csod_fail(err, "deep signing changes the files inside, so the container's "
	                      "existing signatures cannot be kept (append/--nest refused)");
}

int csod_deep_container_check(const csod_signer *s, int fd, const char *name,
                              const csod_sign_options *opt, csod_error *err)
{
	csod_error why;
	const container *c = container_of(s);
	if (c && opt->append) {
		refuse_append(&why);
		return csod_fail(err, "%s: %s", name, why.msg);
	}
	if (strcmp(s->name, "zip") == 0 || (c && c->check(fd, &why) == 0))
		return 0;
	if (!c)
		refuse(s, &why);
	return csod_fail(err, "%s: %s", name, why.msg);
}

int csod_deep_sign_checked(const csod_signer *s, int in_fd, int out_fd, const csod_identity *id,
                           const csod_sign_options *opt, X509_STORE *trust, csod_error *err)
{
	csod_sign_options plain = *opt;
	plain.deep = 0;
	if (strcmp(s->name, "zip") == 0) /* a drop is always deep; it has no signature */
		return csod_sign_checked(s, in_fd, out_fd, id, &plain, trust, err);
	const container *c = container_of(s);
	if (!c || opt->append) {
		if (c)
			refuse_append(err);
		else
			refuse(s, err);
		return CSOD_SIGN_FAILED;
	}
	csod_error why;
	int copy = csod_anon_file(opt->tmp_dir, err);
	if (copy < 0)
		return CSOD_SIGN_FAILED;
	int rc = 0;
	if (c->rebuild(in_fd, copy, id, &plain, err) < 0) {
		rc = CSOD_SIGN_FAILED;
	} else if (trust &&
	           (c->verify ? c->verify : csod_signer_zip.verify)(in_fd, copy, trust, &why) < 0) {
		csod_fail(err, "the inner files' self-check: %s", why.msg);
		rc = CSOD_CHECK_FAILED;
	} else {
		/* The container's own signature, over the rebuilt copy. */
		rc = csod_sign_checked(s, copy, out_fd, id, &plain, trust, err);
	}
	close(copy);
	return rc;
}
