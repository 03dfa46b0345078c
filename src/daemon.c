/* daemon.c — the mount's lifetime and its signals.
 *
 * libfuse's low-level session steps, spelled out so that SIGHUP can mean
 * "flush" instead of "exit": parse libfuse's options, create the session,
 * install libfuse's handlers for SIGINT/SIGTERM, mount, detach, then start
 * one thread that waits for SIGHUP and SIGUSR1 (blocked in every other
 * thread) and serve with the multi-threaded loop. The signal thread is
 * told to end by a flag and one last SIGUSR1 of our own, so no signal an
 * operator might send is taken for "stop". The signal thread is
 * started after detaching because fork() keeps only the calling thread.
 */
#include "daemon.h"

#include <errno.h>
#include <limits.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct sigctx {
	struct imgtagfs *fs;
	struct log *log;
	sigset_t set;
	atomic_bool ending;	/* set before the last SIGUSR1 we send ourselves */
};

/* Waits for SIGHUP / SIGUSR1 until told the daemon is ending. */
static void *signal_thread(void *arg)
{
	struct sigctx *s = arg;
	int sig;

	for (;;) {
		if (sigwait(&s->set, &sig) != 0)
			continue;
		if (atomic_load(&s->ending))
			break;
		if (sig == SIGHUP) {
			/* Said once done: the line is when the next access asks
			 * the API (what scripts and tests wait for). */
			fs_flush(s->fs);
			log_msg(s->log, LOG_NOTICE, "SIGHUP: dropped every cached listing");
		} else if (sig == SIGUSR1) {
			bool on = !log_debug_enabled(s->log);

			log_set_debug(s->log, on);
			log_msg(s->log, LOG_NOTICE, "SIGUSR1: debug logging %s", on ? "on" : "off");
		}
	}
	return NULL;
}

/* Serves se until it is unmounted or told to exit. */
static int serve(struct fuse_session *se, const struct fuse_cmdline_opts *o)
{
	struct fuse_loop_config *lc;
	int rc;

	if (o->singlethread)
		return fuse_session_loop(se);
	lc = fuse_loop_cfg_create();
	if (!lc)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(lc, (unsigned int)o->clone_fd);
	if (o->max_idle_threads != UINT_MAX) /* UINT_MAX: not given */
		fuse_loop_cfg_set_idle_threads(lc, o->max_idle_threads);
	fuse_loop_cfg_set_max_threads(lc, o->max_threads);
	rc = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	return rc;
}

/* Mounts, detaches, serves with the signal thread and the FUSE layer's
 * own thread running. */
static int run_mounted(struct fuse_session *se, struct fuse_cmdline_opts *o, struct sigctx *s)
{
	pthread_t tid;
	int err, rc;

	if (fuse_session_mount(se, o->mountpoint) != 0)
		return -EIO;
	/* From here on stderr is /dev/null unless in the foreground. */
	if (!o->foreground)
		log_use_syslog(s->log, true);
	if (fuse_daemonize(o->foreground) != 0) {
		fuse_session_unmount(se);
		return -EIO;
	}
	if ((err = fs_attach(s->fs, se, o->singlethread)) != 0) {
		log_msg(s->log, LOG_ERR, "cannot start the FUSE layer's thread: %s", strerror(-err));
		fuse_session_unmount(se);
		return err;
	}
	err = pthread_create(&tid, NULL, signal_thread, s);
	if (err)
		log_msg(s->log, LOG_WARNING, "no signal thread (%d): SIGHUP and SIGUSR1 are ignored", err);
	rc = serve(se, o);
	if (!err) {
		atomic_store(&s->ending, true);
		pthread_kill(tid, SIGUSR1);
		pthread_join(tid, NULL);
	}
	fs_detach(s->fs);
	fuse_session_unmount(se);
	return rc < 0 ? rc : 0; /* > 0: ended by a signal, a clean end */
}

int daemon_run(struct fuse_args *args, struct imgtagfs *fs, struct log *log)
{
	struct fuse_cmdline_opts o = {0};
	struct sigctx s = {.fs = fs, .log = log};
	struct fuse_session *se;
	int rc = -EINVAL;

	if (fuse_parse_cmdline(args, &o) != 0)
		goto out; /* libfuse said why */
	if (!o.mountpoint) {
		log_msg(log, LOG_ERR, "no mountpoint given");
		goto out;
	}
	/* uid=, gid= and umask= must hold for other users too (allow_other):
	 * let the kernel check the modes we report. */
	if (fuse_opt_add_arg(args, "-odefault_permissions") != 0)
		goto out;
	/* Blocked here, so every thread libfuse starts inherits the mask. */
	sigemptyset(&s.set);
	sigaddset(&s.set, SIGHUP);
	sigaddset(&s.set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &s.set, NULL);
	se = fuse_session_new(args, fs_operations(), sizeof(struct fuse_lowlevel_ops), fs);
	if (!se)
		goto out;
	rc = -EIO;
	if (fuse_set_signal_handlers(se) == 0) {
		rc = run_mounted(se, &o, &s);
		fuse_remove_signal_handlers(se);
	}
	fuse_session_destroy(se);
out:
	free(o.mountpoint);
	return rc;
}
