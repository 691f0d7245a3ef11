/* The SDK versions an APK's AndroidManifest.xml declares in <uses-sdk>,
 * read from Android's compiled (binary) XML as the platform and apksigner
 * read them. A bounded parser of untrusted bytes: it never reads outside
 * the buffer it is given, and refuses anything malformed with a reason. */
#ifndef CSOD_AXML_H
#define CSOD_AXML_H

#include <stddef.h>

#include "../../lib/error.h"

/* What <uses-sdk> says. A manifest without it means minSdkVersion 1. */
typedef struct csod_axml_sdk {
	int min_sdk;    /* android:minSdkVersion; 1 when not given */
	int target_sdk; /* android:targetSdkVersion; min_sdk when not given */
	int max_sdk;    /* android:maxSdkVersion; 0 when not given */
	int uses_sdk;   /* how many <uses-sdk> elements the manifest has */
} csod_axml_sdk;

/* Reads the <uses-sdk> children of the root element of a binary XML
 * document (len bytes at data). With more than one, the highest value of
 * each attribute counts (apksigner takes the highest minSdkVersion). Fails
 * with a one-line reason (not naming the file: the caller does) on
 * anything that is not well-formed binary XML, and on a version that is
 * neither an integer nor a platform codename. */
int csod_axml_read_sdk(const unsigned char *data, size_t len, csod_axml_sdk *out, csod_error *err);

/* The API level a pre-release platform's codename stands for, as
 * apksigner counts it (one below the release: "N" is 23), or -1 when the
 * name does not start with a capital letter. */
int csod_axml_codename_sdk(const char *codename);

#endif
