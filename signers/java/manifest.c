/* Manifest parse and emit; see manifest.h. */
#include "manifest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MF_LINE_MAX 72

static char *dup_range(const unsigned char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

static int add_attr(csod_mf_section *s, char *name, char *value)
{
	if (s->n_attrs == s->cap_attrs) {
		size_t cap = s->cap_attrs ? s->cap_attrs * 2 : 8;
		csod_mf_attr *a = realloc(s->attrs, cap * sizeof *a);
		if (!a)
			return -1;
		s->attrs = a;
		s->cap_attrs = cap;
	}
	s->attrs[s->n_attrs].name = name;
	s->attrs[s->n_attrs].value = value;
	s->n_attrs++;
	return 0;
}

static void free_section(csod_mf_section *s)
{
	for (size_t i = 0; i < s->n_attrs; i++) {
		free(s->attrs[i].name);
		free(s->attrs[i].value);
	}
	free(s->attrs);
	free(s->name);
	free(s->raw);
	memset(s, 0, sizeof *s);
}

void csod_mf_free(csod_manifest *m)
{
	free_section(&m->main);
	for (size_t i = 0; i < m->n_sections; i++)
		free_section(&m->sections[i]);
	free(m->sections);
	free(m->index);
	memset(m, 0, sizeof *m);
}

static uint64_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int index_insert(csod_manifest *m, size_t idx)
{
	if ((m->n_sections + 1) * 2 > m->index_cap) {
		size_t cap = m->index_cap ? m->index_cap * 2 : 64;
		size_t *t = calloc(cap, sizeof *t);
		if (!t)
			return -1;
		free(m->index);
		m->index = t;
		m->index_cap = cap;
		for (size_t i = 0; i < m->n_sections; i++)
			if (i != idx && index_insert(m, i) < 0)
				return -1;
	}
	size_t h = (size_t)(hash_name(m->sections[idx].name) & (m->index_cap - 1));
	while (m->index[h])
		h = (h + 1) & (m->index_cap - 1);
	m->index[h] = idx + 1;
	return 0;
}

csod_mf_section *csod_mf_find(csod_manifest *m, const char *name)
{
	if (!m->index_cap)
		return NULL;
	size_t h = (size_t)(hash_name(name) & (m->index_cap - 1));
	while (m->index[h]) {
		csod_mf_section *s = &m->sections[m->index[h] - 1];
		if (strcmp(s->name, name) == 0)
			return s;
		h = (h + 1) & (m->index_cap - 1);
	}
	return NULL;
}

static csod_mf_section *new_section(csod_manifest *m, char *name)
{
	if (m->n_sections == m->cap_sections) {
		size_t cap = m->cap_sections ? m->cap_sections * 2 : 16;
		csod_mf_section *s = realloc(m->sections, cap * sizeof *s);
		if (!s)
			return NULL;
		m->sections = s;
		m->cap_sections = cap;
	}
	csod_mf_section *s = &m->sections[m->n_sections];
	memset(s, 0, sizeof *s);
	s->name = name;
	m->n_sections++;
	if (index_insert(m, m->n_sections - 1) < 0) {
		m->n_sections--;
		return NULL;
	}
	return s;
}

csod_mf_section *csod_mf_section_for(csod_manifest *m, const char *name)
{
	csod_mf_section *s = csod_mf_find(m, name);
	if (s) {
		s->removed = 0;
		return s;
	}
	char *n = strdup(name), *an = strdup("Name"), *av = strdup(name);
	if (!n || !an || !av || !(s = new_section(m, n)) || add_attr(s, an, av) < 0) {
		free(n);
		free(an);
		free(av);
		return NULL;
	}
	return s;
}

/* One logical line: a physical line plus its continuation lines. */
struct mf_cursor {
	const unsigned char *p, *end;
	size_t line_no;
};

static size_t phys_line(struct mf_cursor *c, size_t *content_len)
{
	const unsigned char *q = c->p;
	while (q < c->end && *q != '\r' && *q != '\n')
		q++;
	*content_len = (size_t)(q - c->p);
	if (q < c->end && *q == '\r') {
		q++;
		if (q < c->end && *q == '\n')
			q++;
	} else if (q < c->end) {
		q++;
	}
	return (size_t)(q - c->p);
}

static int parse_attr(struct mf_cursor *c, csod_buf *line, const char *what, csod_error *err)
{
	size_t content, total = phys_line(c, &content);
	line->len = 0;
	csod_buf_add(line, c->p, content);
	c->p += total;
	c->line_no++;
	while (c->p < c->end && *c->p == ' ') {
		total = phys_line(c, &content);
		csod_buf_add(line, c->p + 1, content - 1);
		c->p += total;
		c->line_no++;
	}
	if (line->oom)
		return csod_fail(err, "out of memory");
	if (memchr(line->p, 0, line->len))
		return csod_fail(err, "%s: line %zu contains a NUL byte", what, c->line_no);
	return 0;
}

static int parse_section(csod_mf_section *s, struct mf_cursor *c, csod_buf *line, int named,
                         const char *what, csod_error *err)
{
	const unsigned char *start = c->p;
	int ended_blank = 0;
	while (c->p < c->end) {
		size_t content, total = phys_line(c, &content);
		if (content == 0) { /* blank line: end of section */
			c->p += total;
			c->line_no++;
			ended_blank = 1;
			break;
		}
		if (*c->p == ' ')
			return csod_fail(err, "%s: line %zu continues nothing", what,
			                 c->line_no + 1);
		if (parse_attr(c, line, what, err) < 0)
			return -1;
		unsigned char *colon = line->len ? memchr(line->p, ':', line->len) : NULL;
		if (!colon || colon == line->p || (size_t)(colon - line->p) + 1 >= line->len ||
		    colon[1] != ' ')
			return csod_fail(err, "%s: line %zu is not 'Name: value'", what,
			                 c->line_no);
		size_t nlen = (size_t)(colon - line->p);
		for (size_t i = 0; i < nlen; i++) {
			unsigned char ch = line->p[i];
			if (!(ch == '-' || ch == '_' || (ch >= '0' && ch <= '9') ||
			      ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')))
				return csod_fail(err, "%s: line %zu has an invalid attribute name",
				                 what, c->line_no);
		}
		char *name = dup_range(line->p, nlen);
		char *value = dup_range(colon + 2, line->len - nlen - 2);
		if (!name || !value || add_attr(s, name, value) < 0) {
			free(name);
			free(value);
			return csod_fail(err, "out of memory");
		}
		if (named && s->n_attrs == 1 && strcasecmp(name, "Name") != 0)
			return csod_fail(err,
			                 "%s: section at line %zu does not start with Name:", what,
			                 c->line_no);
	}
	if (!ended_blank)
		return 0; /* kept raw only when a blank line ends it, so that the
		           * next section cannot run into it when emitted */
	if (!(s->raw = (unsigned char *)dup_range(start, (size_t)(c->p - start))))
		return csod_fail(err, "out of memory");
	s->raw_len = (size_t)(c->p - start);
	return 0;
}

int csod_mf_parse(csod_manifest *m, const unsigned char *data, size_t len, const char *what,
                  csod_error *err)
{
	memset(m, 0, sizeof *m);
	if (len > CSOD_MF_MAX_SIZE)
		return csod_fail(err, "%s is too large", what);
	struct mf_cursor c = {data, data + len, 0};
	csod_buf line = {0};
	int rc = parse_section(&m->main, &c, &line, 0, what, err);
	while (rc == 0 && c.p < c.end) {
		size_t content;
		size_t total = phys_line(&c, &content);
		if (content == 0) { /* extra blank lines between sections */
			c.p += total;
			c.line_no++;
			continue;
		}
		csod_mf_section tmp = {0};
		rc = parse_section(&tmp, &c, &line, 1, what, err);
		if (rc == 0 && tmp.n_attrs == 0)
			rc = csod_fail(err, "%s: empty section", what);
		if (rc == 0 && csod_mf_find(m, tmp.attrs[0].value))
			rc = csod_fail(err, "%s: two sections for '%.200s'", what,
			               tmp.attrs[0].value);
		csod_mf_section *s = NULL;
		char *name = rc == 0 ? strdup(tmp.attrs[0].value) : NULL;
		if (rc == 0 && (!name || !(s = new_section(m, name)))) {
			free(name);
			rc = csod_fail(err, "out of memory");
		}
		if (rc == 0) {
			name = s->name;
			*s = tmp;
			s->name = name;
		} else {
			free_section(&tmp);
		}
	}
	csod_buf_free(&line);
	if (rc < 0)
		csod_mf_free(m);
	return rc;
}

int csod_mf_init(csod_manifest *m, const char *created_by)
{
	memset(m, 0, sizeof *m);
	if (csod_mf_set(&m->main, "Manifest-Version", "1.0") < 0 ||
	    csod_mf_set(&m->main, "Created-By", created_by) < 0) {
		csod_mf_free(m);
		return -1;
	}
	return 0;
}

const char *csod_mf_get(const csod_mf_section *s, const char *attr)
{
	for (size_t i = 0; i < s->n_attrs; i++)
		if (strcasecmp(s->attrs[i].name, attr) == 0)
			return s->attrs[i].value;
	return NULL;
}

int csod_mf_set(csod_mf_section *s, const char *attr, const char *value)
{
	for (size_t i = 0; i < s->n_attrs; i++) {
		if (strcasecmp(s->attrs[i].name, attr) != 0)
			continue;
		if (strcmp(s->attrs[i].value, value) == 0)
			return 0;
		char *v = strdup(value);
		if (!v)
			return -1;
		free(s->attrs[i].value);
		s->attrs[i].value = v;
		free(s->raw);
		s->raw = NULL;
		return 0;
	}
	char *n = strdup(attr), *v = strdup(value);
	if (!n || !v || add_attr(s, n, v) < 0) {
		free(n);
		free(v);
		return -1;
	}
	free(s->raw);
	s->raw = NULL;
	return 0;
}

size_t csod_mf_remove_suffix(csod_mf_section *s, const char *suffix)
{
	size_t removed = 0, sl = strlen(suffix), j = 0;
	for (size_t i = 0; i < s->n_attrs; i++) {
		size_t nl = strlen(s->attrs[i].name);
		if (nl > sl && strcasecmp(s->attrs[i].name + nl - sl, suffix) == 0) {
			free(s->attrs[i].name);
			free(s->attrs[i].value);
			removed++;
			continue;
		}
		s->attrs[j++] = s->attrs[i];
	}
	s->n_attrs = j;
	if (removed) {
		free(s->raw);
		s->raw = NULL;
	}
	return removed;
}

void csod_mf_emit_line(csod_buf *out, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	size_t total = nl + 2 + vl, pos = 0, room = MF_LINE_MAX;
	/* The whole line as one byte string, then cut at 72 bytes per line,
	 * never inside a UTF-8 sequence. */
	while (pos < total) {
		size_t n = total - pos < room ? total - pos : room;
		size_t cut = pos + n;
		while (cut < total && cut > pos + 1) {
			size_t vi = cut >= nl + 2 ? cut - nl - 2 : SIZE_MAX;
			if (vi == SIZE_MAX || ((unsigned char)value[vi] & 0xc0) != 0x80)
				break;
			cut--;
		}
		if (pos)
			csod_buf_add(out, " ", 1);
		for (size_t i = pos; i < cut; i++) {
			char ch = i < nl ? name[i] : i < nl + 2 ? ": "[i - nl] : value[i - nl - 2];
			csod_buf_add(out, &ch, 1);
		}
		csod_buf_add(out, "\r\n", 2);
		pos = cut;
		room = MF_LINE_MAX - 1;
	}
}

void csod_mf_emit_section(const csod_mf_section *s, csod_buf *out)
{
	if (s->raw) {
		csod_buf_add(out, s->raw, s->raw_len);
		return;
	}
	for (size_t i = 0; i < s->n_attrs; i++)
		csod_mf_emit_line(out, s->attrs[i].name, s->attrs[i].value);
	csod_buf_add(out, "\r\n", 2);
}

void csod_mf_emit(const csod_manifest *m, csod_buf *out)
{
	csod_mf_emit_section(&m->main, out);
	for (size_t i = 0; i < m->n_sections; i++)
		if (!m->sections[i].removed)
			csod_mf_emit_section(&m->sections[i], out);
}
