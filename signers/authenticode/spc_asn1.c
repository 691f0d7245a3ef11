#include "spc_asn1.h"

#include <limits.h>

#include <openssl/asn1t.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#define SPC_INDIVIDUAL "1.3.6.1.4.1.311.2.1.21"

/* SpcPeImageData ::= SEQUENCE { flags SpcPeImageFlags (BIT STRING),
 *                               file [0] EXPLICIT SpcLink OPTIONAL } */
typedef struct {
	ASN1_BIT_STRING *flags;
	SpcLink *file;
} SpcPeImageData;

/* SpcAttributeTypeAndOptionalValue ::= SEQUENCE { type OBJECT IDENTIFIER,
 *                                                 value ANY OPTIONAL } */
typedef struct {
	ASN1_OBJECT *type;
	ASN1_TYPE *value;
} SpcAttributeTypeAndOptionalValue;

/* SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue,
 *                                       messageDigest DigestInfo }
 * DigestInfo is OpenSSL's X509_SIG (an algorithm and an OCTET STRING). */
typedef struct {
	SpcAttributeTypeAndOptionalValue *data;
	X509_SIG *messageDigest;
} SpcIndirectDataContent;

DECLARE_ASN1_FUNCTIONS(SpcPeImageData)
DECLARE_ASN1_FUNCTIONS(SpcAttributeTypeAndOptionalValue)
DECLARE_ASN1_FUNCTIONS(SpcIndirectDataContent)

/* The template macros read best as tables, which clang-format would undo. */
// clang-format off
ASN1_CHOICE(SpcString) = {
	ASN1_IMP(SpcString, value.unicode, ASN1_BMPSTRING, 0),
	ASN1_IMP(SpcString, value.ascii, ASN1_IA5STRING, 1),
} ASN1_CHOICE_END(SpcString)

ASN1_CHOICE(SpcLink) = {
	ASN1_IMP(SpcLink, value.url, ASN1_IA5STRING, 0),
	ASN1_EXP(SpcLink, value.file, SpcString, 2),
} ASN1_CHOICE_END(SpcLink)

ASN1_SEQUENCE(SpcSpOpusInfo) = {
	ASN1_EXP_OPT(SpcSpOpusInfo, programName, SpcString, 0),
	ASN1_EXP_OPT(SpcSpOpusInfo, moreInfo, SpcLink, 1),
} ASN1_SEQUENCE_END(SpcSpOpusInfo)

ASN1_SEQUENCE(SpcPeImageData) = {
	ASN1_SIMPLE(SpcPeImageData, flags, ASN1_BIT_STRING),
	ASN1_EXP_OPT(SpcPeImageData, file, SpcLink, 0),
} ASN1_SEQUENCE_END(SpcPeImageData)

ASN1_SEQUENCE(SpcAttributeTypeAndOptionalValue) = {
	ASN1_SIMPLE(SpcAttributeTypeAndOptionalValue, type, ASN1_OBJECT),
	ASN1_OPT(SpcAttributeTypeAndOptionalValue, value, ASN1_ANY),
} ASN1_SEQUENCE_END(SpcAttributeTypeAndOptionalValue)

ASN1_SEQUENCE(SpcIndirectDataContent) = {
	ASN1_SIMPLE(SpcIndirectDataContent, data, SpcAttributeTypeAndOptionalValue),
	ASN1_SIMPLE(SpcIndirectDataContent, messageDigest, X509_SIG),
} ASN1_SEQUENCE_END(SpcIndirectDataContent)

/* SpcStatementType ::= SEQUENCE OF OBJECT IDENTIFIER */
ASN1_ITEM_TEMPLATE(SpcStatementType) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, SpcStatementType, ASN1_OBJECT)
ASN1_ITEM_TEMPLATE_END(SpcStatementType)

IMPLEMENT_ASN1_FUNCTIONS(SpcString)
IMPLEMENT_ASN1_FUNCTIONS(SpcLink)
IMPLEMENT_ASN1_FUNCTIONS(SpcSpOpusInfo)
IMPLEMENT_ASN1_FUNCTIONS(SpcPeImageData)
IMPLEMENT_ASN1_FUNCTIONS(SpcAttributeTypeAndOptionalValue)
IMPLEMENT_ASN1_FUNCTIONS(SpcIndirectDataContent)
    // clang-format on

    /* i2d's result as this file's functions return it: -1 for nothing. */
    static int encoded(int n)
{
	return n > 0 ? n : -1;
}

static SpcLink *obsolete_link(void)
{
	static const char obsolete[] = "<<<Obsolete>>>";
	SpcLink *link = SpcLink_new();
	SpcString *name = SpcString_new();
	ASN1_STRING *bmp = NULL;
	if (!link || !name ||
	    ASN1_mbstring_copy(&bmp, (const unsigned char *)obsolete, -1, MBSTRING_ASC,
	                       B_ASN1_BMPSTRING) <= 0) {
		SpcLink_free(link);
		SpcString_free(name);
		return NULL;
	}
	name->type = 0;
	name->value.unicode = bmp;
	link->type = SPC_LINK_FILE;
	link->value.file = name;
	return link;
}

int csod_spc_encode_obsolete_link(unsigned char **out)
{
	SpcLink *link = obsolete_link();
	*out = NULL;
	int n = link ? i2d_SpcLink(link, out) : -1;
	SpcLink_free(link);
	return encoded(n);
}

int csod_spc_encode_pe_image_data(unsigned char **out)
{
	SpcPeImageData *data = SpcPeImageData_new();
	*out = NULL;
	int n = -1;
	/* Empty flags, written out as signtool does (03 01 00). */
	if (data && (data->file = obsolete_link()))
		n = i2d_SpcPeImageData(data, out);
	SpcPeImageData_free(data);
	return encoded(n);
}

int csod_spc_encode_statement_individual(unsigned char **out)
{
	STACK_OF(ASN1_OBJECT) *types = sk_ASN1_OBJECT_new_null();
	ASN1_OBJECT *individual = OBJ_txt2obj(SPC_INDIVIDUAL, 1);
	*out = NULL;
	int n = -1;
	if (types && individual && sk_ASN1_OBJECT_push(types, individual)) {
		individual = NULL;
		n = ASN1_item_i2d((ASN1_VALUE *)types, out, ASN1_ITEM_rptr(SpcStatementType));
	}
	ASN1_OBJECT_free(individual);
	sk_ASN1_OBJECT_pop_free(types, ASN1_OBJECT_free);
	return encoded(n);
}

int csod_spc_encode_indirect_data(const char *oid, const unsigned char *value, size_t value_len,
                                  const EVP_MD *md, const unsigned char *hash, size_t hash_len,
                                  unsigned char **out)
{
	SpcIndirectDataContent *idc = SpcIndirectDataContent_new();
	const unsigned char *p = value;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *digest;
	*out = NULL;
	int n = -1;
	if (!idc || value_len > LONG_MAX || !(idc->data->type = OBJ_txt2obj(oid, 1)) ||
	    (value_len && !(idc->data->value = d2i_ASN1_TYPE(NULL, &p, (long)value_len))) ||
	    p != value + value_len)
		goto out;
	X509_SIG_getm(idc->messageDigest, &alg, &digest);
	if (X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL) &&
	    ASN1_OCTET_STRING_set(digest, hash, (int)hash_len))
		n = i2d_SpcIndirectDataContent(idc, out);
out:
	SpcIndirectDataContent_free(idc);
	return encoded(n);
}
