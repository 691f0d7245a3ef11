/* request.conf: a developer's per-drop options, in libconfig syntax.
 * Mistakes are the developer's to fix, so every error names the line. */
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/text.h"
#include "../signers/signer.h"
#include "intake.h"

static int fail_at(csod_error *err, const config_setting_t *s, const char *what)
{
	return csod_fail(err, "request.conf:%d: %s: %s", config_setting_source_line(s),
	                 config_setting_name(s), what);
}

static int take_string(const config_setting_t *s, char *out, size_t len, csod_error *err)
{
	const char *v = config_setting_get_string(s);
	if (!v)
		return fail_at(err, s, "expected a string in double quotes");
	if (strlen(v) >= len)
		return fail_at(err, s, "too long");
	/* Every value is shown to approvers: in JSON views (UTF-8 only) and in
	 * mail, where a newline or an escape would rewrite what they read. */
	const char *why = csod_text_problem(v);
	if (why) {
		char what[64];
		snprintf(what, sizeof what, "the value %s", why);
		return fail_at(err, s, what);
	}
	snprintf(out, len, "%s", v);
	return 0;
}

static int take_digests(const config_setting_t *s, char *out, size_t len, csod_error *err)
{
	out[0] = '\0';
	int n =
	    config_setting_is_array(s) || config_setting_is_list(s) ? config_setting_length(s) : 1;
	if (n < 1 || n > CSOD_MAX_DIGESTS)
		return fail_at(err, s, "expected 1 to 5 digest names");
	for (int i = 0; i < n; i++) {
		const char *name = config_setting_is_scalar(s)
		                       ? config_setting_get_string(s)
		                       : config_setting_get_string_elem(s, i);
		if (!name || !csod_digest_by_name(name))
			return fail_at(err, s,
			               "expected digest names among md5 sha1 sha256 "
			               "sha384 sha512");
		size_t used = strlen(out);
		snprintf(out + used, len - used, "%s%s", i ? "," : "", name);
	}
	return 0;
}

/* The text of request.conf: at most CSOD_REQUEST_CONF_MAX bytes, no NUL
 * (libconfig would stop there and parse less than the approver is shown),
 * and no @include, which would make the daemon read a file of the
 * developer's choosing with its own rights (libconfig 1.5 cannot turn
 * includes off, so the directive is refused before it is parsed). */
static char *read_text(int fd, csod_error *err)
{
	char *text = malloc(CSOD_REQUEST_CONF_MAX + 2);
	if (!text) {
		csod_fail(err, "out of memory");
		return NULL;
	}
	size_t got = 0;
	while (got <= CSOD_REQUEST_CONF_MAX) {
		ssize_t n = read(fd, text + got, CSOD_REQUEST_CONF_MAX + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			csod_fail_errno(err, "request.conf: cannot read");
			goto bad;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	text[got] = '\0';
	if (got > CSOD_REQUEST_CONF_MAX)
		csod_fail(err, "request.conf: larger than %d bytes", CSOD_REQUEST_CONF_MAX);
	else if (memchr(text, '\0', got))
		csod_fail(err, "request.conf: holds a NUL byte; it must be text");
	else if (strstr(text, "@include"))
		csod_fail(err, "request.conf: @include is not allowed; put the settings in the "
		               "file itself");
	else
		return text;
bad:
	free(text);
	return NULL;
}

int csod_request_conf_parse_fd(int fd, csod_request *r, csod_error *err)
{
	char *text = read_text(fd, err);
	if (!text)
		return -1;
	config_t cfg;
	config_init(&cfg);
	int rc = 0;
	if (!config_read_string(&cfg, text)) {
		rc = csod_fail(err, "request.conf:%d: %s", config_error_line(&cfg),
		               config_error_text(&cfg));
		goto out;
	}
	config_setting_t *root = config_root_setting(&cfg);
	for (int i = 0; rc == 0 && i < config_setting_length(root); i++) {
		config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		if (strcmp(name, "version") == 0) {
			rc = take_string(s, r->version, sizeof r->version, err);
		} else if (strcmp(name, "service") == 0) {
			rc = take_string(s, r->service, sizeof r->service, err);
			if (rc == 0 && strcmp(r->service, "auto") == 0)
				r->service[0] = '\0';
			else if (rc == 0 && strcmp(r->service, "authenticode") != 0 &&
			         strcmp(r->service, "java") != 0 &&
			         strcmp(r->service, "android") != 0 &&
			         strcmp(r->service, "hash") != 0)
				rc = fail_at(err, s,
				             "expected authenticode, java, android, hash "
				             "or auto");
		} else if (strcmp(name, "digests") == 0) {
			rc = take_digests(s, r->digests, sizeof r->digests, err);
			r->options.digests_given = 1;
		} else if (strcmp(name, "organization") == 0) {
			/* One of the developer's own: intake checks it. */
			rc = take_string(s, r->organization, sizeof r->organization, err);
			r->options.place_given |= 1;
		} else if (strcmp(name, "department") == 0) {
			rc = take_string(s, r->department, sizeof r->department, err);
			r->options.place_given |= 2;
		} else if (strcmp(name, "append") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_BOOL)
				rc = fail_at(err, s, "expected true or false");
			else
				r->options.append = config_setting_get_bool(s);
		} else if (strcmp(name, "msi_dse") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_BOOL)
				rc = fail_at(err, s, "expected true or false");
			else
				r->options.msi_dse = config_setting_get_bool(s);
		} else if (strcmp(name, "detached") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_BOOL)
				rc = fail_at(err, s, "expected true or false");
			else
				r->options.detached = config_setting_get_bool(s);
		} else if (strcmp(name, "deep") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_BOOL)
				rc = fail_at(err, s, "expected true or false");
			else
				r->options.deep = config_setting_get_bool(s);
		} else if (strcmp(name, "min_sdk") == 0) {
			int v = config_setting_get_int(s);
			if (config_setting_type(s) != CONFIG_TYPE_INT || v < 1 || v > 1000)
				rc = fail_at(err, s, "expected an Android API level (1-1000)");
			else
				r->options.min_sdk = v;
		} else if (strcmp(name, "timestamp_protocol") == 0) {
			char proto[16];
			rc = take_string(s, proto, sizeof proto, err);
			if (rc == 0 && strcmp(proto, "authenticode") == 0)
				r->options.timestamp_legacy = 1;
			else if (rc == 0 && strcmp(proto, "rfc3161") == 0)
				r->options.timestamp_legacy = 0;
			else if (rc == 0 || strstr(err->msg, "too long"))
				rc = fail_at(err, s, "expected \"rfc3161\" or \"authenticode\"");
		} else if (strcmp(name, "description") == 0) {
			rc = take_string(s, r->options.description, sizeof r->options.description,
			                 err);
		} else if (strcmp(name, "url") == 0) {
			rc = take_string(s, r->options.url, sizeof r->options.url, err);
		} else {
			rc = fail_at(err, s,
			             "unknown setting (known: version service digests "
			             "organization department append msi_dse detached deep min_sdk "
			             "timestamp_protocol description url)");
		}
	}
out:
	config_destroy(&cfg);
	free(text);
	return rc;
}

void csod_request_sign_options(const csod_request *r, csod_sign_options *o,
                               char names[CSOD_MAX_DIGESTS][16])
{
	char buf[sizeof r->digests];
	snprintf(buf, sizeof buf, "%s", r->digests);
	char *save = NULL;
	o->n_digests = 0;
	for (char *tok = strtok_r(buf, ",", &save); tok && o->n_digests < CSOD_MAX_DIGESTS;
	     tok = strtok_r(NULL, ",", &save)) {
		snprintf(names[o->n_digests], 16, "%s", tok);
		o->digests[o->n_digests] = names[o->n_digests];
		o->n_digests++;
	}
	o->digests_given = r->options.digests_given;
	o->append = r->options.append;
	o->msi_dse = r->options.msi_dse;
	o->min_sdk = r->options.min_sdk;
	o->deep = r->options.deep;
}
