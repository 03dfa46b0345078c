/* sim_fault.h — uhub-sim's misbehaviour: injected faults, the request-rate
 * limit, and per-request latency.
 *
 * A fault is a kind plus when it fires: with probability rate on each
 * matching request (default 1: every one), at most count times (then it is
 * gone; default: until cleared). "Matching" means
 * the fault's action filter (empty: any) and the kind applies to the request
 * (liecount: the three list actions; shuffle: GetImageTag only). Faults are
 * tried in the order they were added; the first that fires wins.
 *
 * What each kind does (carried out by sim_http.c):
 *   http500 http502 http503 http429  that HTTP status, a short text body
 *   ret110 ret130 ret150 ret153 ret2000  HTTP 200, JSON with that RetCode
 *   hang       sleeps ms (default 120000) before answering normally; ends
 *              early when the client goes away or the simulator stops
 *   drop       closes the connection without a reply
 *   truncate   announces the full Content-Length, sends the first half of
 *              the JSON body, closes the connection
 *   notjson    HTTP 200, "<html>oops</html>" as text/html
 *   oversized  a valid JSON reply padded to bytes (default 64 MiB) with a
 *              "Padding" string, streamed, never held in memory
 *   liecount   TotalCount reported as 10 times the truth (0 stays 0)
 *   shuffle    before answering, mutates the requested image: the Nth
 *              shuffle overall pushes "0shuffle-NNNNNN" (N odd; sorts first,
 *              so later tags move one place on: the next page repeats one)
 *              or deletes the image's last tag by name (N even)
 *   escmsg     HTTP 200, RetCode 171, a Message holding terminal escape
 *              sequences, a CR LF and a forged "imgtagfs:" line
 *   dense      a valid JSON reply padded to bytes (default 64 MiB) with a
 *              "Padding" array of zeros ([0,0,...]: the most JSON values
 *              per byte a parser can meet), streamed
 * All functions are thread-safe (one mutex per struct sim_faults).
 */
#ifndef UHUB_SIM_FAULT_H
#define UHUB_SIM_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sim_fault_kind {
	SIM_FAULT_NONE,
	SIM_FAULT_HTTP500,
	SIM_FAULT_HTTP502,
	SIM_FAULT_HTTP503,
	SIM_FAULT_HTTP429,
	SIM_FAULT_RET110,
	SIM_FAULT_RET130,
	SIM_FAULT_RET150,
	SIM_FAULT_RET153,
	SIM_FAULT_RET2000,
	SIM_FAULT_HANG,
	SIM_FAULT_DROP,
	SIM_FAULT_TRUNCATE,
	SIM_FAULT_NOTJSON,
	SIM_FAULT_OVERSIZED,
	SIM_FAULT_LIECOUNT,
	SIM_FAULT_SHUFFLE,
	SIM_FAULT_ESCMSG,
	SIM_FAULT_DENSE,
	SIM_FAULT_KINDS
};

#define SIM_HANG_MS_DEFAULT 120000LL
#define SIM_OVERSIZED_DEFAULT (64LL << 20)

struct sim_fault_spec {
	enum sim_fault_kind kind;
	double rate;	 /* 0 < rate <= 1; 1 when not given */
	long count;	 /* the next count matching requests; -1: no limit */
	char action[64]; /* "" = any action */
	long long ms;	 /* hang */
	long long bytes; /* oversized, dense */
	bool later;	 /* only pages after the first of a listing (Offset > 0) */
};

/* A fault that fired for one request. */
struct sim_fault_hit {
	enum sim_fault_kind kind;
	long long ms, bytes;
	unsigned long event; /* shuffle: the how-many-th shuffle this is */
};

struct sim_faults;

/* seed drives the rate draws and the jitter (any value; the same seed and
 * request sequence give the same choices). NULL on -ENOMEM. */
struct sim_faults *sim_faults_new(uint64_t seed);
void sim_faults_free(struct sim_faults *f);

/* "http500", ... 0 or -EINVAL. sim_fault_kind_name(SIM_FAULT_NONE) is "-". */
int sim_fault_kind_parse(const char *name, enum sim_fault_kind *out);
const char *sim_fault_kind_name(enum sim_fault_kind k);
/* A spec with defaults for kind (rate 1, count -1, no action filter). */
void sim_fault_spec_init(struct sim_fault_spec *s, enum sim_fault_kind kind);
/* The --fault form: KIND[:RATE|#COUNT][@ACTION]. 0 or -EINVAL. */
int sim_fault_spec_parse(const char *text, struct sim_fault_spec *out);
/* 0, -EINVAL (rate outside (0,1], count 0, kind NONE), -ENOMEM. */
int sim_faults_add(struct sim_faults *f, const struct sim_fault_spec *s);
/* Removes every fault. */
void sim_faults_clear(struct sim_faults *f);
/* Writes one line per active fault into out (NUL-terminated, truncated
 * to n); "" when none. */
void sim_faults_describe(struct sim_faults *f, char *out, size_t n);

/* Chooses the fault for one request of action (NULL or "" when it had
 * none). False when none fires. A fault made with later fires only with
 * sim_faults_pick_page for a later page. */
bool sim_faults_pick(struct sim_faults *f, const char *action, struct sim_fault_hit *out);
/* The same for a request that may be a page of a listing: later when it
 * is one after the first (Offset > 0). */
bool sim_faults_pick_page(struct sim_faults *f, const char *action, bool later, struct sim_fault_hit *out);

/* Rate limit: rps requests per second with a burst of rps (token bucket);
 * 0 = off. sim_faults_admit() takes a token, false when throttled. now_ns
 * is a monotonic clock. */
void sim_faults_set_rps(struct sim_faults *f, unsigned long rps);
unsigned long sim_faults_rps(struct sim_faults *f);
bool sim_faults_admit(struct sim_faults *f, int64_t now_ns);

/* Latency: each reply waits latency_ms +- jitter_ms (uniform, at least 0). */
void sim_faults_set_latency(struct sim_faults *f, unsigned long latency_ms, unsigned long jitter_ms);
void sim_faults_latency(struct sim_faults *f, unsigned long *latency_ms, unsigned long *jitter_ms);
/* The delay for one reply, in ms. */
unsigned long sim_faults_delay_ms(struct sim_faults *f);

#endif
