/* creds.c — finding the API keys: -o credentials=FILE, then
 * UCLOUD_PUBLIC_KEY/UCLOUD_PRIVATE_KEY, then the vendor's
 * ~/.ucloud/credential.json and config.json. A file is first opened
 * O_PATH without following a link, which opens nothing (a FIFO or a device
 * planted at the path by someone who can write the directory is never
 * opened for real), and judged by fstat on that descriptor: a regular file,
 * owned by root or by us, closed to group and others. A symbolic link
 * (setups under /etc often link them) is followed one step if root or we
 * own it, and every directory on the way to it must be one that nobody
 * but root or us may write (check_dirs). Only then is the judged inode
 * opened for reading, through /proc/self/fd, so the file checked is the
 * file read. Files are read whole under a 64 KiB cap into one buffer
 * that is wiped before it is freed (no realloc, which would leave copies),
 * and keys are wiped again on release. JSON is left to decode.c; the
 * simple key=value format is parsed here. No message ever quotes a file's
 * contents: a typo on a private_key line must not print the key.
 * creds_read_secret reads the shared tier's secret files under the same
 * rules, with the same code.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds.h"
#include "decode.h"

#define CREDS_FILE_MAX (64 * 1024)

/* One creds_load call. */
struct lookup {
	const struct creds_query *q;
	struct creds *out;
	char *err;
	size_t errlen;
};

/* A file's contents: secret, so wiped on release. */
struct text {
	char *data; /* NUL-terminated */
	size_t len;
};

static int fail(struct lookup *l, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct lookup *l, int rc, const char *fmt, ...)
{
	va_list ap;

	if (l->err && l->errlen) {
		va_start(ap, fmt);
		vsnprintf(l->err, l->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Where the keys came from, for messages; a long path is cut short. */
static void set_origin(struct creds *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_origin(struct creds *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->origin, sizeof(c->origin), fmt, ap);
	va_end(ap);
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void text_release(struct text *t)
{
	if (t->data) {
		explicit_bzero(t->data, t->len);
		free(t->data);
	}
	t->data = NULL;
	t->len = 0;
}

/* A non-empty variable from the query's environment, else NULL. */
static const char *env(const struct lookup *l, const char *name)
{
	const char *v = l->q->getenv ? l->q->getenv(l->q->getenv_arg, name) : getenv(name);

	return v && *v ? v : NULL;
}

static int open_errno(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return -ENOENT;
	case EACCES:
	case EPERM:
		return -EACCES;
	case ENOMEM:
		return -ENOMEM;
	default:
		return -EBADMSG;
	}
}

/* Anyone who can read the file has the keys; anyone who owns it can
 * change its mode, or point us at their own account. */
static int check_file(struct lookup *l, const char *what, const char *path, const struct stat *st)
{
	mode_t mode = st->st_mode & 07777;

	if (!S_ISREG(st->st_mode))
		return fail(l, -EBADMSG, "imgtagfs: %s %s is not a regular file", what, path);
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return fail(l, -EACCES, "imgtagfs: %s %s is owned by uid %u, which is neither root nor you (uid %u)",
			    what, path, (unsigned)st->st_uid, (unsigned)geteuid());
	if (mode & 077)
		return fail(l, -EACCES, "imgtagfs: %s %s is %s by group or others (mode %04o); run: chmod 600 %s", what,
			    path, (mode & 044) ? "readable" : "writable", (unsigned)mode, path);
	return 0;
}

/* Reads all of fd, at most CREDS_FILE_MAX bytes, into one buffer that is
 * never reallocated. */
static int read_all(struct lookup *l, const char *what, const char *path, int fd, struct text *t)
{
	size_t cap = CREDS_FILE_MAX + 1;

	t->data = malloc(cap + 1);
	if (!t->data)
		return fail(l, -ENOMEM, "imgtagfs: out of memory");
	while (t->len < cap) {
		ssize_t n = read(fd, t->data + t->len, cap - t->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(l, -EBADMSG, "imgtagfs: %s %s: %s", what, path, strerror(errno));
		if (n == 0)
			break;
		t->len += (size_t)n;
	}
	t->data[t->len] = '\0';
	if (t->len > CREDS_FILE_MAX)
		return fail(l, -EBADMSG, "imgtagfs: %s %s is larger than %d KiB", what, path, CREDS_FILE_MAX / 1024);
	return 0;
}

/* The link itself may point us elsewhere: only root or we may have made
 * it (a link planted by someone who can write the directory is refused).
 * The same rule as for the file. */
static int check_link(struct lookup *l, const char *what, const char *path, const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return fail(
		    l, -EACCES,
		    "imgtagfs: %s %s is a symbolic link owned by uid %u, which is neither root nor you (uid %u)", what,
		    path, (unsigned)st->st_uid, (unsigned)geteuid());
	return 0;
}

/* ---- the directories on the way ------------------------------------------- */

/* Anyone who can write a directory on the way to the file can rename
 * what lies below and put a path of their own in its place (a root-owned
 * link through a user-writable directory points wherever that user
 * likes), so every directory passed through is judged as sshd's
 * StrictModes judges the way to authorized_keys: owned by root or us, and
 * writable by nobody else. One exception, or every file under /tmp would
 * be refused: a sticky directory (/tmp, 1777) lets others create entries
 * but not rename or remove one they do not own, so it is passed when the
 * entry taken from it is root's or ours. */
#define WALK_LINKS 40 /* as the kernel's ELOOP */

/* One walk: the directory reached so far, and what is left to resolve. */
struct walk {
	int fd;		     /* O_PATH of the directory reached */
	bool sticky_open;    /* it is sticky and others may write it */
	char at[PATH_MAX];   /* its path, for messages */
	char left[PATH_MAX]; /* the components still to resolve */
	unsigned links;
};

static bool ours(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* The directory w->fd (at w->at), just entered. */
static int judge_dir(struct lookup *l, const char *what, const char *path, struct walk *w)
{
	struct stat st;

	if (fstat(w->fd, &st) != 0)
		return fail(l, -EBADMSG, "imgtagfs: %s %s: %s: %s", what, path, w->at, strerror(errno));
	if (!ours(st.st_uid))
		return fail(l, -EACCES,
			    "imgtagfs: %s %s: directory %s is owned by uid %u, which is neither root nor you "
			    "(uid %u): its owner could put another file in its place",
			    what, path, w->at, (unsigned)st.st_uid, (unsigned)geteuid());
	w->sticky_open = (st.st_mode & 022) && (st.st_mode & S_ISVTX);
	if ((st.st_mode & 022) && !w->sticky_open)
		return fail(l, -EACCES,
			    "imgtagfs: %s %s: directory %s is writable by group or others (mode %04o): they "
			    "could put another file in its place; run: chmod go-w %s",
			    what, path, w->at, (unsigned)(st.st_mode & 07777), w->at);
	return 0;
}

/* Moves w to "/" (an absolute link, or the start). */
static int walk_root(struct lookup *l, const char *what, const char *path, struct walk *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(w->at, sizeof(w->at), "/");
	if (w->fd < 0)
		return fail(l, -EBADMSG, "imgtagfs: %s %s: /: %s", what, path, strerror(errno));
	return judge_dir(l, what, path, w);
}

/* Enters name (a directory, or "..") from w's directory. */
static int walk_into(struct lookup *l, const char *what, const char *path, struct walk *w, const char *name)
{
	int fd = openat(w->fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	size_t n = strlen(w->at);

	if (fd < 0)
		return 1; /* gone meanwhile: the open of the file says so */
	close(w->fd);
	w->fd = fd;
	if (strcmp(name, "..") == 0) {
		char *slash = strrchr(w->at, '/');

		if (slash)
			slash[slash == w->at] = '\0'; /* "/a/b" to "/a", "/a" to "/" */
	} else {
		snprintf(w->at + n, sizeof(w->at) - n, "%s%s", n > 1 ? "/" : "", name);
	}
	return judge_dir(l, what, path, w);
}

/* name in w's directory is a link (owned by owner): its target takes its
 * place in what is left to resolve. */
static int walk_link(struct lookup *l, const char *what, const char *path, struct walk *w, const char *name,
		     uid_t owner)
{
	char target[PATH_MAX], rest[PATH_MAX];
	ssize_t n;

	if (!ours(owner))
		return fail(l, -EACCES,
			    "imgtagfs: %s %s: %s/%s is a symbolic link owned by uid %u, which is neither root nor "
			    "you (uid %u)",
			    what, path, strcmp(w->at, "/") ? w->at : "", name, (unsigned)owner, (unsigned)geteuid());
	n = readlinkat(w->fd, name, target, sizeof(target) - 1);
	if (n < 0 || ++w->links > WALK_LINKS)
		return fail(l, -EBADMSG, "imgtagfs: %s %s: too many symbolic links, or one that cannot be read", what,
			    path);
	target[n] = '\0';
	snprintf(rest, sizeof(rest), "%s", w->left);
	if (snprintf(w->left, sizeof(w->left), "%s%s%s", target, *rest ? "/" : "", rest) >= (int)sizeof(w->left))
		return fail(l, -EINVAL, "imgtagfs: %s %s: the path is too long", what, path);
	return target[0] == '/' ? walk_root(l, what, path, w) : 0;
}

/* Takes the next component of w->left into name; false when only the
 * last one (the file itself, judged by read_file) is left. */
static bool next_dir(struct walk *w, char *name, size_t n)
{
	char *p = w->left + strspn(w->left, "/");
	size_t len = strcspn(p, "/");
	const char *after = p + len + strspn(p + len, "/");

	if (!*after)
		return false;
	snprintf(name, n, "%.*s", (int)len, p);
	memmove(w->left, after, strlen(after) + 1);
	return true;
}

/* One step of the walk: 0 to go on, 1 to stop early (a component that is
 * not a directory: the open reports it), or -errno. */
static int walk_step(struct lookup *l, const char *what, const char *path, struct walk *w, const char *name)
{
	struct stat st;

	if (!*name || strcmp(name, ".") == 0)
		return 0;
	if (strcmp(name, "..") == 0)
		return walk_into(l, what, path, w, name);
	if (fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 1;
	if (w->sticky_open && !ours(st.st_uid))
		return fail(l, -EACCES,
			    "imgtagfs: %s %s: %s/%s is owned by uid %u, in a directory others may write: it could "
			    "be anything of theirs",
			    what, path, strcmp(w->at, "/") ? w->at : "", name, (unsigned)st.st_uid);
	if (S_ISLNK(st.st_mode))
		return walk_link(l, what, path, w, name, st.st_uid);
	return S_ISDIR(st.st_mode) ? walk_into(l, what, path, w, name) : 1;
}

/* Judges every directory from "/" to the one holding path's last
 * component, links on the way resolved as the kernel does. A relative
 * path starts from the working directory, whose own way is judged too. */
static int check_dirs(struct lookup *l, const char *what, const char *path)
{
	struct walk w = {.fd = -1};
	char cwd[PATH_MAX], name[PATH_MAX];
	int rc;

	if (path[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return fail(l, -EBADMSG, "imgtagfs: %s %s: the working directory: %s", what, path, strerror(errno));
	if (snprintf(w.left, sizeof(w.left), "%s%s%s", path[0] == '/' ? "" : cwd, path[0] == '/' ? "" : "/", path) >=
	    (int)sizeof(w.left))
		return fail(l, -EINVAL, "imgtagfs: %s %s: the path is too long", what, path);
	rc = walk_root(l, what, path, &w);
	while (!rc && next_dir(&w, name, sizeof(name)))
		rc = walk_step(l, what, path, &w, name);
	if (w.fd >= 0)
		close(w.fd);
	return rc < 0 ? rc : 0;
}

/* O_PATH opens nothing: no FIFO is woken, no device driver runs, whatever
 * is at the path. NOFOLLOW: a link is judged before it is followed. */
static int open_path(struct lookup *l, const char *what, const char *path, int dir, const char *name)
{
	int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return fail(l, open_errno(errno), "imgtagfs: %s %s: %s", what, path, strerror(errno));
	return fd;
}

/* The file a checked link (fd, an O_PATH descriptor of the link) points
 * to, one step, itself opened O_PATH. The target text is read from the
 * link we checked, not from the path again; a relative one is taken from
 * the link's directory. A second link is refused: each would need judging,
 * and one is all that setups linking /etc files need. */
static int follow_link(struct lookup *l, const char *what, const char *path, int fd)
{
	char target[PATH_MAX], dirname[PATH_MAX], way[PATH_MAX];
	const char *slash = strrchr(path, '/');
	ssize_t n = readlinkat(fd, "", target, sizeof(target));
	int dir = AT_FDCWD, tfd, rc;
	struct stat st;

	if (n < 0 || (size_t)n >= sizeof(target))
		return fail(l, -EBADMSG, "imgtagfs: %s %s: cannot read the symbolic link", what, path);
	target[n] = '\0';
	dirname[0] = '\0';
	if (target[0] != '/' && slash) {
		snprintf(dirname, sizeof(dirname), "%.*s", (int)(slash - path + 1), path);
		dir = open(dirname, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0)
			return fail(l, open_errno(errno), "imgtagfs: %s %s: %s", what, path, strerror(errno));
	}
	tfd = open_path(l, what, path, dir, target);
	if (dir != AT_FDCWD)
		close(dir);
	if (tfd < 0)
		return tfd;
	/* The target's own way is judged too: the link is root's or ours,
	 * but the directories it leads through may not be. */
	if ((size_t)snprintf(way, sizeof(way), "%s%s", target[0] == '/' ? "" : dirname, target) >= sizeof(way))
		rc = fail(l, -EINVAL, "imgtagfs: %s %s: the path is too long", what, path);
	else
		rc = check_dirs(l, what, way);
	if (!rc && fstat(tfd, &st) == 0 && S_ISLNK(st.st_mode))
		rc = fail(l, -EBADMSG,
			  "imgtagfs: %s %s is a symbolic link to another symbolic link (%s); name the file itself",
			  what, path, target);
	if (rc) {
		close(tfd);
		return rc;
	}
	return tfd;
}

/* The checked file, opened for reading through its O_PATH descriptor:
 * the very inode that was judged, whatever the path holds by now. */
static int reopen(struct lookup *l, const char *what, const char *path, int fd, const struct stat *st)
{
	char proc[64];
	struct stat now;
	int rfd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	rfd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (rfd < 0 && errno == ENOENT)
		return fail(l, -EBADMSG,
			    "imgtagfs: %s %s: cannot be reopened through /proc/self/fd (is /proc mounted?)", what,
			    path);
	if (rfd < 0)
		return fail(l, open_errno(errno), "imgtagfs: %s %s: %s", what, path, strerror(errno));
	if (fstat(rfd, &now) != 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
		close(rfd);
		return fail(l, -EBADMSG, "imgtagfs: %s %s changed while it was being opened", what, path);
	}
	return rfd;
}

/* Opens, checks and reads path: opened O_PATH without following, judged by
 * fstat (a link only if root or we own it, then followed one step), and
 * only a regular file that passes check_file is opened for reading. On
 * error t is released and err says why; -ENOENT when the file does not
 * exist. */
static int read_file(struct lookup *l, const char *what, const char *path, struct text *t)
{
	struct stat st;
	int fd, rfd, rc;

	t->data = NULL;
	t->len = 0;
	fd = open_path(l, what, path, AT_FDCWD, path);
	if (fd < 0)
		return fd;
	/* Judged once the file is known to be there: a directory of the
	 * default place, where no file is, refuses nothing. */
	rc = check_dirs(l, what, path);
	if (!rc && fstat(fd, &st))
		rc = fail(l, -EBADMSG, "imgtagfs: %s %s: %s", what, path, strerror(errno));
	if (!rc && S_ISLNK(st.st_mode)) {
		rc = check_link(l, what, path, &st);
		rfd = rc ? rc : follow_link(l, what, path, fd);
		close(fd);
		fd = rfd;
		if (fd < 0)
			return fd;
		rc = fstat(fd, &st) ? fail(l, -EBADMSG, "imgtagfs: %s %s: %s", what, path, strerror(errno)) : 0;
	}
	if (!rc)
		rc = check_file(l, what, path, &st);
	rfd = rc ? rc : reopen(l, what, path, fd, &st);
	close(fd);
	if (rfd < 0)
		return rfd;
	rc = read_all(l, what, path, rfd, t);
	close(rfd);
	if (rc)
		text_release(t);
	return rc;
}

static bool looks_like_json(const char *s)
{
	if (!strncmp(s, "\xef\xbb\xbf", 3)) /* a UTF-8 byte order mark */
		s += 3;
	s += strspn(s, " \t\r\n");
	return *s == '[' || *s == '{';
}

static char *trim(char *s)
{
	char *end = s + strlen(s);

	s += strspn(s, " \t\r");
	while (end > s && strchr(" \t\r", end[-1]))
		*--end = '\0';
	return s;
}

/* private_key="..." or '...' as a shell env file would have it. */
static char *unquote(char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

static char **simple_slot(struct creds *c, const char *key)
{
	if (!strcmp(key, "public_key"))
		return &c->public_key;
	if (!strcmp(key, "private_key"))
		return &c->private_key;
	if (!strcmp(key, "project_id"))
		return &c->project;
	return NULL;
}

/* One "key = value" line of the simple format. */
static int simple_line(struct lookup *l, const char *path, unsigned lineno, char *line)
{
	char *eq = strchr(line, '='), *key, *val, **slot;

	if (!eq)
		return fail(l, -EBADMSG,
			    "imgtagfs: credentials file %s, line %u: expected public_key=, private_key= "
			    "or project_id=",
			    path, lineno);
	*eq = '\0';
	key = trim(line);
	val = unquote(trim(eq + 1));
	slot = simple_slot(l->out, key);
	/* The key is not quoted back: a mangled line may hold the secret. */
	if (!slot)
		return fail(l, -EBADMSG,
			    "imgtagfs: credentials file %s, line %u: unknown key (expected public_key, "
			    "private_key or project_id)",
			    path, lineno);
	if (!*val)
		return fail(l, -EBADMSG, "imgtagfs: credentials file %s, line %u: %s is empty", path, lineno, key);
	wipe_free(*slot);
	*slot = strdup(val);
	return *slot ? 0 : fail(l, -ENOMEM, "imgtagfs: out of memory");
}

/* Lines of public_key=, private_key=, project_id=; '#' comments and
 * blank lines; whitespace around keys and values ignored. Parsed in
 * place: t is wiped afterwards anyway. */
static int parse_simple(struct lookup *l, const char *path, struct text *t)
{
	char *line = t->data, *nl;
	unsigned lineno = 0;
	int rc;

	if (!strncmp(line, "\xef\xbb\xbf", 3))
		line += 3;
	for (; line; line = nl ? nl + 1 : NULL) {
		char *s;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		s = trim(line);
		if (!*s || *s == '#')
			continue;
		rc = simple_line(l, path, lineno, s);
		if (rc)
			return rc;
	}
	if (!l->out->public_key || !l->out->private_key)
		return fail(l, -EBADMSG, "imgtagfs: credentials file %s has no %s= line", path,
			    l->out->public_key ? "private_key" : "public_key");
	return 0;
}

/* The vendor's credential.json, entry of profile. */
static int parse_json(struct lookup *l, const char *path, const struct text *t, const char *profile)
{
	int rc = decode_credentials(t->data, t->len, profile, &l->out->public_key, &l->out->private_key);

	switch (rc) {
	case 0:
		return 0;
	case -ENOENT:
		return fail(l, rc, "imgtagfs: credentials file %s has no profile \"%s\"", path, profile);
	case -ENOMEM:
		return fail(l, rc, "imgtagfs: out of memory");
	default:
		return fail(l, -EBADMSG,
			    "imgtagfs: credentials file %s is neither key=value lines nor the vendor's JSON (an array "
			    "of {\"public_key\", \"private_key\", \"profile\"})",
			    path);
	}
}

/* 1. -o credentials=FILE, in either format. */
static int from_file(struct lookup *l, const char *path)
{
	struct text t;
	const char *profile = l->q->profile ? l->q->profile : env(l, "UCLOUD_PROFILE");
	int rc = read_file(l, "credentials file", path, &t);

	if (rc)
		return rc;
	if (!t.data) /* read_file always gives text: this tells the analyzer */
		rc = fail(l, -EIO, "imgtagfs: credentials file %s: could not be read", path);
	else if (looks_like_json(t.data))
		rc = parse_json(l, path, &t, profile ? profile : "default");
	else
		rc = parse_simple(l, path, &t);
	text_release(&t);
	if (!rc)
		set_origin(l->out, "%s", path);
	return rc;
}

/* 2. The environment: both keys, or neither. 1 when neither is set. */
static int from_env(struct lookup *l)
{
	const char *pub = env(l, "UCLOUD_PUBLIC_KEY"), *priv = env(l, "UCLOUD_PRIVATE_KEY");

	if (!pub && !priv)
		return 1;
	if (!priv)
		return fail(l, -EINVAL, "imgtagfs: UCLOUD_PUBLIC_KEY is set but UCLOUD_PRIVATE_KEY is not");
	if (!pub)
		return fail(l, -EINVAL, "imgtagfs: UCLOUD_PRIVATE_KEY is set but UCLOUD_PUBLIC_KEY is not");
	l->out->public_key = strdup(pub);
	l->out->private_key = strdup(priv);
	if (!l->out->public_key || !l->out->private_key)
		return fail(l, -ENOMEM, "imgtagfs: out of memory");
	set_origin(l->out, "environment (UCLOUD_PUBLIC_KEY, UCLOUD_PRIVATE_KEY)");
	return 0;
}

/* $VAR, else $HOME/.ucloud/NAME; "" when neither can be had. */
static int home_path(struct lookup *l, const char *var, const char *name, char *path, size_t n)
{
	const char *set = env(l, var), *home = env(l, "HOME");
	int w;

	path[0] = '\0';
	if (set)
		w = snprintf(path, n, "%s", set);
	else if (home)
		w = snprintf(path, n, "%s/.ucloud/%s", home, name);
	else
		return 0;
	if (w < 0 || (size_t)w >= n)
		return fail(l, -EINVAL, "imgtagfs: the path of %s is too long", set ? var : "$HOME/.ucloud");
	return 0;
}

/* config.json: the profile it marks active, the project and the
 * endpoint. Optional: a missing file, or one without the profile, gives
 * nothing; a broken or unsafe one is an error. */
static int read_config(struct lookup *l, const char *path, const char *profile, char **picked)
{
	struct text t;
	int rc;

	*picked = NULL;
	if (!*path)
		return 0;
	rc = read_file(l, "config file", path, &t);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = decode_config(t.data, t.len, profile, picked, &l->out->project, &l->out->base_url);
	text_release(&t);
	if (rc == -ENOENT)
		return 0;
	if (rc == -ENOMEM)
		return fail(l, rc, "imgtagfs: out of memory");
	if (rc)
		return fail(l, -EBADMSG,
			    "imgtagfs: config file %s is not the vendor's config.json (a JSON array of "
			    "{\"profile\", \"project_id\", \"base_url\", \"active\"})",
			    path);
	return 0;
}

/* The keys of credential.json (read into t), with the profile from -o
 * profile=, UCLOUD_PROFILE, config.json's active entry, else "default". */
static int home_keys(struct lookup *l, const char *cred, const char *conf, const struct text *t)
{
	const char *profile = l->q->profile ? l->q->profile : env(l, "UCLOUD_PROFILE");
	char *picked = NULL;
	int rc;

	rc = read_config(l, conf, profile, &picked);
	if (!rc) {
		if (!profile)
			profile = picked ? picked : "default";
		rc = parse_json(l, cred, t, profile);
	}
	if (!rc)
		set_origin(l->out, "%s (profile %s)", cred, profile);
	free(picked);
	return rc;
}

/* 3. The vendor's files. 1 when there is no credential.json to read. */
static int from_home(struct lookup *l, char *cred, size_t n)
{
	char conf[PATH_MAX];
	struct text t;
	int rc;

	rc = home_path(l, "UCLOUD_SHARED_CREDENTIAL_FILE", "credential.json", cred, n);
	if (!rc)
		rc = home_path(l, "UCLOUD_SHARED_CONFIG_FILE", "config.json", conf, sizeof(conf));
	if (rc)
		return rc;
	if (!*cred)
		return 1;
	rc = read_file(l, "credentials file", cred, &t);
	/* The default place may well be empty; a named one may not. */
	if (rc == -ENOENT && !env(l, "UCLOUD_SHARED_CREDENTIAL_FILE"))
		return 1;
	if (rc)
		return rc;
	rc = home_keys(l, cred, conf, &t);
	text_release(&t);
	return rc;
}

int creds_load(const struct creds_query *q, struct creds *out, char *err, size_t errlen)
{
	static const struct creds_query none;
	struct lookup l = {.q = q ? q : &none, .out = out, .err = err, .errlen = errlen};
	char cred[PATH_MAX];
	int rc;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (l.q->file)
		rc = from_file(&l, l.q->file);
	else if ((rc = from_env(&l)) == 1 && (rc = from_home(&l, cred, sizeof(cred))) == 1)
		rc = fail(&l, -ENOENT,
			  "imgtagfs: no API keys found: no -o credentials=FILE, UCLOUD_PUBLIC_KEY and "
			  "UCLOUD_PRIVATE_KEY are not set, and %s%s",
			  *cred ? "there is no " : "HOME is not set (no ~/.ucloud/credential.json)", cred);
	if (rc)
		creds_release(out);
	return rc;
}

void creds_drop_private(struct creds *c)
{
	if (c) {
		wipe_free(c->private_key);
		c->private_key = NULL;
	}
}

static void forget_var(const char *name)
{
	size_t n = strlen(name);

	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			explicit_bzero(*e + n + 1, strlen(*e + n + 1));
	unsetenv(name);
}

void creds_forget_env(void)
{
	forget_var("UCLOUD_PRIVATE_KEY");
	forget_var("UCLOUD_PUBLIC_KEY");
}

void creds_release(struct creds *c)
{
	if (!c)
		return;
	wipe_free(c->private_key);
	wipe_free(c->public_key);
	free(c->project);
	free(c->base_url);
	explicit_bzero(c, sizeof(*c));
}

int creds_read_secret(const char *what, const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	struct lookup l = {.err = err, .errlen = errlen};
	char label[128];
	struct text t;
	int rc;

	*out = NULL;
	*len = 0;
	if (err && errlen)
		err[0] = '\0';
	/* "shared_cache_auth file /etc/x is readable...": the option, then
	 * the words the credentials file's messages use. */
	snprintf(label, sizeof(label), "%s file", what);
	rc = read_file(&l, label, path, &t);
	if (rc)
		return rc;
	*out = t.data;
	*len = t.len;
	return 0;
}

void creds_secret_free(char *s, size_t len)
{
	if (s) {
		explicit_bzero(s, len);
		free(s);
	}
}
