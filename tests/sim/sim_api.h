/* sim_api.h — the UHub API as uhub-sim answers it: keys, projects, the
 * gateway's checks in their order, paging, and the six actions.
 *
 * sim_api_handle() is pure request -> reply logic (no HTTP, no JSON), so the
 * unit tests drive it directly. Keys and projects are fixed once serving
 * starts; the knobs (max-limit, time style, RetCode as string) are atomics
 * that /_sim/config may change at any time. Thread-safe after set-up.
 */
#ifndef UHUB_SIM_API_H
#define UHUB_SIM_API_H

#include <stdbool.h>
#include <stddef.h>

#include "params.h"
#include "sim_registry.h"

/* The default key pair (the documented test key of UHUB-API.md) and project. */
#define SIM_TEST_PUBLIC_KEY "ucloudsomeone@example.com1296235120854146120"
#define SIM_TEST_PRIVATE_KEY "46f09bb9fab4f12dfc160dae12273d5332b5debe"
#define SIM_DEFAULT_PROJECT "org-demo"

/* Limit's and Offset's upper bound (the gateway types them int32). */
#define SIM_COUNT_MAX 2147483647UL
#define SIM_DEFAULT_LIMIT 20

enum sim_time_style {
	SIM_TIME_PLAIN,	  /* "2026-11-27 10:15:00", UTC+8 (default) */
	SIM_TIME_UNIX,	  /* "1795745700" */
	SIM_TIME_NUMBER,  /* 1795745700, a JSON number */
	SIM_TIME_RFC3339, /* "2026-11-27T02:15:00Z" */
};

enum sim_list_kind { SIM_LIST_NONE, SIM_LIST_REPOS, SIM_LIST_IMAGES, SIM_LIST_TAGS };

/* What to answer; sim_json_reply() turns it into the JSON body. */
struct sim_reply {
	int retcode;
	char action[128];  /* the request's Action + "Response" */
	char message[256]; /* "" on success */
	enum sim_list_kind kind;
	struct sim_page page; /* kind != SIM_LIST_NONE */
};

/* Frees the page. NULL-safe. */
void sim_reply_release(struct sim_reply *r);
/* Makes r an error reply for action (NULL: none) with retcode and message. */
void sim_reply_error(struct sim_reply *r, const char *action, int retcode, const char *message);

struct sim_api;

/* The API over reg (borrowed; must outlive the api). NULL on -ENOMEM. */
struct sim_api *sim_api_new(struct sim_registry *reg);
void sim_api_free(struct sim_api *a);

/* Set-up, before serving. A second pair for one public key replaces the
 * first. The first project added is every key's default. 0, -EINVAL
 * (empty), -ENOMEM. */
int sim_api_add_key(struct sim_api *a, const char *public_key, const char *private_key);
int sim_api_add_project(struct sim_api *a, const char *id);
size_t sim_api_key_count(const struct sim_api *a);
size_t sim_api_project_count(const struct sim_api *a);

/* Knobs, changeable while serving. max_limit 0 = no cap. */
void sim_api_set_max_limit(struct sim_api *a, size_t max_limit);
size_t sim_api_max_limit(const struct sim_api *a);
void sim_api_set_time_style(struct sim_api *a, enum sim_time_style s);
enum sim_time_style sim_api_time_style(const struct sim_api *a);
void sim_api_set_retcode_string(struct sim_api *a, bool on);
bool sim_api_retcode_string(const struct sim_api *a);
/* trickle: every page after the first (Offset > 0) holds at most one
 * item, as a server that shrinks its pages might. */
void sim_api_set_trickle(struct sim_api *a, bool on);
bool sim_api_trickle(const struct sim_api *a);
/* late_total > 0: every page after the first reports this TotalCount
 * (the first page tells the truth). 0 = off. */
void sim_api_set_late_total(struct sim_api *a, unsigned long long late_total);
unsigned long long sim_api_late_total(const struct sim_api *a);
/* pad_bytes > 0: each tag's Digest is pad_bytes long (sim_json.h). */
void sim_api_set_pad_bytes(struct sim_api *a, size_t pad_bytes);
size_t sim_api_pad_bytes(const struct sim_api *a);
/* "plain", "unix", "number", "rfc3339". 0 or -EINVAL. */
int sim_time_style_parse(const char *s, enum sim_time_style *out);
const char *sim_time_style_name(enum sim_time_style s);

/* True for the six actions uhub-sim implements. */
bool sim_api_known_action(const char *action);
/* True for GetRepo, GetRepoImage, GetImageTag. */
bool sim_api_list_action(const char *action);

/* Answers one decoded request (query and body merged). Checks in the
 * gateway's order: Action missing 160, unknown 161; Signature missing 170;
 * PublicKey unknown 172; signature wrong 171; a required parameter missing
 * or a parameter invalid 230; ProjectId unknown 292; repo or image unknown
 * 230. out is always filled (release it). 0, or -ENOMEM with out an
 * error reply. */
int sim_api_handle(struct sim_api *a, const struct params *p, struct sim_reply *out);

/* Paging maths, exposed for the tests. Parses a count parameter (NULL:
 * def; decimal digits only, at most SIM_COUNT_MAX). 0 or -EINVAL. */
int sim_api_parse_count(const char *s, size_t def, size_t *out);
/* The limit in effect: min(limit, max_limit) when max_limit is set. */
size_t sim_api_effective_limit(size_t limit, size_t max_limit);

#endif
