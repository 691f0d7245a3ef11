/* Inner files of ZIP drops and deep-signed containers in details.json;
 * see details_inner.h. */
#include "details_inner.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/text.h"
#include "../signers/deep/deep_list.h"

typedef struct inner_list {
	json_t *array;
	int failed;
} inner_list;

/* A name as JSON: escaped when it is not UTF-8 (jansson refuses it). */
static json_t *name_value(const char *name)
{
	if (csod_utf8_valid(name, strlen(name)))
		return json_string(name);
	char *shown = csod_escape(name);
	json_t *v = shown ? json_string(shown) : NULL;
	free(shown);
	return v;
}

/* Where an inner file goes: the list, or for a file of a ZIP inside the
 * drop, that ZIP's own "inner" list (it was the last one added). */
static json_t *list_for(inner_list *l, const csod_deep_inner *in)
{
	if (!in->within)
		return l->array;
	json_t *zip = json_array_get(l->array, json_array_size(l->array) - 1);
	json_t *list = json_object_get(zip, "inner");
	if (!list && zip && json_object_set_new(zip, "inner", list = json_array()) < 0)
		return NULL;
	return list;
}

static void add_one(void *ctx, const csod_deep_inner *in)
{
	inner_list *l = ctx;
	json_t *o = json_object(), *list = list_for(l, in);
	if (!o || !list || json_array_append_new(list, o) < 0 ||
	    json_object_set_new(o, "name", name_value(in->name)) < 0 ||
	    json_object_set_new(o, "size", json_integer((json_int_t)in->size)) < 0 ||
	    json_object_set_new(o, "md5", json_string(in->md5)) < 0 ||
	    json_object_set_new(o, "sha1", json_string(in->sha1)) < 0 ||
	    json_object_set_new(o, "sha256", json_string(in->sha256)) < 0 ||
	    json_object_set_new(o, "signed_by",
	                        in->engine ? json_string(in->engine) : json_null()) < 0 ||
	    (in->file_name && json_object_set_new(o, "file_name", name_value(in->file_name)) < 0))
		l->failed = 1;
}

/* The inner files of the store copy named name, set on file. */
static int list_file(json_t *file, const char *name, const csod_details_inner *di,
                     const char *tmp_dir)
{
	char path[4096 + 256 + 2];
	snprintf(path, sizeof path, "%s/%s", di->store_dir, name);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	inner_list l = {json_array(), 0};
	csod_error why;
	int rc = fd < 0 ? csod_fail_errno(&why, "cannot open the store copy")
	                : csod_deep_list(fd, di->max_size, tmp_dir, add_one, &l, &why);
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		json_decref(l.array);
		return json_object_set_new(file, "inner_error", json_string(why.msg));
	}
	if (!l.array || l.failed) {
		json_decref(l.array);
		return -1;
	}
	return json_object_set_new(file, "inner", l.array);
}

char *csod_details_add_inner(const char *details_json, const csod_details_inner *di,
                             const char *tmp_dir, csod_error *err)
{
	json_error_t jerr;
	json_t *j = json_loads(details_json, 0, &jerr);
	json_t *files = j ? json_object_get(j, "files") : NULL;
	if (!json_is_array(files)) {
		json_decref(j);
		return csod_fail(err, "details.json: cannot read it back (%s)", jerr.text), NULL;
	}
	int rc = 0;
	size_t i;
	json_t *file;
	json_array_foreach(files, i, file)
	{
		const char *name = json_string_value(json_object_get(file, "name"));
		for (int k = 0; rc == 0 && name && k < di->n_names; k++)
			if (strcmp(di->names[k], name) == 0)
				rc = list_file(file, name, di, tmp_dir);
	}
	char *text = rc == 0 ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (!text)
		csod_fail(err, "details.json: out of memory listing the files inside ZIP drops");
	return text;
}

int csod_details_inner_lists(const char *engine, int deep)
{
	return strcmp(engine, "zip") == 0 ||
	       (deep && (strcmp(engine, "jar") == 0 || strcmp(engine, "aab") == 0 ||
	                 strcmp(engine, "cab") == 0 || strcmp(engine, "msi") == 0));
}

void csod_details_inner_clear(csod_details_inner *di)
{
	free(di->names);
	di->names = NULL;
	di->n_names = 0;
	di->store_dir[0] = '\0';
}
