#include "outputs.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/text.h"

int csod_outputs_of(const csod_signer *s, int fd, const char *name, char *out, size_t len,
                    csod_error *err)
{
	csod_part *parts = NULL;
	int n = 0;
	if (s->split && s->split(fd, name, &parts, &n, err) < 0)
		return -1;
	if (n == 0)
		return csod_output_name(s, name, out, len, err);
	size_t used = 0;
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		size_t k = strlen(parts[i].output);
		if (used + k + 2 > len)
			rc = csod_fail(err, "%s: lists more files than a request can name", name);
		else {
			if (used)
				out[used++] = '\n';
			memcpy(out + used, parts[i].output, k + 1);
			used += k;
		}
	}
	csod_parts_free(parts, n);
	return rc;
}

int csod_outputs_add_detached(const csod_signer *s, const char *name, char *out, size_t len,
                              csod_error *err)
{
	if (!s->extract_signature)
		return csod_fail(err,
		                 "%s: detached = true, but %s files have no detached signature "
		                 "(PE, CAB, MSI, catalogs, scripts and JARs do)",
		                 name, s->name);
	if (strchr(out, '\n'))
		return csod_fail(err, "%s: detached = true, but it is signed in several parts",
		                 name);
	size_t used = strlen(out);
	if (used + 1 + used + 4 + 1 > len || used + 4 > NAME_MAX)
		return csod_fail(err, "%s: with detached = true, %s.sig would be too long a name",
		                 name, out);
	out[used] = '\n';
	memcpy(out + used + 1, out, used);
	memcpy(out + 2 * used + 1, ".sig", 5);
	return 0;
}

const char *csod_outputs_next(const char **pos, char *name, size_t len)
{
	const char *p = *pos;
	if (!p || !*p)
		return NULL;
	const char *nl = strchr(p, '\n');
	size_t k = nl ? (size_t)(nl - p) : strlen(p);
	snprintf(name, len, "%.*s", (int)k, p);
	*pos = nl ? nl + 1 : NULL;
	return name;
}

int csod_output_reserved(const char *name)
{
	return strcmp(name, "STATUS") == 0 || strcmp(name, "request.json") == 0 ||
	       strcmp(name, "ERROR") == 0 || strcmp(name, "chain.pem") == 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int csod_outputs_check(const csod_file *files, int n, csod_error *err)
{
	size_t count = 0, cap = 16;
	char **all = malloc(cap * sizeof *all);
	char name[256], shown[CSOD_SHOWN_MAX];
	int rc = all ? 0 : csod_fail(err, "out of memory");
	for (int i = 0; i < n && rc == 0; i++) {
		const char *pos = files[i].output;
		while (rc == 0 && csod_outputs_next(&pos, name, sizeof name)) {
			if (csod_output_reserved(name)) {
				rc = csod_fail(err,
				               "%s: its signed output's name %s is reserved in "
				               "the outbox",
				               files[i].name, name);
				break;
			}
			if (count == cap) {
				char **grown = realloc(all, 2 * cap * sizeof *all);
				if (!grown) {
					rc = csod_fail(err, "out of memory");
					break;
				}
				all = grown;
				cap *= 2;
			}
			if (!(all[count] = strdup(name)))
				rc = csod_fail(err, "out of memory");
			else
				count++;
		}
	}
	if (rc == 0 && count > 1) {
		qsort(all, count, sizeof *all, by_name);
		for (size_t i = 1; i < count && rc == 0; i++)
			if (strcmp(all[i - 1], all[i]) == 0)
				rc = csod_fail(err,
				               "two files of the request would be signed into %s: "
				               "sign them in separate requests",
				               csod_escape_to(all[i], shown, sizeof shown));
	}
	for (size_t i = 0; i < count; i++)
		free(all[i]);
	free(all);
	return rc;
}
