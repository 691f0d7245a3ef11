/* Typed reads from a libconfig tree that fail with "file:line: key:
 * expected ..., got ...". Internal to the config loader. */
#ifndef CSOD_CONFIG_READ_H
#define CSOD_CONFIG_READ_H

#include <libconfig.h>
#include <stdint.h>

#include "../lib/error.h"

#define TRY(expr)                                                                                  \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			return -1;                                                                 \
	} while (0)

typedef struct cfg_reader {
	const char *file;
	csod_error *err;
} cfg_reader;

/* Fails at setting s (its line) under the dotted key name. */
int cfg_fail(cfg_reader *r, const config_setting_t *s, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Rejects members of group whose names are not in allowed (NULL-ended). */
int cfg_only_keys(cfg_reader *r, const config_setting_t *group, const char *prefix,
                  const char *const *allowed);

/* Each reader leaves *out alone when the key is absent (the caller sets the
 * default first) and fails on a value of the wrong type or range. */
int cfg_string(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
               char **out);
int cfg_int(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
            int64_t min, int64_t max, int64_t *out);
int cfg_bool(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
             int *out);
int cfg_duration(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
                 int64_t *out);
int cfg_size(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
             int64_t *out);
/* A list or array of strings, or a single string; NULL-terminated copy. */
int cfg_strings(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
                char ***out);
/* One of the choices (NULL-ended). */
int cfg_choice(cfg_reader *r, const config_setting_t *group, const char *prefix, const char *name,
               const char *const *choices, char **out);

void cfg_free_strings(char **list);

/* The three lists of csod.conf, checked against each other (config_lists.c). */
struct csod_config;
int cfg_read_organizations(cfg_reader *r, const config_setting_t *root, struct csod_config *c);
int cfg_read_developers(cfg_reader *r, const config_setting_t *root, struct csod_config *c);
int cfg_read_admins(cfg_reader *r, const config_setting_t *root, struct csod_config *c);
void cfg_free_lists(struct csod_config *c);

/* The checks { } block (config_checks.c). */
int cfg_read_checks(cfg_reader *r, const config_setting_t *root, struct csod_config *c);
void cfg_free_checks(struct csod_config *c);
/* node, node_lease, database { } (config_cluster.c). */
int cfg_read_cluster(cfg_reader *r, const config_setting_t *root, struct csod_config *c);
void cfg_free_cluster(struct csod_config *c);

/* The database { } block (config_database.c). */
int cfg_read_database(cfg_reader *r, const config_setting_t *root, struct csod_config *c);
void cfg_free_database(struct csod_config *c);

#endif
