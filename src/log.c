/* log.c — the daemon's log. Each message becomes one line, written with a
 * single write(2) to stderr ("imgtagfs: warning: ...") while in the
 * foreground, or handed to syslog(3) once the daemon has detached, so lines
 * from many FUSE worker threads never interleave. The debug switch is an
 * atomic flag that a SIGUSR1 handler may flip at run time.
 *
 * Every message is escaped as a whole, at the one place all lines pass
 * (log_vmsg), with log_escape: a line quotes names, Messages and texts
 * from the server, libfuse's -d trace quotes names from the kernel, and
 * escaping each at its call site would leave the one that was forgotten.
 * So no call can forge a second line (a newline), send a terminal an
 * escape sequence (ESC, or the C1 CSI U+009B) or reorder what it shows (a
 * bidirectional control): each such byte is written as \xNN.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "text.h"

#define LOG_LINE_MAX 2048

struct log {
	/* openlog(3) keeps this pointer, so it lives as long as the log. */
	char ident[64];
	atomic_bool debug;
	atomic_bool syslog;
};

struct log *log_new(const char *ident, bool debug)
{
	struct log *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	snprintf(l->ident, sizeof(l->ident), "%s", ident && *ident ? ident : "imgtagfs");
	atomic_init(&l->debug, debug);
	atomic_init(&l->syslog, false);
	return l;
}

void log_free(struct log *l)
{
	if (!l)
		return;
	if (atomic_load(&l->syslog))
		closelog();
	free(l);
}

void log_use_syslog(struct log *l, bool on)
{
	if (!l || atomic_load(&l->syslog) == on)
		return;
	if (on)
		openlog(l->ident, LOG_PID, LOG_DAEMON);
	atomic_store(&l->syslog, on);
	if (!on)
		closelog();
}

void log_set_debug(struct log *l, bool on)
{
	if (l)
		atomic_store(&l->debug, on);
}

bool log_debug_enabled(const struct log *l)
{
	/* atomic_load wants a non-const pointer in C11. */
	return l && atomic_load((atomic_bool *)&l->debug);
}

static const char *level_name(int prio)
{
	static const char *const names[] = {
	    [LOG_EMERG] = "emergency", [LOG_ALERT] = "alert",	[LOG_CRIT] = "critical", [LOG_ERR] = "error",
	    [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info",	 [LOG_DEBUG] = "debug",
	};

	return names[LOG_PRI(prio)];
}

/* The message as it is written: without the trailing newline libfuse
 * ends its messages with, everything else through log_escape. */
static void shown(const char *msg, char *out, size_t n)
{
	size_t len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		len--;
	log_escape(msg, len, out, n);
}

const char *log_printable(const char *s, char *out, size_t n)
{
	return log_escape(s ? s : "", s ? strlen(s) : 0, out, n);
}

static void write_line(const char *line, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, line, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere left to report it */
		line += w;
		n -= (size_t)w;
	}
}

void log_vmsg(struct log *l, int prio, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], safe[LOG_LINE_MAX], line[LOG_LINE_MAX + 96];
	int n;

	if (!l || (LOG_PRI(prio) == LOG_DEBUG && !log_debug_enabled(l)))
		return;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return;
	shown(msg, safe, sizeof(safe));
	if (atomic_load(&l->syslog)) {
		syslog(LOG_PRI(prio), "%s", safe);
		return;
	}
	n = snprintf(line, sizeof(line), "%s: %s: %s\n", l->ident, level_name(prio), safe);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	write_line(line, (size_t)n);
}

void log_msg(struct log *l, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(l, prio, fmt, ap);
	va_end(ap);
}

char *log_escape(const char *s, size_t len, char *out, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (!n)
		return out;
	for (size_t i = 0; i < len;) {
		size_t k = text_char_len(s + i, len - i);

		if (k) {
			if (o + k >= n)
				break;
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
			continue;
		}
		if (o + 4 >= n)
			break;
		snprintf(out + o, n - o, "\\x%02x", p[i++]);
		o += 4;
	}
	out[o] = '\0';
	return out;
}
