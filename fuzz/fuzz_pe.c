/* libFuzzer target: the PE header parser Authenticode relies on, and the
 * attribute certificate table parser (the same bytes taken as a table). */
#include <stddef.h>
#include <stdint.h>

#include "../signers/authenticode/pe_certs.h"
#include "../signers/authenticode/pe_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	csod_pe pe;
	csod_pe_certs certs;
	csod_error err;
	csod_pe_parse_buffer(data, size, &pe, &err);
	if (csod_pe_certs_parse(data, size, &certs, &err) == 0) {
		certs.table = (unsigned char *)data;
		for (size_t i = 0; i < certs.n; i++)
			PKCS7_free(csod_pe_certs_pkcs7(&certs, i, &err));
	}
	return 0;
}
