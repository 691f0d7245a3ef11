#include "email_address.h"

#include <ctype.h>
#include <string.h>

#include "../lib/text.h"

static int local_char(unsigned char c)
{
	return isalnum(c) || (c && strchr(".!#$%&'*+-/=?^_`{|}~", c));
}

/* RFC 5321 dot-atom: no leading, trailing or double dot. */
static int local_part_ok(const char *s, size_t len)
{
	if (len == 0 || len > 64 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!local_char((unsigned char)s[i]) || (s[i] == '.' && s[i + 1] == '.'))
			return 0;
	return 1;
}

/* Host name labels (RFC 1123): 1 to 63 of letters, digits and '-', not
 * starting or ending with '-'. One label (localhost) is allowed. */
static int domain_ok(const char *s)
{
	size_t len = strlen(s), label = 0;
	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum(c) || (c == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

const char *csod_email_problem(const char *address)
{
	if (!address || !*address)
		return "is empty";
	if (csod_has_control(address))
		return "holds a control character";
	if (strchr(address, ' '))
		return "holds a space";
	if (strlen(address) > 254)
		return "is longer than 254 bytes";
	const char *at = strchr(address, '@');
	if (!at)
		return "has no @";
	if (strchr(at + 1, '@'))
		return "holds more than one @";
	if (!local_part_ok(address, (size_t)(at - address)))
		return "has no plain name before the @ (letters, digits and . ! # $ % & ' * + - "
		       "/ = ? ^ _ ` { | } ~; no leading, trailing or double dot)";
	if (!domain_ok(at + 1))
		return "has no domain name after the @ (letters, digits, - and dots)";
	return NULL;
}

int csod_email_check(const char *address, csod_error *err)
{
	const char *why = csod_email_problem(address);
	if (!why)
		return 0;
	char shown[CSOD_SHOWN_MAX];
	return csod_fail(err, "\"%s\" is not a valid email address: it %s",
	                 csod_escape_to(address ? address : "", shown, sizeof shown), why);
}
