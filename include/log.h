/* log.h — the daemon's log: stderr in the foreground, syslog (ident
 * "imgtagfs") once detached. Levels are syslog's (LOG_ERR ... LOG_DEBUG).
 *
 * Messages are lower-case and say what failed on which name. Callers never
 * pass keys or signatures; debug lines about requests are built by uhub.c
 * from parameters with PublicKey and Signature left out.
 * Thread-safe: the debug flag is atomic, writes are single calls.
 */
#ifndef IMGTAGFS_LOG_H
#define IMGTAGFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

struct log;

/* A log writing to stderr. NULL on -ENOMEM. log_free(NULL) is a no-op. */
struct log *log_new(const char *ident, bool debug);
void log_free(struct log *l);
/* Switches to syslog (after daemonizing) or back to stderr. */
void log_use_syslog(struct log *l, bool on);
void log_set_debug(struct log *l, bool on);
bool log_debug_enabled(const struct log *l);
/* Writes one line. LOG_DEBUG lines are dropped unless debug is on.
 * l may be NULL (the message is dropped): tests pass no log. */
void log_msg(struct log *l, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
