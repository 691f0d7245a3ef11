#include "config_read.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int cfg_fail(cfg_reader *r, const config_setting_t *s, const char *key, const char *fmt, ...)
{
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	int line = s ? (int)config_setting_source_line(s) : 0;
	return csod_fail(r->err, "%s:%d: %s: %s", r->file, line, key, what);
}

static void key_name(char *out, size_t len, const char *prefix, const char *name)
{
	if (prefix && *prefix)
		snprintf(out, len, "%s.%s", prefix, name);
	else
		snprintf(out, len, "%s", name);
}

int cfg_only_keys(cfg_reader *r, const config_setting_t *group, const char *prefix,
                  const char *const *allowed)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		int known = 0;
		for (int k = 0; allowed[k] && !known; k++)
			known = strcmp(allowed[k], name) == 0;
		if (!known) {
			char key[256], list[512] = "";
			key_name(key, sizeof key, prefix, name);
			for (int k = 0; allowed[k]; k++) {
				size_t n = strlen(list);
				snprintf(list + n, sizeof list - n, "%s%s", k ? " " : "",
				         allowed[k]);
			}
			return cfg_fail(r, s, key, "unknown setting (expected one of: %s)", list);
		}
	}
	return 0;
}

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "a number";
	case CONFIG_TYPE_FLOAT:
		return "a decimal number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "true/false";
	case CONFIG_TYPE_GROUP:
		return "a group { }";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ]";
	case CONFIG_TYPE_LIST:
		return "a list ( )";
	}
	return "something else";
}

int cfg_string(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
               char **out)
{
	const config_setting_t *s = config_setting_get_member(group, name);
	if (!s)
		return 0;
	char key[256];
	key_name(key, sizeof key, prefix, name);
	const char *v = config_setting_get_string(s);
	if (!v)
		return cfg_fail(r, s, key, "expected a string in double quotes, got %s",
		                type_name(s));
	free(*out);
	*out = strdup(v);
	return 0;
}

int cfg_int(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
            int64_t min, int64_t max, int64_t *out)
{
	const config_setting_t *s = config_setting_get_member(group, name);
	if (!s)
		return 0;
	char key[256];
	key_name(key, sizeof key, prefix, name);
	int type = config_setting_type(s);
	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
		return cfg_fail(r, s, key,
		                "expected a whole number from %lld to %lld, got %s%s%s%s",
		                (long long)min, (long long)max, type_name(s),
		                type == CONFIG_TYPE_STRING ? " \"" : "",
		                type == CONFIG_TYPE_STRING ? config_setting_get_string(s) : "",
		                type == CONFIG_TYPE_STRING ? "\"" : "");
	long long v = config_setting_get_int64(s);
	if (v < min || v > max)
		return cfg_fail(r, s, key, "expected a whole number from %lld to %lld, got %lld",
		                (long long)min, (long long)max, v);
	*out = v;
	return 0;
}

int cfg_bool(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
             int *out)
{
	const config_setting_t *s = config_setting_get_member(group, name);
	if (!s)
		return 0;
	char key[256];
	key_name(key, sizeof key, prefix, name);
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return cfg_fail(r, s, key, "expected true or false, got %s", type_name(s));
	*out = config_setting_get_bool(s);
	return 0;
}

/* Numbers or strings with a unit, parsed by parse. */
static int cfg_scaled(cfg_reader *r, const config_setting_t *group, const char *prefix,
                      const char *name, int64_t (*parse)(const char *), const char *expected,
                      int64_t *out)
{
	const config_setting_t *s = config_setting_get_member(group, name);
	if (!s)
		return 0;
	char key[256];
	key_name(key, sizeof key, prefix, name);
	int type = config_setting_type(s);
	if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
		long long v = config_setting_get_int64(s);
		if (v < 0)
			return cfg_fail(r, s, key, "expected %s, got %lld", expected, v);
		*out = v;
		return 0;
	}
	const char *text = config_setting_get_string(s);
	int64_t v = text ? parse(text) : -1;
	if (v < 0)
		return cfg_fail(r, s, key, "expected %s, got %s%s%s", expected,
		                text ? "\"" : type_name(s), text ? text : "", text ? "\"" : "");
	*out = v;
	return 0;
}

int cfg_duration(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
                 int64_t *out)
{
	return cfg_scaled(r, group, prefix, name, csod_parse_duration,
	                  "a duration such as \"3d\", \"72h\", \"30m\", \"10s\" or seconds", out);
}

int cfg_size(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
             int64_t *out)
{
	return cfg_scaled(r, group, prefix, name, csod_parse_size,
	                  "a size such as \"512k\", \"100M\", \"4G\" or bytes", out);
}

void cfg_free_strings(char **list)
{
	for (int i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

int cfg_strings(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
                char ***out)
{
	const config_setting_t *s = config_setting_get_member(group, name);
	if (!s)
		return 0;
	char key[256];
	key_name(key, sizeof key, prefix, name);
	int scalar = config_setting_type(s) == CONFIG_TYPE_STRING;
	if (!scalar && !config_setting_is_array(s) && !config_setting_is_list(s))
		return cfg_fail(r, s, key, "expected [ \"...\", ... ], got %s", type_name(s));
	int n = scalar ? 1 : config_setting_length(s);
	char **list = calloc((size_t)n + 1, sizeof *list);
	if (!list)
		return csod_fail(r->err, "out of memory");
	for (int i = 0; i < n; i++) {
		const char *v =
		    scalar ? config_setting_get_string(s) : config_setting_get_string_elem(s, i);
		if (!v) {
			cfg_free_strings(list);
			return cfg_fail(r, s, key, "expected a list of strings in double quotes");
		}
		list[i] = strdup(v);
	}
	cfg_free_strings(*out);
	*out = list;
	return 0;
}

int cfg_choice(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
               const char *const *choices, char **out)
{
	char *value = NULL;
	if (cfg_string(r, group, prefix, name, &value) < 0)
		return -1;
	if (!value)
		return 0;
	for (int i = 0; choices[i]; i++) {
		if (strcmp(choices[i], value) == 0) {
			free(*out);
			*out = value;
			return 0;
		}
	}
	char key[256], list[256] = "";
	key_name(key, sizeof key, prefix, name);
	for (int i = 0; choices[i]; i++) {
		size_t n = strlen(list);
		snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", choices[i]);
	}
	cfg_fail(r, config_setting_get_member(group, name), key, "expected one of %s, got \"%s\"",
	         list, value);
	free(value);
	return -1;
}
