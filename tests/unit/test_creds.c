/* test_creds.c — finding the keys: each source and the order between
 * them, both file formats, the permission and owner checks (a link
 * followed one step, if ours; a FIFO or a device never opened), the size
 * cap, the vendor's profile rules, the messages (naming the file, listing
 * where it looked) and that no message ever holds the private key; the
 * shared tier's secret files under the same rules. Files live in a fresh
 * directory under /tmp; the environment is a table handed to creds_load,
 * not the process's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "creds.h"
#include "monotime.h"

#define PUB "ucloudsomeone@example.com1296235120854146120"
#define PRIV "46f09bb9fab4f12dfc160dae12273d5332b5debe"
#define PRIV2 "0123456789abcdef0123456789abcdef01234567"
#define WAIT_MS 30000 /* the longest wait for a child to block */

struct env {
	const char *name[8];
	const char *value[8];
	int n;
};

static const char *env_get(void *arg, const char *name)
{
	const struct env *e = arg;

	for (int i = 0; i < e->n; i++)
		if (!strcmp(e->name[i], name))
			return e->value[i];
	return NULL;
}

static void env_set(struct env *e, const char *name, const char *value)
{
	assert_true(e->n < 8);
	e->name[e->n] = name;
	e->value[e->n++] = value;
}

struct fixture {
	char dir[64];
	char path[256]; /* the last file written */
	struct env env;
	struct creds_query q;
	struct creds c;
	char err[1024];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_creds.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->q.getenv = env_get;
	f->q.getenv_arg = &f->env;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	creds_release(&f->c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Writes dir/name with the given mode; returns its path (in f->path). */
static const char *put(struct fixture *f, const char *name, const char *text, mode_t mode)
{
	int fd;

	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	if (strchr(name, '/')) { /* one level of directory, e.g. .ucloud/ */
		char sub[256];

		snprintf(sub, sizeof(sub), "%s/%.*s", f->dir, (int)(strchr(name, '/') - name), name);
		mkdir(sub, 0700);
	}
	unlink(f->path);
	fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(f->path, mode), 0);
	return f->path;
}

static int load(struct fixture *f)
{
	int rc;

	creds_release(&f->c);
	memset(f->err, 0, sizeof(f->err));
	rc = creds_load(&f->q, &f->c, f->err, sizeof(f->err));
	/* Whatever happened, no key is ever in a message. */
	assert_null(strstr(f->err, PRIV));
	assert_null(strstr(f->err, PRIV2));
	if (rc) {
		assert_null(f->c.public_key);
		assert_null(f->c.private_key);
		assert_true(f->err[0] != '\0');
		assert_null(strchr(f->err, '\n'));
	}
	return rc;
}

static void expect_keys(struct fixture *f, const char *pub, const char *priv)
{
	assert_int_equal(load(f), 0);
	assert_string_equal(f->c.public_key, pub);
	assert_string_equal(f->c.private_key, priv);
}

static void test_simple_file(void **state)
{
	struct fixture *f = *state;

	f->q.file = put(f, "keys",
			"# imgtagfs keys\n"
			"\n"
			"  public_key = " PUB "  \r\n"
			"\tprivate_key=\"" PRIV "\"\n"
			"   # project_id=org-commented\n"
			"project_id=org-abc123\n",
			0600);
	expect_keys(f, PUB, PRIV);
	assert_string_equal(f->c.project, "org-abc123");
	assert_null(f->c.base_url);
	assert_string_equal(f->c.origin, f->path);
	assert_string_equal(f->err, "");

	/* No trailing newline, no project, a later line wins, 0400 is fine. */
	f->q.file = put(f, "keys2", "private_key=x\npublic_key='" PUB "'\nprivate_key=" PRIV, 0400);
	expect_keys(f, PUB, PRIV);
	assert_null(f->c.project);
}

static void test_simple_file_errors(void **state)
{
	struct fixture *f = *state;
	char msg[1024];

	f->q.file = put(f, "k", "public_key=" PUB "\nprivate_key " PRIV "\n", 0600);
	assert_int_equal(load(f), -EBADMSG);
	snprintf(msg, sizeof(msg),
		 "imgtagfs: credentials file %s, line 2: expected public_key=, private_key= or project_id=", f->path);
	assert_string_equal(f->err, msg);

	/* A mangled key: the message must not quote it (it holds the key). */
	f->q.file = put(f, "k", "public_key=" PUB "\nprivate_key: " PRIV "=\n", 0600);
	assert_int_equal(load(f), -EBADMSG);
	snprintf(msg, sizeof(msg),
		 "imgtagfs: credentials file %s, line 2: unknown key (expected public_key, private_key or project_id)",
		 f->path);
	assert_string_equal(f->err, msg);

	f->q.file = put(f, "k", "public_key=" PUB "\n", 0600);
	assert_int_equal(load(f), -EBADMSG);
	snprintf(msg, sizeof(msg), "imgtagfs: credentials file %s has no private_key= line", f->path);
	assert_string_equal(f->err, msg);

	f->q.file = put(f, "k", "# nothing\n\n", 0600);
	assert_int_equal(load(f), -EBADMSG);
	snprintf(msg, sizeof(msg), "imgtagfs: credentials file %s has no public_key= line", f->path);
	assert_string_equal(f->err, msg);

	f->q.file = put(f, "k", "public_key=\nprivate_key=" PRIV "\n", 0600);
	assert_int_equal(load(f), -EBADMSG);
	snprintf(msg, sizeof(msg), "imgtagfs: credentials file %s, line 1: public_key is empty", f->path);
	assert_string_equal(f->err, msg);
}

static void check_refused_mode(struct fixture *f, mode_t mode, const char *how)
{
	char msg[1024];

	f->q.file = put(f, "k", "public_key=" PUB "\nprivate_key=" PRIV "\n", mode);
	assert_int_equal(load(f), -EACCES);
	snprintf(msg, sizeof(msg),
		 "imgtagfs: credentials file %s is %s by group or others (mode %04o); run: chmod 600 %s", f->path, how,
		 (unsigned)mode, f->path);
	assert_string_equal(f->err, msg);
}

static void test_permissions(void **state)
{
	struct fixture *f = *state;

	check_refused_mode(f, 0644, "readable");
	check_refused_mode(f, 0640, "readable");
	check_refused_mode(f, 0604, "readable");
	check_refused_mode(f, 0620, "writable");
	check_refused_mode(f, 0602, "writable");
	f->q.file = put(f, "k", "public_key=" PUB "\nprivate_key=" PRIV "\n", 0600);
	expect_keys(f, PUB, PRIV);
}

/* A symlink is followed, and the file it leads to is what is checked. */
static void test_symlink(void **state)
{
	struct fixture *f = *state;
	char target[256], link[256], msg[1024];

	snprintf(target, sizeof(target), "%s", put(f, "real", "public_key=" PUB "\nprivate_key=" PRIV "\n", 0600));
	snprintf(link, sizeof(link), "%s/link", f->dir);
	assert_int_equal(symlink(target, link), 0);
	f->q.file = link;
	expect_keys(f, PUB, PRIV);
	assert_string_equal(f->c.origin, link);

	assert_int_equal(chmod(target, 0644), 0);
	assert_int_equal(load(f), -EACCES);
	snprintf(msg, sizeof(msg),
		 "imgtagfs: credentials file %s is readable by group or others (mode 0644); run: chmod 600 %s", link,
		 link);
	assert_string_equal(f->err, msg);
}

static void test_not_regular(void **state)
{
	struct fixture *f = *state;
	char path[256], msg[1024];

	snprintf(path, sizeof(path), "%s/adir", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	f->q.file = path;
	assert_int_equal(load(f), -EBADMSG);
	snprintf(msg, sizeof(msg), "imgtagfs: credentials file %s is not a regular file", path);
	assert_string_equal(f->err, msg);

	/* A FIFO neither hangs the open nor is read. */
	snprintf(path, sizeof(path), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(load(f), -EBADMSG);
	snprintf(msg, sizeof(msg), "imgtagfs: credentials file %s is not a regular file", path);
	assert_string_equal(f->err, msg);
}

/* A child blocked opening fifo for writing: it wakes (and writes a byte to
 * the pipe *ready) only if some process opens the FIFO for reading, even
 * O_NONBLOCK and even for an instant. Returns once the child is inside
 * open(2), so no later open can be missed. */
static pid_t blocked_writer(const char *fifo, int *ready)
{
	char path[64], text[64] = "";
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (open(fifo, O_WRONLY) >= 0)
			(void)!write(p[1], "o", 1);
		_exit(0);
	}
	close(p[1]);
	*ready = p[0];
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (int64_t t0 = monotime_ms(); monotime_ms() - t0 < WAIT_MS;) {
		FILE *fp = fopen(path, "r");
		long nr = -1;

		if (fp) {
			if (fgets(text, sizeof(text), fp))
				nr = strtol(text, NULL, 10);
			fclose(fp);
		}
		if (nr == SYS_openat || nr == SYS_open)
			return pid;
		if (!fp) {
			usleep(100 * 1000); /* no /proc/PID/syscall here: give it time */
			return pid;
		}
		usleep(1000);
	}
	fail_msg("the writer never reached open(2): %s", text);
	return pid;
}

/* True when the writer woke: the FIFO was opened for reading. Correct code
 * never writes the byte, so this wait cannot make a correct run fail. */
static bool writer_woke(pid_t pid, int ready)
{
	struct pollfd pfd = {.fd = ready, .events = POLLIN};
	bool woke = poll(&pfd, 1, 300) == 1 && (pfd.revents & POLLIN);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(ready);
	return woke;
}

/* A FIFO at the path, named or behind a link: refused without being opened
 * (opening one wakes whoever waits on it: a side effect we must not have). */
static void test_fifo_not_opened(void **state)
{
	struct fixture *f = *state;
	char fifo[256], link[256], msg[1024];
	int ready;
	pid_t pid;

	snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	f->q.file = fifo;
	pid = blocked_writer(fifo, &ready);
	assert_int_equal(load(f), -EBADMSG);
	snprintf(msg, sizeof(msg), "imgtagfs: credentials file %s is not a regular file", fifo);
	assert_string_equal(f->err, msg);
	assert_false(writer_woke(pid, ready));

	snprintf(link, sizeof(link), "%s/to-fifo", f->dir);
	assert_int_equal(symlink("fifo", link), 0);
	f->q.file = link;
	pid = blocked_writer(fifo, &ready);
	assert_int_equal(load(f), -EBADMSG);
	snprintf(msg, sizeof(msg), "imgtagfs: credentials file %s is not a regular file", link);
	assert_string_equal(f->err, msg);
	assert_false(writer_woke(pid, ready));
}

/* A device is refused before it is opened: named, or behind a link. */
static void test_device(void **state)
{
	struct fixture *f = *state;
	char link[256];

	f->q.file = "/dev/null";
	assert_int_equal(load(f), -EBADMSG);
	assert_string_equal(f->err, "imgtagfs: credentials file /dev/null is not a regular file");
	snprintf(link, sizeof(link), "%s/to-null", f->dir);
	assert_int_equal(symlink("/dev/null", link), 0);
	f->q.file = link;
	assert_int_equal(load(f), -EBADMSG);
	assert_non_null(strstr(f->err, "is not a regular file"));
}

/* A link is followed one step, from its own directory when relative (not
 * from the working directory); a link to a link, or to nothing, is not. */
static void test_symlink_rules(void **state)
{
	struct fixture *f = *state;
	char link[256], link2[256], msg[1024];

	put(f, "real", "public_key=" PUB "\nprivate_key=" PRIV "\n", 0600);
	snprintf(link, sizeof(link), "%s/rel", f->dir);
	assert_int_equal(symlink("real", link), 0);
	assert_int_equal(chdir("/"), 0);
	f->q.file = link;
	expect_keys(f, PUB, PRIV);

	snprintf(link2, sizeof(link2), "%s/rel2", f->dir);
	assert_int_equal(symlink("rel", link2), 0);
	f->q.file = link2;
	assert_int_equal(load(f), -EBADMSG);
	snprintf(
	    msg, sizeof(msg),
	    "imgtagfs: credentials file %s is a symbolic link to another symbolic link (rel); name the file itself",
	    link2);
	assert_string_equal(f->err, msg);

	snprintf(link, sizeof(link), "%s/dangling", f->dir);
	assert_int_equal(symlink("nowhere", link), 0);
	f->q.file = link;
	assert_int_equal(load(f), -ENOENT);
	snprintf(msg, sizeof(msg), "imgtagfs: credentials file %s: No such file or directory", link);
	assert_string_equal(f->err, msg);
}

/* A link someone else made is not followed, even to a good file. */
static void test_symlink_owner(void **state)
{
	struct fixture *f = *state;
	char target[256], link[256], msg[1024];

	if (geteuid() != 0) {
		skip(); /* only root can give a link away */
		return;
	}
	snprintf(target, sizeof(target), "%s", put(f, "real", "public_key=" PUB "\nprivate_key=" PRIV "\n", 0600));
	snprintf(link, sizeof(link), "%s/theirs", f->dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(lchown(link, 12345, 12345), 0);
	f->q.file = link;
	assert_int_equal(load(f), -EACCES);
	snprintf(msg, sizeof(msg),
		 "imgtagfs: credentials file %s is a symbolic link owned by uid 12345, which is neither root nor you "
		 "(uid 0)",
		 link);
	assert_string_equal(f->err, msg);
}

/* Every directory on the way to the file is judged (as sshd's
 * StrictModes): one that group or others may write is refused, with the
 * directory named, since they could put another file (or a link of
 * theirs) in the place of a good one. */
static void test_dirs_writable(void **state)
{
	struct fixture *f = *state;
	char sub[256], msg[1024];

	snprintf(sub, sizeof(sub), "%s/open", f->dir);
	f->q.file = put(f, "open/k", "public_key=" PUB "\nprivate_key=" PRIV "\n", 0600);
	expect_keys(f, PUB, PRIV);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(chmod(sub, i ? 0777 : 0770), 0);
		assert_int_equal(load(f), -EACCES);
		snprintf(msg, sizeof(msg),
			 "imgtagfs: credentials file %s: directory %s is writable by group or others (mode %s): "
			 "they could put another file in its place; run: chmod go-w %s",
			 f->path, sub, i ? "0777" : "0770", sub);
		assert_string_equal(f->err, msg);
	}
	/* Higher up too: the fixture's own directory. */
	assert_int_equal(chmod(sub, 0700), 0);
	assert_int_equal(chmod(f->dir, 0757), 0);
	assert_int_equal(load(f), -EACCES);
	assert_non_null(strstr(f->err, "directory "));
	assert_non_null(strstr(f->err, "(mode 0757)"));
	assert_int_equal(chmod(f->dir, 0700), 0);
	/* Through a relative path from the working directory. */
	assert_int_equal(chdir(sub), 0);
	f->q.file = "k";
	expect_keys(f, PUB, PRIV);
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(load(f), -EACCES);
	assert_non_null(strstr(f->err, "(mode 0777)"));
	assert_int_equal(chdir("/"), 0);
	/* The shared tier's secret files, under the same rule. */
	{
		char *out = NULL;
		size_t len = 0;

		assert_int_equal(creds_read_secret("shared_cache_auth", f->path, &out, &len, msg, sizeof(msg)),
				 -EACCES);
		assert_non_null(strstr(msg, "shared_cache_auth file"));
		assert_null(out);
	}
}

/* A link on the way (not the file's own) is followed as the kernel
 * does, and the directories it leads through are judged; so are those a
 * last-step link leads to. A sticky directory others may write (/tmp) is
 * passed when the entry taken from it is root's or ours. */
static void test_dirs_links(void **state)
{
	struct fixture *f = *state;
	char open[256], via[256], link[256], msg[1024];

	snprintf(open, sizeof(open), "%s/open", f->dir);
	put(f, "open/k", "public_key=" PUB "\nprivate_key=" PRIV "\n", 0600);
	snprintf(via, sizeof(via), "%s/via", f->dir);
	assert_int_equal(symlink("open", via), 0);
	snprintf(link, sizeof(link), "%s/via/k", f->dir);
	f->q.file = link;
	expect_keys(f, PUB, PRIV);
	assert_int_equal(chmod(open, 0777), 0);
	assert_int_equal(load(f), -EACCES);
	snprintf(msg, sizeof(msg), "directory %s is writable", open);
	assert_non_null(strstr(f->err, msg));
	/* The file itself a link into that directory. */
	snprintf(link, sizeof(link), "%s/direct", f->dir);
	assert_int_equal(symlink("open/k", link), 0);
	f->q.file = link;
	assert_int_equal(load(f), -EACCES);
	assert_non_null(strstr(f->err, msg));
	/* Sticky: passed, as /tmp is for the fixture itself. */
	assert_int_equal(chmod(open, 01777), 0);
	expect_keys(f, PUB, PRIV);
	f->q.file = "/tmp/../tmp/./nonexistent/../x";
	assert_int_equal(load(f), -ENOENT);
}

/* In a sticky directory others may write, an entry of theirs is refused
 * (they could remove it and put anything there). */
static void test_dirs_sticky_theirs(void **state)
{
	struct fixture *f = *state;
	char open[256], sub[200];

	if (geteuid() != 0) {
		skip(); /* only root can give a directory away */
		return;
	}
	snprintf(open, sizeof(open), "%s/open", f->dir);
	put(f, "open/sub", "", 0600);
	assert_int_equal(unlink(f->path), 0);
	snprintf(sub, sizeof(sub), "%s/open/sub", f->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(f->path, sizeof(f->path), "%s/k", sub);
	{
		FILE *k = fopen(f->path, "w");

		assert_non_null(k);
		fputs("public_key=" PUB "\nprivate_key=" PRIV "\n", k);
		fclose(k);
	}
	assert_int_equal(chmod(f->path, 0600), 0);
	assert_int_equal(chmod(open, 01777), 0);
	f->q.file = f->path;
	expect_keys(f, PUB, PRIV);
	assert_int_equal(chown(sub, 12345, 12345), 0);
	assert_int_equal(load(f), -EACCES);
	assert_non_null(strstr(f->err, "is owned by uid 12345"));
}

static void test_owner(void **state)
{
	struct fixture *f = *state;
	char msg[1024];

	if (geteuid() != 0) {
		skip(); /* only root can give a file away */
		return;
	}
	f->q.file = put(f, "k", "public_key=" PUB "\nprivate_key=" PRIV "\n", 0600);
	assert_int_equal(chown(f->path, 12345, 0), 0);
	assert_int_equal(load(f), -EACCES);
	snprintf(msg, sizeof(msg),
		 "imgtagfs: credentials file %s is owned by uid 12345, which is neither root nor you (uid 0)", f->path);
	assert_string_equal(f->err, msg);
}

static void test_missing_file(void **state)
{
	struct fixture *f = *state;
	char path[256], msg[1024];

	snprintf(path, sizeof(path), "%s/nope", f->dir);
	f->q.file = path;
	/* A named file that is missing is an error, even with keys in env. */
	env_set(&f->env, "UCLOUD_PUBLIC_KEY", PUB);
	env_set(&f->env, "UCLOUD_PRIVATE_KEY", PRIV);
	assert_int_equal(load(f), -ENOENT);
	snprintf(msg, sizeof(msg), "imgtagfs: credentials file %s: No such file or directory", path);
	assert_string_equal(f->err, msg);
}

static void test_size_cap(void **state)
{
	struct fixture *f = *state;
	static char text[64 * 1024 + 2];
	const char *keys = "public_key=" PUB "\nprivate_key=" PRIV "\n";
	size_t n = strlen(keys);
	char msg[1024];

	/* Exactly 64 KiB: keys, then a comment to fill. */
	memcpy(text, keys, n);
	memset(text + n, ' ', sizeof(text) - n);
	text[n] = '#';
	text[64 * 1024 - 1] = '\n';
	text[64 * 1024] = '\0';
	f->q.file = put(f, "big", text, 0600);
	expect_keys(f, PUB, PRIV);

	text[64 * 1024] = '\n';
	text[64 * 1024 + 1] = '\0';
	f->q.file = put(f, "big", text, 0600);
	assert_int_equal(load(f), -EBADMSG);
	snprintf(msg, sizeof(msg), "imgtagfs: credentials file %s is larger than 64 KiB", f->path);
	assert_string_equal(f->err, msg);
}

#define CRED_JSON                                                                                                      \
	"[{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\", \"profile\": \"default\"},"                     \
	" {\"public_key\": \"pub2\", \"private_key\": \"" PRIV2 "\", \"profile\": \"work\"}]"

static void test_json_file(void **state)
{
	struct fixture *f = *state;
	char msg[1024];

	f->q.file = put(f, "cred.json", "\n  " CRED_JSON "\n", 0600);
	expect_keys(f, PUB, PRIV);
	assert_null(f->c.project);
	f->q.profile = "work";
	expect_keys(f, "pub2", PRIV2);

	/* UCLOUD_PROFILE when -o profile= is not given. */
	f->q.profile = NULL;
	env_set(&f->env, "UCLOUD_PROFILE", "work");
	expect_keys(f, "pub2", PRIV2);

	f->q.profile = "nope";
	assert_int_equal(load(f), -ENOENT);
	snprintf(msg, sizeof(msg), "imgtagfs: credentials file %s has no profile \"nope\"", f->path);
	assert_string_equal(f->err, msg);

	f->q.file = put(f, "bad.json", "[{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"", 0600);
	assert_int_equal(load(f), -EBADMSG);
	assert_non_null(strstr(f->err, "is neither key=value lines nor the vendor's JSON"));

	f->q.file = put(f, "bad.json", "[{\"public_key\": \"" PUB "\"}]", 0644);
	assert_int_equal(load(f), -EACCES);
}

static void test_env(void **state)
{
	struct fixture *f = *state;

	env_set(&f->env, "UCLOUD_PUBLIC_KEY", PUB);
	env_set(&f->env, "UCLOUD_PRIVATE_KEY", PRIV);
	expect_keys(f, PUB, PRIV);
	assert_string_equal(f->c.origin, "environment (UCLOUD_PUBLIC_KEY, UCLOUD_PRIVATE_KEY)");
	assert_null(f->c.project);

	/* -o credentials= comes first. */
	f->q.file = put(f, "k", "public_key=filepub\nprivate_key=" PRIV2 "\n", 0600);
	expect_keys(f, "filepub", PRIV2);
}

static void test_env_half_set(void **state)
{
	struct fixture *f = *state;

	env_set(&f->env, "UCLOUD_PUBLIC_KEY", PUB);
	env_set(&f->env, "UCLOUD_PRIVATE_KEY", ""); /* empty is unset */
	assert_int_equal(load(f), -EINVAL);
	assert_string_equal(f->err, "imgtagfs: UCLOUD_PUBLIC_KEY is set but UCLOUD_PRIVATE_KEY is not");

	f->env.n = 0;
	env_set(&f->env, "UCLOUD_PRIVATE_KEY", PRIV);
	assert_int_equal(load(f), -EINVAL);
	assert_string_equal(f->err, "imgtagfs: UCLOUD_PRIVATE_KEY is set but UCLOUD_PUBLIC_KEY is not");
}

#define CONF_JSON                                                                                                      \
	"[{\"profile\": \"default\", \"project_id\": \"org-def\", \"base_url\": \"https://api.ucloud.cn\"},"           \
	" {\"profile\": \"work\", \"project_id\": \"org-work\", \"base_url\": \"http://127.0.0.1:9\", \"active\": "    \
	"true}]"

static void test_home(void **state)
{
	struct fixture *f = *state;
	char cred[256];

	env_set(&f->env, "HOME", f->dir);
	snprintf(cred, sizeof(cred), "%s", put(f, ".ucloud/credential.json", CRED_JSON, 0600));
	/* No config.json: the default profile. */
	expect_keys(f, PUB, PRIV);
	assert_null(f->c.project);
	assert_null(f->c.base_url);

	/* config.json marks "work" active: its keys, project and endpoint. */
	put(f, ".ucloud/config.json", CONF_JSON, 0600);
	expect_keys(f, "pub2", PRIV2);
	assert_string_equal(f->c.project, "org-work");
	assert_string_equal(f->c.base_url, "http://127.0.0.1:9");
	assert_true(strstr(f->c.origin, cred) == f->c.origin);
	assert_non_null(strstr(f->c.origin, "(profile work)"));

	/* -o profile= beats the active entry. */
	f->q.profile = "default";
	expect_keys(f, PUB, PRIV);
	assert_string_equal(f->c.project, "org-def");
	assert_string_equal(f->c.base_url, "https://api.ucloud.cn");
	assert_non_null(strstr(f->c.origin, "(profile default)"));
}

static void test_home_profile_env(void **state)
{
	struct fixture *f = *state;

	env_set(&f->env, "HOME", f->dir);
	put(f, ".ucloud/credential.json", CRED_JSON, 0600);
	put(f, ".ucloud/config.json", CONF_JSON, 0600);
	env_set(&f->env, "UCLOUD_PROFILE", "default");
	expect_keys(f, PUB, PRIV);
	assert_string_equal(f->c.project, "org-def");
	/* -o profile= beats UCLOUD_PROFILE. */
	f->q.profile = "work";
	expect_keys(f, "pub2", PRIV2);
	/* A profile in credential.json but not in config.json: keys only. */
	put(f, ".ucloud/config.json", "[{\"profile\": \"default\", \"project_id\": \"org-def\"}]", 0600);
	expect_keys(f, "pub2", PRIV2);
	assert_null(f->c.project);
	f->q.profile = "nope";
	assert_int_equal(load(f), -ENOENT);
	assert_non_null(strstr(f->err, "has no profile \"nope\""));
}

/* Environment keys beat the home files; the home files' checks. */
static void test_home_order_and_checks(void **state)
{
	struct fixture *f = *state;
	char msg[1024];

	env_set(&f->env, "HOME", f->dir);
	put(f, ".ucloud/credential.json", CRED_JSON, 0600);
	env_set(&f->env, "UCLOUD_PUBLIC_KEY", "envpub");
	env_set(&f->env, "UCLOUD_PRIVATE_KEY", PRIV2);
	expect_keys(f, "envpub", PRIV2);
	f->env.n = 1; /* HOME only */

	put(f, ".ucloud/config.json", CONF_JSON, 0644);
	assert_int_equal(load(f), -EACCES);
	snprintf(msg, sizeof(msg),
		 "imgtagfs: config file %s is readable by group or others (mode 0644); run: chmod 600 %s", f->path,
		 f->path);
	assert_string_equal(f->err, msg);

	put(f, ".ucloud/config.json", "{not json", 0600);
	assert_int_equal(load(f), -EBADMSG);
	assert_non_null(strstr(f->err, "is not the vendor's config.json"));

	put(f, ".ucloud/config.json", CONF_JSON, 0600);
	put(f, ".ucloud/credential.json", CRED_JSON, 0604);
	assert_int_equal(load(f), -EACCES);
	assert_non_null(strstr(f->err, "chmod 600"));
}

static void test_shared_files(void **state)
{
	struct fixture *f = *state;
	char cred[256], conf[256], msg[1024];

	env_set(&f->env, "HOME", "/nonexistent");
	snprintf(cred, sizeof(cred), "%s", put(f, "c.json", CRED_JSON, 0600));
	snprintf(conf, sizeof(conf), "%s", put(f, "conf.json", CONF_JSON, 0600));
	env_set(&f->env, "UCLOUD_SHARED_CREDENTIAL_FILE", cred);
	env_set(&f->env, "UCLOUD_SHARED_CONFIG_FILE", conf);
	expect_keys(f, "pub2", PRIV2);
	assert_string_equal(f->c.project, "org-work");

	/* A named credential file that is missing is an error. */
	f->env.value[1] = "/nonexistent/c.json";
	assert_int_equal(load(f), -ENOENT);
	snprintf(msg, sizeof(msg), "imgtagfs: credentials file %s: No such file or directory", "/nonexistent/c.json");
	assert_string_equal(f->err, msg);
}

static void test_nothing_anywhere(void **state)
{
	struct fixture *f = *state;
	char msg[1024];

	env_set(&f->env, "HOME", f->dir);
	assert_int_equal(load(f), -ENOENT);
	snprintf(msg, sizeof(msg),
		 "imgtagfs: no API keys found: no -o credentials=FILE, UCLOUD_PUBLIC_KEY and UCLOUD_PRIVATE_KEY are "
		 "not set, and there is no %s/.ucloud/credential.json",
		 f->dir);
	assert_string_equal(f->err, msg);

	f->env.n = 0;
	assert_int_equal(load(f), -ENOENT);
	assert_string_equal(f->err,
			    "imgtagfs: no API keys found: no -o credentials=FILE, UCLOUD_PUBLIC_KEY and "
			    "UCLOUD_PRIVATE_KEY are not set, and HOME is not set (no ~/.ucloud/credential.json)");
}

/* Without a query, the process environment is used. */
static void test_process_env(void **state)
{
	struct fixture *f = *state;
	char *saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	struct creds c;
	char err[512];

	setenv("UCLOUD_PUBLIC_KEY", PUB, 1);
	setenv("UCLOUD_PRIVATE_KEY", PRIV, 1);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c.private_key, PRIV);
	creds_release(&c);
	assert_null(c.private_key);
	creds_release(&c); /* twice is harmless */

	unsetenv("UCLOUD_PUBLIC_KEY");
	unsetenv("UCLOUD_PRIVATE_KEY");
	unsetenv("UCLOUD_SHARED_CREDENTIAL_FILE");
	setenv("HOME", f->dir, 1);
	assert_int_equal(creds_load(NULL, &c, err, sizeof(err)), -ENOENT);
	if (saved_home)
		setenv("HOME", saved_home, 1);
	free(saved_home);
}

/* Keys leave the process environment, their bytes overwritten where they
 * were (what /proc/PID/environ shows), and nothing else is touched. */
static void test_forget_env(void **state)
{
	static char priv[] = "UCLOUD_PRIVATE_KEY=" PRIV, pub[] = "UCLOUD_PUBLIC_KEY=" PUB;
	static char other[] = "UCLOUD_PROFILE=keep";
	const size_t at = strlen("UCLOUD_PRIVATE_KEY=");

	(void)state;
	assert_int_equal(putenv(priv), 0);
	assert_int_equal(putenv(pub), 0);
	assert_int_equal(putenv(other), 0);
	creds_forget_env();
	assert_null(getenv("UCLOUD_PRIVATE_KEY"));
	assert_null(getenv("UCLOUD_PUBLIC_KEY"));
	assert_string_equal(getenv("UCLOUD_PROFILE"), "keep");
	for (size_t i = at; i < sizeof(priv) - 1; i++)
		assert_int_equal(priv[i], 0);
	assert_int_equal(pub[strlen("UCLOUD_PUBLIC_KEY=")], 0);
	creds_forget_env(); /* nothing left: harmless */
	unsetenv("UCLOUD_PROFILE");
}

/* Once another owner has its copy, the private key goes; the rest stays. */
static void test_drop_private(void **state)
{
	struct fixture *f = *state;

	env_set(&f->env, "UCLOUD_PUBLIC_KEY", PUB);
	env_set(&f->env, "UCLOUD_PRIVATE_KEY", PRIV);
	expect_keys(f, PUB, PRIV);
	creds_drop_private(&f->c);
	assert_null(f->c.private_key);
	assert_string_equal(f->c.public_key, PUB);
	creds_drop_private(&f->c);
	creds_drop_private(NULL);
}

/* A secret with a NUL and a newline in it: read as bytes, not as text. */
static const char secret[] = "s3cr3t-auth\0\nmore";
#define SECRET_LEN (sizeof(secret) - 1)

/* Writes the secret to dir/name with mode; returns its path. */
static const char *put_secret(struct fixture *f, const char *name, mode_t mode)
{
	int fd;

	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	unlink(f->path);
	fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, secret, SECRET_LEN), (ssize_t)SECRET_LEN);
	close(fd);
	assert_int_equal(chmod(f->path, mode), 0);
	return f->path;
}

/* creds_read_secret, with the checks every call must pass: on error
 * nothing is handed out and the message is one line; never the secret. */
static int read_secret(struct fixture *f, const char *path, char **out, size_t *len)
{
	int rc;

	memset(f->err, 0, sizeof(f->err));
	rc = creds_read_secret("shared_cache_auth", path, out, len, f->err, sizeof(f->err));
	assert_null(strstr(f->err, "s3cr3t"));
	if (rc) {
		assert_null(*out);
		assert_int_equal(*len, 0);
		assert_true(f->err[0] != '\0');
		assert_null(strchr(f->err, '\n'));
		assert_non_null(strstr(f->err, "shared_cache_auth"));
		assert_non_null(strstr(f->err, path));
	}
	return rc;
}

static void test_secret_read(void **state)
{
	struct fixture *f = *state;
	char link[256];
	char *s = NULL;
	size_t len = 1;

	assert_int_equal(read_secret(f, put_secret(f, "auth", 0600), &s, &len), 0);
	assert_int_equal(len, SECRET_LEN);
	assert_memory_equal(s, secret, SECRET_LEN);
	assert_int_equal(s[len], '\0');
	assert_string_equal(f->err, "");
	creds_secret_free(s, len);
	creds_secret_free(NULL, 0);

	/* 0400, and a link we own to the file, are fine too. */
	assert_int_equal(read_secret(f, put_secret(f, "auth", 0400), &s, &len), 0);
	creds_secret_free(s, len);
	snprintf(link, sizeof(link), "%s/to-auth", f->dir);
	assert_int_equal(symlink("auth", link), 0);
	assert_int_equal(read_secret(f, link, &s, &len), 0);
	assert_int_equal(len, SECRET_LEN);
	creds_secret_free(s, len);
}

static void test_secret_refused(void **state)
{
	struct fixture *f = *state;
	char path[256], msg[1024];
	char *s = (char *)1;
	size_t len = 1;

	put_secret(f, "auth", 0644);
	assert_int_equal(read_secret(f, f->path, &s, &len), -EACCES);
	snprintf(msg, sizeof(msg),
		 "imgtagfs: shared_cache_auth file %s is readable by group or others (mode 0644); run: chmod 600 %s",
		 f->path, f->path);
	assert_string_equal(f->err, msg);
	assert_non_null(strstr(f->err, "chmod 600"));

	snprintf(path, sizeof(path), "%s/missing", f->dir);
	s = (char *)1;
	assert_int_equal(read_secret(f, path, &s, &len), -ENOENT);
	snprintf(msg, sizeof(msg), "imgtagfs: shared_cache_auth file %s: No such file or directory", path);
	assert_string_equal(f->err, msg);
}

/* A FIFO at the path is refused without being opened. */
static void test_secret_fifo(void **state)
{
	struct fixture *f = *state;
	char fifo[256], msg[1024];
	char *s = NULL;
	size_t len = 0;
	int ready;
	pid_t pid;

	snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	pid = blocked_writer(fifo, &ready);
	assert_int_equal(read_secret(f, fifo, &s, &len), -EBADMSG);
	snprintf(msg, sizeof(msg), "imgtagfs: shared_cache_auth file %s is not a regular file", fifo);
	assert_string_equal(f->err, msg);
	assert_false(writer_woke(pid, ready));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_simple_file),
	    T(test_simple_file_errors),
	    T(test_permissions),
	    T(test_symlink),
	    T(test_not_regular),
	    T(test_owner),
	    T(test_missing_file),
	    T(test_size_cap),
	    T(test_json_file),
	    T(test_env),
	    T(test_env_half_set),
	    T(test_home),
	    T(test_home_profile_env),
	    T(test_home_order_and_checks),
	    T(test_shared_files),
	    T(test_nothing_anywhere),
	    T(test_process_env),
	    T(test_fifo_not_opened),
	    T(test_device),
	    T(test_symlink_rules),
	    T(test_symlink_owner),
	    T(test_forget_env),
	    T(test_drop_private),
	    T(test_secret_read),
	    T(test_secret_refused),
	    T(test_secret_fifo),
	    T(test_dirs_writable),
	    T(test_dirs_links),
	    T(test_dirs_sticky_theirs),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
