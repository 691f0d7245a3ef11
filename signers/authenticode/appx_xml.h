/* The little an MSIX/APPX signer needs from the package's XML: the
 * publisher AppxManifest.xml names, the hash method of AppxBlockMap.xml,
 * and [Content_Types].xml with the signature's content type added. Plain
 * bounded scans over a buffer (no entity expansion, no DTDs), since the
 * package is the developer's and hostile until proven otherwise. */
#ifndef CSOD_APPX_XML_H
#define CSOD_APPX_XML_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../../lib/error.h"

#define CSOD_APPX_NAME_MAX 1024 /* a publisher or a subject, as text */

/* A walk over the start tags of an XML text [p, end), for the block map. */
typedef struct csod_xml_cursor {
	const char *p, *end;
} csod_xml_cursor;

/* The next start tag's local name (no namespace prefix) in *local and
 * *len: 1, or 0 at the end, -1 on malformed markup. */
int csod_xml_next(csod_xml_cursor *c, const char **local, size_t *len, csod_error *err);

/* The attribute attr of the tag csod_xml_next last found, unescaped into
 * out: 0, or 1 when the tag has none, -1 when malformed. */
int csod_xml_attr(const csod_xml_cursor *c, const char *attr, char *out, size_t cap,
                  csod_error *err);

/* The Publisher attribute of the first <Identity> element of a manifest
 * (a package's or a bundle's),
 * its XML escapes undone, NUL-terminated in out. */
int csod_appx_publisher(const char *xml, size_t len, char *out, size_t cap, csod_error *err);

/* The digest AppxBlockMap.xml's HashMethod names (SHA-256, -384 or -512). */
const EVP_MD *csod_appx_hash_method(const char *xml, size_t len, csod_error *err);

/* A distinguished name as Windows writes it ("CN=x, O=y, C=US": most
 * specific first, ", " between, S for the state, E for an e-mail address,
 * values quoted when they hold a separator). */
int csod_appx_subject_text(const X509_NAME *name, char *out, size_t cap);

/* The publisher text put in that same form, so that two spellings of one
 * name compare equal (spaces around separators, ST or S, quoting). */
int csod_appx_publisher_canonical(const char *publisher, char *out, size_t cap, csod_error *err);

/* [Content_Types].xml with the Override for /AppxSignature.p7x added before
 * its closing </Types> (unchanged when it already has one): malloc'ed in
 * *out. */
int csod_appx_content_types_signed(const char *xml, size_t len, unsigned char **out, size_t *outlen,
                                   csod_error *err);

#endif
