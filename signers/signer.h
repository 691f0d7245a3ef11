/* The one small interface every format engine implements.
 *
 * An engine reads its input from a file descriptor (never a path, so the
 * caller decides how the file was opened: O_NOFOLLOW, from the store) and
 * writes the signed result to another descriptor that the caller later
 * publishes atomically. Engines know nothing about the daemon, the spool or
 * the database; the daemon, csod-sign and the tests all call them the same
 * way. Engines must stream: memory may not grow with the input's size. */
#ifndef CSOD_SIGNER_H
#define CSOD_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../lib/error.h"

#define CSOD_MAX_DIGESTS 5

/* Who signs: the key (which may live on a PKCS#11 token and never be
 * exported), its certificate, and the rest of the chain up to the root. */
typedef struct csod_identity {
	EVP_PKEY *key;
	X509 *cert;
	STACK_OF(X509) * chain; /* intermediates then root; may be NULL */
} csod_identity;

#define CSOD_MAX_TSA 8

/* Time-stamping authorities, tried in order until one gives a stamp that
 * checks out (signers/common/timestamp.h). */
typedef struct csod_timestamp_options {
	const char *urls[CSOD_MAX_TSA]; /* none: no timestamps */
	int n_urls;
	const char *ca_file; /* PEM roots a TSA's certificate must chain to; NULL: the system's */
	int required;        /* fail when no TSA gives a stamp; else sign without, with a warning */
	int timeout_s;       /* per attempt; 0 = 10 s */
	int retries;         /* extra attempts per server on a connection failure or HTTP 5xx */
	int legacy;          /* Authenticode: Microsoft's legacy protocol, not RFC 3161 */
	/* Told which server answered (LOG_INFO) and why one did not or why a
	 * signature goes without a stamp (LOG_WARNING); may be NULL. Called on
	 * the signing thread. */
	void (*note)(void *arg, int level, const char *msg);
	void *note_arg;
} csod_timestamp_options;

typedef struct csod_sign_options {
	/* "md5" "sha1" "sha256" "sha384" "sha512". The first is the primary
	 * signature; each further one is a nested signature where the format
	 * has them (Authenticode), or another digest where it does not. */
	const char *digests[CSOD_MAX_DIGESTS];
	int n_digests;
	/* The digests were asked for (csod-sign --digest, request.conf
	 * digests), not defaults: a hash file, whose digest is given, refuses
	 * any other algorithm rather than ignore it. */
	int digests_given;
	csod_timestamp_options timestamp;
	/* Keep the file's existing signatures and add ours beside (nested in
	 * Authenticode, another signer in JAR). Off: existing ones are replaced. */
	int append;
	/* MSI: add MsiDigitalSignatureEx (the pre-hash of the entries'
	 * names, sizes and times that Windows checks before the content). */
	int msi_dse;
	/* Sign the files inside the container first (JAR/WAR/AAB, CAB), then
	 * the container: signers/deep/deep_container.h. A ZIP drop is always
	 * signed deep. */
	int deep;
	int min_sdk;             /* Android minSdkVersion; 0: the APK's manifest says */
	const char *description; /* program name (Authenticode SpcSpOpusInfo) */
	const char *url;         /* more-info URL (SpcSpOpusInfo) */
	const char *alias;       /* JAR signer name (META-INF/<ALIAS>.SF); NULL = "CSOD" */
	int64_t max_size;        /* refuse inputs larger than this; 0 = no limit of ours */
	const char *input_name;  /* the input's file name, for engines that take hints from it */
	/* Where an engine may keep nameless scratch files (the deep engine's
	 * inner files); NULL: $TMPDIR, else /tmp. */
	const char *tmp_dir;
	/* Told how many bytes of the input have been read, as an engine that
	 * reads it in one pass goes (Authenticode PE); for people watching a
	 * long signing. May be NULL; nothing depends on it being called. */
	void (*progress)(void *ctx, uint64_t done);
	void *progress_ctx;
} csod_sign_options;

/* One part of an input that holds several things to sign (a hash file of
 * several lines, each naming a file): signed and self-checked as an input
 * of its own, into an output of its own. */
typedef struct csod_part {
	char output[256]; /* its signed output's name */
	int fd;           /* the part alone, read by sign() and verify() as an input */
} csod_part;

typedef struct csod_signer {
	const char *name;    /* engine: "hash" "pe" "msi" "cab" "jar" "apk" "powershell"... */
	const char *service; /* "hash" "authenticode" "java" "android" */

	/* 1 if the file looks like this engine's format. head holds the first
	 * headlen bytes (up to 4096) of the file, size is its full size. */
	int (*detect)(const unsigned char *head, size_t headlen, off_t size);

	/* Name of the signed output for an input named in_name (hash signing
	 * answers with "<name>.p7s"); NULL means the same name. Returns the
	 * full name's length, as snprintf does: outlen or more means cut. */
	int (*output_name)(const char *in_name, char *out, size_t outlen);

	/* Signs in_fd (read with pread; its offset is not relied on) into out_fd,
	 * an empty file opened read-write. */
	int (*sign)(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
	            csod_error *err);

	/* Optional: the parts of an input that holds several things to sign,
	 * each to be signed and verified on its own; *n = 0 (and *parts NULL)
	 * when the input is signed whole. Free with csod_parts_free(). */
	int (*split)(int fd, const char *name, csod_part **parts, int *n, csod_error *err);

	/* Optional: a closer look than detect(), with the file's name, so that
	 * a bad input is refused at intake rather than after its approval. */
	int (*check)(int fd, const char *name, csod_error *err);

	/* Optional: whether the options a request asks for can be honoured
	 * for this file (a hash file's digest against the digests asked for,
	 * MsiDigitalSignatureEx against nesting, nesting onto an APK), for
	 * what sign() would refuse only once signing: the daemon asks at
	 * intake, so that such a request fails before its approval. sign()
	 * refuses the same itself. */
	int (*check_options)(int fd, const char *name, const csod_sign_options *opt,
	                     csod_error *err);

	/* Checks with csod's own code that out_fd carries a valid signature over
	 * exactly the content of in_fd, from a certificate that chains to a
	 * certificate in trust. The daemon publishes nothing that fails this. */
	int (*verify)(int in_fd, int out_fd, X509_STORE *trust, csod_error *err);

	/* Optional: sign() then verify() in one call, for formats where the
	 * self-check's own read of the output can run beside the signing (on
	 * a second core) rather than after it. The same guarantees as the two
	 * calls; returns what csod_sign_checked() does. */
	int (*sign_checked)(int in_fd, int out_fd, const csod_identity *id,
	                    const csod_sign_options *opt, X509_STORE *trust, csod_error *err);

	/* Optional: file name extensions (no dot; NULL-terminated) this engine
	 * takes by name, for formats whose content has no magic (scripts). A
	 * file so named goes to this engine whatever it holds, for check() to
	 * judge (the engine's detect() is not asked). */
	const char *const *extensions;

	/* Optional, both or neither: detached signatures, for reproducible
	 * builds (csod-sign --extract-signature, --attach-signature). extract
	 * gives the signature of the signed file in fd, as the engine's format
	 * carries it on its own, in *sig (malloc'ed): for Authenticode the
	 * PKCS#7 SignedData in DER, byte for byte; for JAR a small ZIP of the
	 * signer's MANIFEST.MF, .SF and block. attach writes to out_fd (empty,
	 * read-write) in_fd with that signature put in as sign() would have
	 * put it, replacing any the input has; it does not judge the
	 * signature: verify(in_fd, out_fd) afterwards does. */
	int (*extract_signature)(int fd, unsigned char **sig, size_t *len, csod_error *err);
	int (*attach_signature)(int in_fd, int out_fd, const unsigned char *sig, size_t len,
	                        csod_error *err);
} csod_signer;

#define CSOD_SIGN_FAILED  -1 /* signing failed: nothing usable in out_fd */
#define CSOD_CHECK_FAILED -2 /* signed, but the output failed its self-check */

/* Signs in_fd into out_fd with s and, unless trust is NULL, self-checks the
 * output against in_fd (the engine's sign_checked where it has one, else
 * sign() then verify()). 0, CSOD_SIGN_FAILED or CSOD_CHECK_FAILED, with
 * err saying why. */
int csod_sign_checked(const csod_signer *s, int in_fd, int out_fd, const csod_identity *id,
                      const csod_sign_options *opt, X509_STORE *trust, csod_error *err);

/* The service a file name implies by its extension (DESIGN.md), or NULL. */
const char *csod_service_for_name(const char *filename);

/* The service a file's content implies (a PE, MSI or CAB file:
 * "authenticode"), or NULL. */
const char *csod_service_for_content(int fd);

/* Picks the engine for a file: service may be NULL or "auto" (then it is
 * taken from the extension). For authenticode the container (PE, MSI, CAB)
 * is told apart by content. Fails with a reason naming the file. */
const csod_signer *csod_signer_for(const char *service, const char *filename, int fd,
                                   csod_error *err);

/* The signed output's name for in_name (signer s) in out: fails, naming
 * the file, when it would not fit out or would be longer than a file name
 * may be (NAME_MAX), rather than cut it (a cut ".p7s" would publish the
 * signature under the input's own name). */
int csod_output_name(const csod_signer *s, const char *in_name, char *out, size_t outlen,
                     csod_error *err);

/* Closes the parts' descriptors and frees them. */
void csod_parts_free(csod_part *parts, int n);

/* Every engine, NULL-terminated. */
extern const csod_signer *const csod_signers[];

/* Digest name to OpenSSL type; NULL for an unknown name. */
const EVP_MD *csod_digest_by_name(const char *name);

#endif
