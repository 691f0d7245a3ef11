#include "check_verdicts.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *csod_verdicts_to_json(const csod_request *r)
{
	if (r->n_verdicts == 0)
		return NULL;
	json_t *a = json_array();
	for (int i = 0; a && i < r->n_verdicts; i++) {
		const csod_check_verdict *v = &r->verdicts[i];
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I}", "check", v->check,
		                                   "verdict", v->verdict, "reason", v->reason, "at",
		                                   (json_int_t)v->at));
	}
	char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return text;
}

void csod_verdicts_from_json(const char *text, csod_request *r)
{
	r->n_verdicts = 0;
	json_t *a = text && *text ? json_loads(text, 0, NULL) : NULL;
	size_t i;
	json_t *o;
	json_array_foreach(a, i, o)
	{
		const char *check = json_string_value(json_object_get(o, "check"));
		const char *verdict = json_string_value(json_object_get(o, "verdict"));
		const char *reason = json_string_value(json_object_get(o, "reason"));
		if (check && verdict)
			csod_verdict_add(r, check, verdict, reason ? reason : "",
			                 (int64_t)json_integer_value(json_object_get(o, "at")));
	}
	json_decref(a);
}

void csod_verdict_add(csod_request *r, const char *check, const char *verdict, const char *reason,
                      int64_t at)
{
	if (r->n_verdicts >= CSOD_CHECKS_MAX)
		return;
	csod_check_verdict *v = &r->verdicts[r->n_verdicts++];
	snprintf(v->check, sizeof v->check, "%s", check);
	snprintf(v->verdict, sizeof v->verdict, "%s", verdict);
	snprintf(v->reason, sizeof v->reason, "%s", reason);
	v->at = at;
}

const char *csod_verdicts_summary(const csod_request *r)
{
	int hold = 0;
	for (int i = 0; i < r->n_verdicts; i++) {
		if (strcmp(r->verdicts[i].verdict, "fail") == 0)
			return "fail";
		hold |= strcmp(r->verdicts[i].verdict, "pass") != 0;
	}
	return hold ? "hold" : "pass";
}

void csod_verdicts_line(const csod_request *r, char *out, size_t len)
{
	if (!r->checks[0]) {
		snprintf(out, len, "none configured");
		return;
	}
	size_t n = (size_t)snprintf(out, len, "%s", r->checks);
	for (int i = 0; i < r->n_verdicts && n < len; i++) {
		const csod_check_verdict *v = &r->verdicts[i];
		n += (size_t)snprintf(out + n, len - n, "%s%s: %s: %s", i ? "; " : " (", v->check,
		                      v->verdict, v->reason);
	}
	if (r->n_verdicts > 0 && n < len)
		snprintf(out + n, len - n, ")");
}
