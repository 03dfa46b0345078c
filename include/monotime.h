/* monotime.h — milliseconds of the monotonic clock, and absolute times
 * for timed waits on a condition variable (whose clock is the caller's
 * choice: CLOCK_MONOTONIC where a condattr says so, else CLOCK_REALTIME).
 * Pure: any thread.
 */
#ifndef IMGTAGFS_MONOTIME_H
#define IMGTAGFS_MONOTIME_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC now, in milliseconds. */
int64_t monotime_ms(void);
/* The time on clk ms from now (ms <= 0: now), for pthread_cond_timedwait. */
struct timespec monotime_after(clockid_t clk, int64_t ms);

#endif
