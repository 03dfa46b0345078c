/* redis_srv.c — the shared tier's test servers (redis_srv.h): a real
 * redis-server started, waited for and always killed, and two fakes on
 * unix sockets (hung, garbage).
 *
 * The servers alive are also kept in a table for the atexit handler: a
 * test binary that exits from a failing test must not leave a
 * redis-server behind. That table is the one mutable global here; it is
 * the main thread's (setup and teardown), like fork.
 */
#include "redis_srv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monotime.h"

#define LIVE_MAX 16
#define READY_MS 30000 /* a loaded machine may take a while to start it */
#define FAKE_CLIENTS 32

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* ---- paths ----------------------------------------------------------------- */

static bool find_server(char *out, size_t n)
{
	const char *path = getenv("PATH");
	const char *p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";

	while (*p) {
		size_t len = strcspn(p, ":");

		if (len && snprintf(out, n, "%.*s/redis-server", (int)len, p) < (int)n && access(out, X_OK) == 0)
			return true;
		p += len + (p[len] == ':');
	}
	return false;
}

bool redis_srv_available(void)
{
	char exe[512];

	return find_server(exe, sizeof(exe));
}

int redis_srv_tmpdir(char *dir, size_t n)
{
	if (snprintf(dir, n, "/tmp/itfs-ut-XXXXXX") >= (int)n)
		return -ENAMETOOLONG;
	return mkdtemp(dir) ? 0 : -errno;
}

/* Removes dir and the files in it (sockets, the log, no subdirectory). */
static void remove_dir(char *dir)
{
	DIR *d;
	struct dirent *e;
	char p[256];

	if (!dir[0])
		return;
	d = opendir(dir);
	while (d && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) < (int)sizeof(p))
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	dir[0] = '\0';
}

/* ---- the table for atexit --------------------------------------------------- */

/* Copies, not pointers: a struct redis_srv may be on a stack long gone
 * by the time the handler runs. */
struct live {
	pid_t pid;
	char dir[64];
};

static struct live live[LIVE_MAX];
static bool atexit_set;

static void kill_all(void)
{
	for (int i = 0; i < LIVE_MAX; i++) {
		if (live[i].pid > 0) {
			kill(live[i].pid, SIGKILL);
			waitpid(live[i].pid, NULL, 0);
		}
		remove_dir(live[i].dir);
		live[i].pid = 0;
	}
}

/* dir's entry, made when missing (NULL when the table is full). */
static struct live *entry(const char *dir, bool make)
{
	struct live *free_slot = NULL;

	if (!atexit_set) {
		atexit(kill_all);
		atexit_set = true;
	}
	for (int i = 0; i < LIVE_MAX; i++) {
		if (live[i].dir[0] && strcmp(live[i].dir, dir) == 0)
			return &live[i];
		if (!live[i].dir[0] && !free_slot)
			free_slot = &live[i];
	}
	if (!make || !free_slot)
		return NULL;
	snprintf(free_slot->dir, sizeof(free_slot->dir), "%s", dir);
	return free_slot;
}

/* ---- redis-server ---------------------------------------------------------- */

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Does the server answer a PING (with PONG, or NOAUTH: it is up)? */
static bool answers(const char *path)
{
	int fd = unix_connect(path);
	struct pollfd p = {.events = POLLIN};
	char c = 0;
	bool ok;

	if (fd < 0)
		return false;
	p.fd = fd;
	ok = write(fd, "PING\r\n", 6) == 6 && poll(&p, 1, 500) == 1 && read(fd, &c, 1) == 1 && (c == '+' || c == '-');
	close(fd);
	return ok;
}

static void print_log(const struct redis_srv *r)
{
	char p[256], line[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/redis.log", r->dir);
	f = fopen(p, "r");
	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "redis-server: %s", line);
	if (f)
		fclose(f);
}

/* fork and exec, with only async-signal-safe calls in the child. */
static pid_t spawn(const char *exe, char *const argv[], const char *logpath)
{
	pid_t parent = getpid(), pid = fork();
	int out, in;

	if (pid != 0)
		return pid;
	/* Killed with the test binary, however it ends. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	out = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
	in = open("/dev/null", O_RDONLY);
	if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(127);
	execv(exe, argv);
	_exit(127);
}

static int launch(struct redis_srv *r)
{
	char exe[512], logpath[256];
	const char *argv[64] = {"redis-server", "--port",      "0",  "--unixsocket", r->sock,  "--unixsocketperm",
				"700",		"--save",      "",   "--appendonly", "no",     "--dir",
				r->dir,		"--daemonize", "no", "--loglevel",   "warning"};
	int argc = 17, status;
	int64_t until = monotime_ms() + READY_MS;
	struct live *e;

	if (!find_server(exe, sizeof(exe)))
		return -ENOENT;
	for (int i = 0; r->extra[i]; i++)
		argv[argc++] = r->extra[i];
	argv[argc] = NULL;
	snprintf(logpath, sizeof(logpath), "%s/redis.log", r->dir);
	unlink(r->sock);
	r->pid = spawn(exe, (char *const *)argv, logpath);
	if (r->pid < 0) {
		r->pid = 0;
		return -errno;
	}
	if (!(e = entry(r->dir, true))) {
		redis_srv_kill(r);
		return -ENOSPC;
	}
	e->pid = r->pid;
	while (!answers(r->sock)) {
		bool gone = waitpid(r->pid, &status, WNOHANG) == r->pid;

		if (gone || monotime_ms() > until) {
			fprintf(stderr, "redis-server on %s did not start\n", r->sock);
			print_log(r);
			if (gone) /* reaped: its pid is no longer ours to kill */
				r->pid = e->pid = 0;
			redis_srv_kill(r);
			return -EIO;
		}
		sleep_ms(5);
	}
	return 0;
}

int redis_srv_start(struct redis_srv *r, const char *const *extra)
{
	int err, i = 0;

	memset(r, 0, sizeof(*r));
	for (; extra && extra[i] && i < REDIS_SRV_ARGS; i++)
		r->extra[i] = extra[i];
	if (extra && extra[i])
		return -E2BIG;
	if ((err = redis_srv_tmpdir(r->dir, sizeof(r->dir))) != 0)
		return err;
	snprintf(r->sock, sizeof(r->sock), "%s/r.sock", r->dir);
	err = launch(r);
	if (err)
		redis_srv_stop(r);
	return err;
}

void redis_srv_kill(struct redis_srv *r)
{
	struct live *e;

	if (!r || r->pid <= 0)
		return;
	kill(r->pid, SIGKILL);
	while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
		;
	r->pid = 0;
	if ((e = entry(r->dir, false)) != NULL)
		e->pid = 0;
}

int redis_srv_restart(struct redis_srv *r)
{
	redis_srv_kill(r);
	return launch(r);
}

void redis_srv_pause(struct redis_srv *r, bool paused)
{
	if (r->pid > 0)
		kill(r->pid, paused ? SIGSTOP : SIGCONT);
}

void redis_srv_stop(struct redis_srv *r)
{
	struct live *e;

	if (!r)
		return;
	redis_srv_kill(r);
	if (r->dir[0] && (e = entry(r->dir, false)) != NULL)
		e->dir[0] = '\0';
	remove_dir(r->dir);
}

int redis_srv_group_setup(void **state)
{
	struct redis_srv_group *g = calloc(1, sizeof(*g));

	if (!g || redis_srv_start(&g->redis, NULL) != 0) {
		free(g);
		return -1;
	}
	*state = g;
	return 0;
}

int redis_srv_group_teardown(void **state)
{
	struct redis_srv_group *g = *state;

	redis_srv_stop(&g->redis);
	free(g);
	return 0;
}

/* ---- the fakes ---------------------------------------------------------------- */

static int fake_listen(struct fake_srv *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int err;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if ((err = redis_srv_tmpdir(f->dir, sizeof(f->dir))) != 0)
		return err;
	snprintf(f->sock, sizeof(f->sock), "%s/fake.sock", f->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
	f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(f->fd, 128) != 0) {
		err = -errno;
		fake_srv_stop(f);
		return err;
	}
	return 0;
}

int fake_srv_hung(struct fake_srv *f)
{
	return fake_listen(f);
}

/* Drops one client's bytes; false when it is gone. */
static bool drain(int fd)
{
	char b[4096];
	ssize_t n = read(fd, b, sizeof(b));

	return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

static void *garbage_main(void *arg)
{
	struct fake_srv *f = arg;
	struct pollfd p[1 + FAKE_CLIENTS];
	int n = 0;

	p[0] = (struct pollfd){.fd = f->fd, .events = POLLIN};
	while (!atomic_load(&f->stop)) {
		if (poll(p, (nfds_t)(1 + n), 20) <= 0)
			continue;
		for (int i = 1; i <= n; i++) {
			if (p[i].revents && !drain(p[i].fd)) {
				close(p[i].fd);
				p[i--] = p[n--];
			}
		}
		if (p[0].revents & POLLIN) {
			int c = accept4(f->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (c < 0)
				continue;
			atomic_fetch_add(&f->accepted, 1);
			if (write(c, f->reply, strlen(f->reply)) < 0 || n == FAKE_CLIENTS) {
				close(c);
				continue;
			}
			p[++n] = (struct pollfd){.fd = c, .events = POLLIN};
		}
	}
	for (int i = 1; i <= n; i++)
		close(p[i].fd);
	return NULL;
}

int fake_srv_garbage(struct fake_srv *f, const char *reply)
{
	int err = fake_listen(f);

	if (err)
		return err;
	f->reply = reply;
	if ((err = -pthread_create(&f->thread, NULL, garbage_main, f)) != 0) {
		fake_srv_stop(f);
		return err;
	}
	f->threaded = true;
	return 0;
}

void fake_srv_stop(struct fake_srv *f)
{
	if (!f->dir[0])
		return; /* never started, or stopped already */
	if (f->threaded) {
		atomic_store(&f->stop, true);
		pthread_join(f->thread, NULL);
		f->threaded = false;
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	remove_dir(f->dir);
}
