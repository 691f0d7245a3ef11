#include "spc_opus.h"

#include "spc_asn1.h"

#include <openssl/asn1.h>
#include <openssl/err.h>

/* SpcSpOpusInfo (spc_asn1.h), written by OpenSSL's ASN.1 templates so
 * that any length and any BMP character is encoded whole. */

/* UTF-8 text as an ASN.1 string of type mask (B_ASN1_BMPSTRING or
 * B_ASN1_IA5STRING); NULL when the text is not valid UTF-8 or has characters
 * the type cannot hold (outside the BMP: a BMPString holds UCS-2, and
 * Windows shows surrogate pairs inconsistently, so they are refused). */
static ASN1_STRING *utf8_as(const char *text, unsigned long mask)
{
	ASN1_STRING *s = NULL;
	if (ASN1_mbstring_copy(&s, (const unsigned char *)text, -1, MBSTRING_UTF8, mask) <= 0)
		return NULL;
	return s;
}

int csod_spc_opus_info(const char *description, const char *url, unsigned char **out,
                       csod_error *err)
{
	SpcSpOpusInfo *info = SpcSpOpusInfo_new();
	if (!info)
		return csod_fail_ssl(err, "out of memory");
	int n = -1, reported = 0;
	if (description && *description) {
		info->programName = SpcString_new();
		if (!info->programName)
			goto done;
		info->programName->type = 0;
		info->programName->value.unicode = utf8_as(description, B_ASN1_BMPSTRING);
		if (!info->programName->value.unicode) {
			ERR_clear_error();
			csod_fail(err,
			          "--description: not UTF-8, or has a character outside the Basic "
			          "Multilingual Plane (U+10000 and above cannot be signed)");
			reported = 1;
			goto done;
		}
	}
	if (url && *url) {
		info->moreInfo = SpcLink_new();
		if (!info->moreInfo)
			goto done;
		info->moreInfo->type = SPC_LINK_URL;
		info->moreInfo->value.url = utf8_as(url, B_ASN1_IA5STRING);
		if (!info->moreInfo->value.url) {
			ERR_clear_error();
			csod_fail(err, "--url: only ASCII characters can be signed (an IA5String); "
			               "percent-encode the others");
			reported = 1;
			goto done;
		}
	}
	*out = NULL;
	n = i2d_SpcSpOpusInfo(info, out);
	if (n <= 0)
		n = -1;
done:
	if (n < 0 && !reported)
		csod_fail_ssl(err, "cannot encode the program description");
	SpcSpOpusInfo_free(info);
	return n;
}
