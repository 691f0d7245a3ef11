/* Authenticode for scripts: PowerShell (.ps1 .psm1 .psd1, and .ps1xml in
 * XML comments) and Windows Script Host (.vbs .js .wsf). The signature is
 * a PKCS#7 whose base64 sits in a block of comment lines, which Windows
 * writes with CRLF after a line break:
 *
 *     \r\n# SIG # Begin signature block\r\n# MIIb...\r\n# SIG # End signature block\r\n
 *
 * at the end of the file (before the last </job> of a .wsf). What is signed
 * is the text without that block, as UTF-16LE:
 *   PowerShell: with the byte order mark (U+FEFF) if the file has one;
 *   WSH: without it, followed by the block's position in UTF-16 code units
 *        (32 bits, little-endian).
 * Files are UTF-8 (with or without BOM) or UTF-16LE with BOM; the block is
 * written in the file's own encoding. This file parses and writes; it does
 * no I/O, so that the fuzzer can drive it. */
#ifndef CSOD_SCRIPT_FORMAT_H
#define CSOD_SCRIPT_FORMAT_H

#include <stddef.h>

#include <openssl/evp.h>

#include "../../lib/error.h"

#define CSOD_SCRIPT_MAX     (64u << 20) /* bytes: scripts are read whole */
#define CSOD_SCRIPT_MAX_SIG (4u << 20)  /* bytes of PKCS#7 in one block */

typedef enum csod_script_kind {
	CSOD_SCRIPT_PS,    /* .ps1 .psm1 .psd1 */
	CSOD_SCRIPT_PSXML, /* .ps1xml */
	CSOD_SCRIPT_VBS,   /* .vbs */
	CSOD_SCRIPT_JS,    /* .js */
	CSOD_SCRIPT_WSF,   /* .wsf */
	CSOD_SCRIPT_KINDS
} csod_script_kind;

typedef enum csod_script_encoding {
	CSOD_TEXT_UTF8,
	CSOD_TEXT_UTF8_BOM,
	CSOD_TEXT_UTF16LE,
} csod_script_encoding;

/* A parsed script over the caller's bytes. Offsets are in bytes of the
 * file; "content" is the file without its signature block. */
typedef struct csod_script {
	csod_script_kind kind;
	csod_script_encoding enc;
	const unsigned char *p;
	size_t len;
	size_t unit;      /* bytes per code unit: 1 (UTF-8) or 2 (UTF-16LE) */
	size_t bom;       /* bytes of byte order mark */
	int has_block;    /* a signature block was found */
	size_t block_at;  /* the block, from the line break before its first line */
	size_t block_end; /* ... to after its last line's line break */
	size_t lines_at;  /* the base64 lines: after the first line */
	size_t lines_end; /* ... up to the last line */
	size_t insert_at; /* where a new block goes, in content offsets */
} csod_script;

/* What a kind is called in messages ("PowerShell script"). */
const char *csod_script_kind_name(csod_script_kind kind);

/* Checks the encoding (valid UTF-8 or UTF-16LE, no NUL: else binary) and
 * finds the signature block, if any. Fails with a reason. */
int csod_script_parse(csod_script *s, csod_script_kind kind, const unsigned char *p, size_t len,
                      csod_error *err);

/* The PKCS#7 DER in the block, decoded (malloc'd, *der_len bytes). */
int csod_script_signature(const csod_script *s, unsigned char **der, size_t *der_len,
                          csod_error *err);

/* The Authenticode hash of the content for md. */
int csod_script_hash(const csod_script *s, const EVP_MD *md, unsigned char *out, unsigned *out_len,
                     csod_error *err);

/* DER of the SpcSipInfo for the kind (the SIP's GUID). */
const unsigned char *csod_script_sip_info(csod_script_kind kind, size_t *len);

/* The signature block for der, in the file's encoding (malloc'd). */
int csod_script_block(const csod_script *s, const unsigned char *der, size_t der_len,
                      unsigned char **out, size_t *out_len, csod_error *err);

/* The signed file is the file's [0, head_end), the block, then the
 * file's [tail_at, end): the old block, if any, left out. */
void csod_script_around_block(const csod_script *s, size_t *head_end, size_t *tail_at);

/* Whether a and b have the same content (text without block, encoding). */
int csod_script_same_content(const csod_script *a, const csod_script *b);

#endif
