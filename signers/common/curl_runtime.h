/* libcurl, loaded at run time (dlopen) the first time a timestamp is asked
 * for. Linking it would make every csod-sign run pay for loading libcurl
 * and the ~30 libraries it pulls in (about 3 ms of a 30 ms APK signing),
 * while only RFC 3161 timestamps use it. The headers still come from
 * libcurl's -dev package; the library (libcurl4) stays a run-time
 * dependency of the package. */
#ifndef CSOD_CURL_RUNTIME_H
#define CSOD_CURL_RUNTIME_H

#include <curl/curl.h>

#include "../../lib/error.h"

/* The few libcurl functions timestamp.c uses. */
typedef struct csod_curl_api {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
} csod_curl_api;

/* Loads libcurl.so.4 and runs its global set-up, once per process (later
 * calls, from any thread, get the same answer). NULL with the reason in err
 * when it cannot be loaded. A daemon calls it before starting threads, as
 * libcurl's global set-up asks. */
const csod_curl_api *csod_curl_load(csod_error *err);

/* libcurl's global clean-up, if it was loaded; at exit. */
void csod_curl_unload(void);

#endif
