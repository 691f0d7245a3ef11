/* AppxBlockMap.xml against the package's files, as Windows checks it when
 * it installs: every file but the footprint files (the block map itself,
 * [Content_Types].xml, AppxSignature.p7x) is listed once under its name
 * (backslashes for slashes, its ZIP name's %XX escapes undone), with its
 * uncompressed size, its local header's size (LfhSize), and the hash of
 * each 64 KiB block of its content, in the block map's digest. A package
 * whose block map does not match would be signed for nothing. */
#ifndef CSOD_APPX_BLOCKMAP_H
#define CSOD_APPX_BLOCKMAP_H

#include "appx_package.h"

int csod_appx_check_block_map(const csod_appx *a, csod_error *err);

/* Every signing first runs the engine's check() on the same descriptor
 * (csod_signer_for), which checks the block map in full; signing would
 * read and hash the whole package again for the same answer. So a
 * successful check is remembered (on this thread) for the file as it was:
 * device, inode, size, change and modification times, and the block map's
 * hash. remembered() answers whether a was checked so and forgets it; a
 * file changed since, another file or another thread is checked anew. */
void csod_appx_block_map_remember(const csod_appx *a);
int csod_appx_block_map_remembered(const csod_appx *a);

#endif
