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

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

struct log;

/* A log writing to stderr, named ident (NULL or "" = "imgtagfs"; 63
 * bytes kept). NULL on -ENOMEM. log_free(NULL) is a no-op; log_free closes
 * syslog if the log had opened it. */
struct log *log_new(const char *ident, bool debug);
void log_free(struct log *l);
/* Switches to syslog (after daemonizing; openlog(ident, LOG_PID,
 * LOG_DAEMON)) or back to stderr. Call it from one thread: openlog and
 * closelog are process-wide. */
void log_use_syslog(struct log *l, bool on);
void log_set_debug(struct log *l, bool on);
bool log_debug_enabled(const struct log *l);
/* Writes one line. LOG_DEBUG lines are dropped unless debug is on.
 * l may be NULL (the message is dropped): tests pass no log.
 * On stderr the line reads "IDENT: LEVEL: message" (LEVEL is error,
 * warning, notice, info, debug, ...); in syslog just the message, at prio.
 * Messages are cut at 2047 bytes, and written through log_escape (a
 * trailing newline dropped): a newline, an escape sequence, a C1 or
 * bidirectional control, a byte that is not UTF-8 is written as \xNN,
 * whatever the caller passed, so one call is always exactly one line and
 * nothing in it acts on a terminal. */
void log_msg(struct log *l, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A name from the server as it may be shown to people, in a log line, a
 * mount error or --check's output: log_escape of the string.
 * Writes a NUL-terminated copy into out (n bytes, cut short if it does
 * not fit) and returns out; s NULL gives "". Pure; any thread. */
const char *log_printable(const char *s, char *out, size_t n);
/* The same with a va_list: for a shim such as the one main hands to
 * fuse_set_log_func(), so libfuse's own messages land in the same place. */
void log_vmsg(struct log *l, int prio, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* Copies len bytes of s into out (n bytes, NUL-terminated, cut before a
 * character that does not fit) in a form that is safe on a terminal: what
 * text.h shows as it is (printable ASCII, valid UTF-8 of no C1 or
 * bidirectional control) passes, every other byte is shown as \xNN (ESC,
 * newline, BEL: escape sequences, forged lines; U+009B, U+202E). For what
 * the server says (a Message, a name, a time) before it reaches a
 * terminal, a log, a tag file or a caller's reason. Pure; returns out. Up
 * to 4 output bytes per input byte. */
char *log_escape(const char *s, size_t len, char *out, size_t n);

#endif
