/* An MSIX/APPX package as its signature sees it: the ZIP, the digest its
 * block map names, the publisher its manifest names, and the hashes
 * Authenticode's APPX SIP puts in the signed blob ("APPX", then AXPC: the
 * local file records before the signature, AXCD: the central directory
 * without the signature's record and its end record, AXCT:
 * [Content_Types].xml, AXBM: AppxBlockMap.xml, AXCI:
 * AppxMetadata/CodeIntegrity.cat when present). */
#ifndef CSOD_APPX_PACKAGE_H
#define CSOD_APPX_PACKAGE_H

#include <openssl/evp.h>

#include "../java/zip_read.h"
#include "appx_xml.h"

#define APPX_SIGNATURE_NAME "AppxSignature.p7x"
#define APPX_CONTENT_TYPES  "[Content_Types].xml"

typedef struct csod_appx {
	csod_zip z;
	const EVP_MD *md; /* the block map's HashMethod */
	char publisher[CSOD_APPX_NAME_MAX];
	unsigned char *content_types; /* uncompressed, NUL-terminated */
	size_t content_types_len;
	unsigned char bm[EVP_MAX_MD_SIZE], ci[EVP_MAX_MD_SIZE];
	int has_ci;
	int bundle; /* a bundle: AppxMetadata/AppxBundleManifest.xml, no AppxManifest.xml */
} csod_appx;

/* Opens and checks the package: a ZIP holding AppxManifest.xml (a
 * bundle: AppxMetadata/AppxBundleManifest.xml) with an Identity Publisher,
 * AppxBlockMap.xml (with a known HashMethod) and [Content_Types].xml.
 * name is for messages. */
int csod_appx_open(csod_appx *a, int fd, const char *name, csod_error *err);
void csod_appx_close(csod_appx *a);

/* md over [from, to) of fd, read in pieces. */
int csod_appx_hash_range(int fd, uint64_t from, uint64_t to, const EVP_MD *md, unsigned char *out,
                         csod_error *err);

/* AXCD: md over the central directory records cd (n of them, placed at
 * cd_offset) and the end record that would follow them. */
int csod_appx_dir_hash(const EVP_MD *md, const unsigned char *cd, size_t cd_len, size_t n,
                       uint64_t cd_offset, const unsigned char *comment, uint16_t comment_len,
                       unsigned char *out, csod_error *err);

/* The signed blob from the five hashes (ci may be NULL); its length. */
size_t csod_appx_blob(const EVP_MD *md, const unsigned char *pc, const unsigned char *cd,
                      const unsigned char *ct, const unsigned char *bm, const unsigned char *ci,
                      unsigned char *out);

#endif
