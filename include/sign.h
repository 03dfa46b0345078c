/* sign.h — the UHub request signature (UHUB-API.md, "Signature").
 *
 * SHA-1 over every parameter but Signature, sorted by name in plain byte
 * order, as name+value with no separator, followed by the private key;
 * lowercase hex. The only OpenSSL user. Thread-safe: no shared state.
 */
#ifndef IMGTAGFS_SIGN_H
#define IMGTAGFS_SIGN_H

#include <stdbool.h>

#include "params.h"

#define SIGN_HEX_LEN 40

/* Writes the signature of p (its "Signature" entries ignored) and the
 * NUL to hex. 0, -ENOMEM, -EIO if the digest failed. */
int sign_compute(const struct params *p, const char *private_key, char hex[SIGN_HEX_LEN + 1]);
/* Adds (or replaces) the Signature parameter of p. 0 or -errno. */
int sign_params(struct params *p, const char *private_key);
/* True when p's Signature is the right one for private_key; compares in
 * constant time. False when there is no Signature. */
bool sign_verify(const struct params *p, const char *private_key);

#endif
