/* libFuzzer target for the script signature block parser (script_format.c):
 * encoding checks, the block's lines and base64, the script hash; and,
 * for every input that parses, that a block spliced in where it belongs
 * parses back to the same content. Build: sh fuzz/build_script.sh */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../signers/authenticode/script_format.h"

static void round_trip(const csod_script *s)
{
	static const unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	unsigned char *block = NULL;
	size_t block_len = 0, head_end, tail_at;
	csod_error err;
	if (csod_script_block(s, der, sizeof der, &block, &block_len, &err) < 0)
		return;
	csod_script_around_block(s, &head_end, &tail_at);
	size_t len = head_end + block_len + (s->len - tail_at);
	unsigned char *p = malloc(len);
	if (!p)
		abort();
	memcpy(p, s->p, head_end);
	memcpy(p + head_end, block, block_len);
	memcpy(p + head_end + block_len, s->p + tail_at, s->len - tail_at);
	csod_script again;
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	if (len <= CSOD_SCRIPT_MAX && (csod_script_parse(&again, s->kind, p, len, &err) < 0 ||
	                               !again.has_block || !csod_script_same_content(s, &again) ||
	                               csod_script_signature(&again, &sig, &sig_len, &err) < 0 ||
	                               sig_len != sizeof der || memcmp(sig, der, sizeof der) != 0))
		abort(); /* what we write must read back */
	free(sig);
	free(p);
	free(block);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int k = 0; k < CSOD_SCRIPT_KINDS; k++) {
		csod_script s;
		csod_error err;
		if (csod_script_parse(&s, (csod_script_kind)k, data, size, &err) < 0)
			continue;
		unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
		size_t der_len = 0;
		unsigned md_len = 0;
		if (csod_script_signature(&s, &der, &der_len, &err) == 0)
			free(der);
		csod_script_hash(&s, EVP_sha256(), md, &md_len, &err);
		round_trip(&s);
	}
	return 0;
}
