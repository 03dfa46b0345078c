/* sim_stats.h — what uhub-sim saw: request counters and the access log.
 *
 * Every API request that decoded is counted under (Action, RepoName,
 * ImageName, TagName), so a test can ask "how many GetImageTag calls for
 * repo r image i" after the fact. The access log is one line per API
 * request, on demand. Thread-safe: one mutex for the counters, one for the
 * log.
 */
#ifndef UHUB_SIM_STATS_H
#define UHUB_SIM_STATS_H

#include <stdbool.h>
#include <stddef.h>

/* A question to the counters; NULL fields match anything. */
struct sim_stats_filter {
	const char *action; /* also "*": any */
	const char *repo, *image, *tag;
	int has_tag; /* -1: any, 0: requests without TagName, 1: with one */
};

/* One row of the per-action summary. */
struct sim_stat_row {
	char *action;
	unsigned long long count;
};

struct sim_stats;

/* NULL on -ENOMEM. sim_stats_free(NULL) is a no-op; closes the log file. */
struct sim_stats *sim_stats_new(void);
void sim_stats_free(struct sim_stats *s);

/* Counts one request. Any argument may be NULL (absent); an empty tag
 * counts as none. 0 or -ENOMEM. */
int sim_stats_record(struct sim_stats *s, const char *action, const char *repo, const char *image, const char *tag);
/* Requests matching every field of f. */
unsigned long long sim_stats_count(struct sim_stats *s, const struct sim_stats_filter *f);
/* Counts per action, sorted by action; free with sim_stats_rows_free.
 * 0 or -ENOMEM. */
int sim_stats_rows(struct sim_stats *s, struct sim_stat_row **rows, size_t *n);
void sim_stats_rows_free(struct sim_stat_row *rows, size_t n);
/* Forgets every count. */
void sim_stats_reset(struct sim_stats *s);

/* Opens the access log ("-": stdout) and switches it on. 0 or -errno. */
int sim_stats_log_open(struct sim_stats *s, const char *path);
/* Switches logging on or off; on without a file logs to stderr. */
void sim_stats_log_enable(struct sim_stats *s, bool on);
bool sim_stats_log_enabled(struct sim_stats *s);
/* Writes line and a newline if logging is on. */
void sim_stats_log_line(struct sim_stats *s, const char *line);

#endif
