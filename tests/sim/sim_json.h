/* sim_json.h — everything JSON in uhub-sim (the simulator's only cJSON
 * user): reply bodies, JSON request bodies, the registry data file, the
 * /_sim/stats answer. Pure functions, thread-safe.
 *
 * The data file (--data FILE), strict: unknown keys are errors, except
 * keys starting with "_", which are comments.
 *   { "repos": [ {
 *       "name": "web",              required
 *       "type": "private",          or "public"; default private
 *       "description": "...", "is_shared": false, "is_outside": false,
 *       "create_time": T, "update_time": T,
 *       "images": [ {
 *         "name": "api",            may contain '/': "vllm/vllm-openai"
 *         "create_time": T, "update_time": T, "pull_count": 12,
 *         "tags": [ { "name": "v1.4.2", "digest": "sha256:...", "update_time": T } ],
 *         "generate": { "tags": 300, "prefix": "build-", "width": 4,
 *                       "start": T, "step": 3600, "seed": 1 }
 *       } ]
 *   } ] }
 * T is Unix seconds (a number or a string of digits), "YYYY-MM-DD
 * HH:MM:SS" in UTC+8, or RFC 3339. A tag without "digest" has none (the
 * reply leaves Digest out). Missing times are derived: an image's from its
 * tags, a repo's from its images, else 2026-11-01 00:00:00 UTC.
 * "generate" adds PREFIX + i (i = 1..tags, zero-padded to width, default
 * max(4, digits)) with times start + (i-1)*step (start defaults to the
 * image's update_time minus tags*step) and deterministic digests.
 */
#ifndef UHUB_SIM_JSON_H
#define UHUB_SIM_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "params.h"
#include "sim_api.h"
#include "sim_registry.h"
#include "sim_stats.h"

/* The zone of plain times, in the reply and the data file: UTC+8. */
#define SIM_TZ_OFFSET (8 * 3600L)

struct sim_json_style {
	enum sim_time_style time;
	bool retcode_string;   /* "RetCode":"171" instead of 171 */
	unsigned total_factor; /* TotalCount multiplier (liecount); 0 means 1 */
	size_t pad_bytes;      /* > 0: each tag's Digest is this long ("sha256:fff...") */
};

/* Appends the reply body for r to out. 0, -EFBIG, -ENOMEM. */
int sim_json_reply(const struct sim_reply *r, const struct sim_json_style *st, struct buf *out);
/* Appends a flat JSON object's members to p: strings as they are, numbers
 * in decimal, booleans as true/false, nulls skipped. 0, -EINVAL (not an
 * object, a nested value, bad JSON), -ENOMEM. */
int sim_json_body_params(const char *body, size_t n, struct params *p);
/* Loads a data file's text into r (then settles it). On -EINVAL err gets
 * a message naming the place ("repos[1].images[0]: name must be a
 * string"). 0, -EINVAL, -EEXIST (duplicate name, also in err), -ENOMEM. */
int sim_json_load(struct sim_registry *r, const char *text, size_t n, char *err, size_t errlen);
/* The same from a file; also -errno of open/read, -EFBIG over 256 MiB. */
int sim_json_load_file(struct sim_registry *r, const char *path, char *err, size_t errlen);
/* The registry d as a data file that --data loads back: every repo, image
 * and tag with its times (Unix seconds) and digest, and "_changes" (a
 * comment key to the loader): d->changes. 0, -EFBIG, -ENOMEM. */
int sim_json_state(const struct sim_dump *d, struct buf *out);
/* {"GetImageTag":12,"GetRepo":1} */
int sim_json_stats(const struct sim_stat_row *rows, size_t n, struct buf *out);

#endif
