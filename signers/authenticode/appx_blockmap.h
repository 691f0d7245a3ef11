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

#endif
