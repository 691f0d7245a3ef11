/* Authenticode's own ASN.1 structures (the ones OpenSSL does not know),
 * declared as OpenSSL ASN.1 templates so that every one is encoded whole,
 * whatever its length, with no buffer of ours to overflow or cut. */
#ifndef CSOD_SPC_ASN1_H
#define CSOD_SPC_ASN1_H

#include <stddef.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>

/* SpcString ::= CHOICE { unicode [0] IMPLICIT BMPString,
 *                        ascii   [1] IMPLICIT IA5String } */
typedef struct {
	int type;
	union {
		ASN1_BMPSTRING *unicode;
		ASN1_IA5STRING *ascii;
	} value;
} SpcString;

/* SpcLink ::= CHOICE { url  [0] IMPLICIT IA5String,
 *                      moniker [1] IMPLICIT SpcSerializedObject,
 *                      file [2] EXPLICIT SpcString }
 * moniker is never written, so it is not declared. The type field is
 * the arm's place in the template (OpenSSL's CHOICE selector), not its tag. */
#define SPC_LINK_URL  0
#define SPC_LINK_FILE 1
typedef struct {
	int type;
	union {
		ASN1_IA5STRING *url;
		SpcString *file;
	} value;
} SpcLink;

/* SpcSpOpusInfo ::= SEQUENCE { programName [0] EXPLICIT SpcString OPTIONAL,
 *                              moreInfo    [1] EXPLICIT SpcLink OPTIONAL } */
typedef struct {
	SpcString *programName;
	SpcLink *moreInfo;
} SpcSpOpusInfo;

DECLARE_ASN1_FUNCTIONS(SpcString)
DECLARE_ASN1_FUNCTIONS(SpcLink)
DECLARE_ASN1_FUNCTIONS(SpcSpOpusInfo)

/* DER of the SpcLink file "<<<Obsolete>>>" (a BMPString), the shape
 * signtool writes and CAB signatures carry; of SpcPeImageData (empty flags
 * and that link); of the SpcStatementType naming individual code signing.
 * Each returns the length and sets *out (OPENSSL_free it), or -1. */
int csod_spc_encode_obsolete_link(unsigned char **out);
int csod_spc_encode_pe_image_data(unsigned char **out);
int csod_spc_encode_statement_individual(unsigned char **out);

/* DER of SpcIndirectDataContent { SpcAttributeTypeAndOptionalValue { oid,
 * value (DER) }, DigestInfo { md with NULL parameters, hash } }; the
 * length, *out set (OPENSSL_free it), or -1. */
int csod_spc_encode_indirect_data(const char *oid, const unsigned char *value, size_t value_len,
                                  const EVP_MD *md, const unsigned char *hash, size_t hash_len,
                                  unsigned char **out);

#endif
