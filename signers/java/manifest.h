/* JAR manifest (META-INF/MANIFEST.MF) and signature file (.SF) model:
 * parse, edit, emit with the JAR specification's 72-byte lines.
 *
 * Each parsed section keeps its original bytes; a section that is not
 * edited is emitted byte for byte as it was, so that the per-section digests
 * other signers put in their .SF files stay valid when we sign beside them. */
#ifndef CSOD_MANIFEST_H
#define CSOD_MANIFEST_H

#include <stddef.h>

#include "../../lib/error.h"
#include "bytebuf.h"

#define CSOD_MF_MAX_SIZE (32u * 1024u * 1024u)

typedef struct csod_mf_attr {
	char *name;
	char *value;
} csod_mf_attr;

typedef struct csod_mf_section {
	char *name; /* value of "Name:"; NULL for the main section */
	csod_mf_attr *attrs;
	size_t n_attrs, cap_attrs;
	unsigned char *raw; /* original bytes incl. the blank line; NULL once edited */
	size_t raw_len;
	int removed;
} csod_mf_section;

typedef struct csod_manifest {
	csod_mf_section main;
	csod_mf_section *sections;
	size_t n_sections, cap_sections;
	size_t *index; /* open-addressing hash of section names -> index + 1 */
	size_t index_cap;
} csod_manifest;

/* Parses a manifest or .SF. what names it in error messages. */
int csod_mf_parse(csod_manifest *m, const unsigned char *data, size_t len, const char *what,
                  csod_error *err);
/* A fresh manifest with just the main attributes a JAR needs. */
int csod_mf_init(csod_manifest *m, const char *created_by);
void csod_mf_free(csod_manifest *m);

const char *csod_mf_get(const csod_mf_section *s, const char *attr);
/* Sets attr (replacing an existing one, case-insensitively); a changed
 * value marks the section edited. Returns -1 on allocation failure. */
int csod_mf_set(csod_mf_section *s, const char *attr, const char *value);
/* Removes attributes whose name ends with suffix (case-insensitive).
 * Returns how many were removed. */
size_t csod_mf_remove_suffix(csod_mf_section *s, const char *suffix);

csod_mf_section *csod_mf_find(csod_manifest *m, const char *name);
/* The section for name, created (empty but for Name) when missing. */
csod_mf_section *csod_mf_section_for(csod_manifest *m, const char *name);

/* Appends one section as it will appear in the file (original bytes or the
 * attributes wrapped at 72 bytes, then a blank line). */
void csod_mf_emit_section(const csod_mf_section *s, csod_buf *out);
/* Emits the main section then every section not removed. */
void csod_mf_emit(const csod_manifest *m, csod_buf *out);

/* Appends "name: value" wrapped at 72 bytes per line, CRLF-terminated. */
void csod_mf_emit_line(csod_buf *out, const char *name, const char *value);

#endif
