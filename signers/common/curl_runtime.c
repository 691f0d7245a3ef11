/* libcurl loaded at run time; see curl_runtime.h. */
#include "curl_runtime.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CURL_SONAME "libcurl.so.4"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *handle;
static csod_curl_api api;
static void (*global_cleanup)(void);
static char why[256]; /* set when loading failed */

/* dlsym returns void *; POSIX guarantees it converts to the function
 * pointer it names (copied, as ISO C has no such conversion). */
static int resolve(void *fn_ptr, size_t size, const char *symbol)
{
	void *sym = dlsym(handle, symbol);
	if (!sym || size != sizeof sym) {
		snprintf(why, sizeof why, "%s lacks %s", CURL_SONAME, symbol);
		return -1;
	}
	memcpy(fn_ptr, &sym, sizeof sym);
	return 0;
}

#define RESOLVE(field, symbol) resolve(&(field), sizeof(field), symbol)

static void load(void)
{
	handle = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		const char *e = dlerror();
		snprintf(why, sizeof why, "%s", e ? e : CURL_SONAME ": not found");
		return;
	}
	CURLcode (*global_init)(long flags) = NULL;
	void (*cleanup)(void) = NULL;
	if (RESOLVE(global_init, "curl_global_init") < 0 ||
	    RESOLVE(cleanup, "curl_global_cleanup") < 0 ||
	    RESOLVE(api.easy_init, "curl_easy_init") < 0 ||
	    RESOLVE(api.easy_setopt, "curl_easy_setopt") < 0 ||
	    RESOLVE(api.easy_perform, "curl_easy_perform") < 0 ||
	    RESOLVE(api.easy_getinfo, "curl_easy_getinfo") < 0 ||
	    RESOLVE(api.easy_cleanup, "curl_easy_cleanup") < 0 ||
	    RESOLVE(api.easy_strerror, "curl_easy_strerror") < 0 ||
	    RESOLVE(api.slist_append, "curl_slist_append") < 0 ||
	    RESOLVE(api.slist_free_all, "curl_slist_free_all") < 0)
		return;
	if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(why, sizeof why, "%s failed to initialise", CURL_SONAME);
		return;
	}
	global_cleanup = cleanup;
}

const csod_curl_api *csod_curl_load(csod_error *err)
{
	pthread_once(&once, load);
	if (why[0]) {
		csod_fail(err, "cannot load libcurl, which timestamps need: %s", why);
		return NULL;
	}
	return &api;
}

void csod_curl_unload(void)
{
	if (global_cleanup)
		global_cleanup();
	global_cleanup = NULL;
}
