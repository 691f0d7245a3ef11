/* The directory of a compound file as a tree: checking its red-black
 * links (every entry reached once from the root, no cycle, no shared
 * subtree, bounded depth) and indexing each storage's children. */
#include <stdlib.h>
#include <string.h>

#include "cfb.h"

#define MAX_STORAGE_DEPTH 64

static int check_name(const csod_cfb_entry *e, uint32_t id, csod_error *err)
{
	if (e->name_len < 2 || e->name_len > 64 || e->name_len % 2)
		return csod_fail(err, "directory entry %u: a name length of %u", id, e->name_len);
	if (e->raw[e->name_len - 2] != 0 || e->raw[e->name_len - 1] != 0)
		return csod_fail(err, "directory entry %u: its name is not NUL-terminated", id);
	return 0;
}

/* Walks the red-black trees from the root: every link inside the
 * directory, every entry reached once (a second visit is a cycle or a
 * shared subtree), each entry a storage or a stream. */
static int walk_tree(csod_cfb *c, csod_error *err)
{
	csod_cfb_entry *root = &c->dir[0];
	if (root->type != CFB_TYPE_ROOT)
		return csod_fail(err, "directory entry 0 is not the root storage (type %u)",
		                 root->type);
	if (check_name(root, 0, err) < 0)
		return -1;
	root->reachable = 1;
	/* Each entry is pushed by its one parent link: at most n_dir + 1. */
	struct item {
		uint32_t id, parent, depth;
	} *stack = malloc(((size_t)c->n_dir + 1) * sizeof *stack);
	if (!stack)
		return csod_fail(err, "out of memory");
	size_t top = 0;
	int rc = -1;
	stack[top++] = (struct item){root->child, 0, 1};
	while (top > 0) {
		struct item it = stack[--top];
		if (it.id == CFB_NOSTREAM)
			continue;
		if (it.id >= c->n_dir) {
			csod_fail(err, "a directory link to entry %u, past the %u entries", it.id,
			          c->n_dir);
			goto out;
		}
		csod_cfb_entry *e = &c->dir[it.id];
		if (e->reachable) {
			csod_fail(err, "directory entry %u is linked twice (a cycle in the tree)",
			          it.id);
			goto out;
		}
		if (e->type != CFB_TYPE_STORAGE && e->type != CFB_TYPE_STREAM) {
			csod_fail(err, "directory entry %u has type %u (not a storage or stream)",
			          it.id, e->type);
			goto out;
		}
		if (check_name(e, it.id, err) < 0)
			goto out;
		if (e->type == CFB_TYPE_STORAGE && it.depth > MAX_STORAGE_DEPTH) {
			csod_fail(err, "storages nested more than %d deep", MAX_STORAGE_DEPTH);
			goto out;
		}
		e->reachable = 1;
		e->parent = it.parent;
		if (top + 3 > (size_t)c->n_dir + 1) {
			csod_fail(err, "the directory tree has more links than entries");
			goto out;
		}
		stack[top++] = (struct item){e->left, it.parent, it.depth};
		stack[top++] = (struct item){e->right, it.parent, it.depth};
		if (e->type == CFB_TYPE_STORAGE)
			stack[top++] = (struct item){e->child, it.id, it.depth + 1};
	}
	rc = 0;
out:
	free(stack);
	return rc;
}

/* Groups the reachable entries by parent so that listing a storage's
 * children costs its number of children. */
static int index_children(csod_cfb *c, csod_error *err)
{
	c->kids_start = calloc((size_t)c->n_dir + 1, sizeof *c->kids_start);
	c->kids = malloc(((size_t)c->n_dir + 1) * sizeof *c->kids);
	if (!c->kids_start || !c->kids)
		return csod_fail(err, "out of memory");
	for (uint32_t i = 1; i < c->n_dir; i++)
		if (c->dir[i].reachable)
			c->kids_start[c->dir[i].parent + 1]++;
	for (uint32_t i = 0; i < c->n_dir; i++)
		c->kids_start[i + 1] += c->kids_start[i];
	uint32_t *fill = calloc(c->n_dir, sizeof *fill);
	if (!fill)
		return csod_fail(err, "out of memory");
	for (uint32_t i = 1; i < c->n_dir; i++)
		if (c->dir[i].reachable) {
			uint32_t p = c->dir[i].parent;
			c->kids[c->kids_start[p] + fill[p]++] = i;
		}
	free(fill);
	return 0;
}

int csod_cfb_index_tree(csod_cfb *c, csod_error *err)
{
	return walk_tree(c, err) == 0 && index_children(c, err) == 0 ? 0 : -1;
}

const uint32_t *csod_cfb_children(const csod_cfb *c, uint32_t id, uint32_t *n)
{
	*n = c->kids_start[id + 1] - c->kids_start[id];
	return c->kids + c->kids_start[id];
}

uint32_t csod_cfb_find(const csod_cfb *c, uint32_t parent, const unsigned char *name,
                       size_t name_len)
{
	uint32_t n;
	const uint32_t *kids = csod_cfb_children(c, parent, &n);
	for (uint32_t i = 0; i < n; i++) {
		const csod_cfb_entry *e = &c->dir[kids[i]];
		if (e->name_len == name_len && memcmp(e->raw, name, name_len) == 0)
			return kids[i];
	}
	return CFB_NOSTREAM;
}
