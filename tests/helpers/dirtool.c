/* dirtool.c — what the integration tests need from the system-call layer
 * that the shell cannot do:
 *
 *   dirtool rewind DIR SECONDS   list DIR, hold it open SECONDS, rewinddir,
 *                                list it again: prints "--" between the two
 *   dirtool handle PATH          name_to_handle_at: prints the handle (hex)
 *   dirtool byhandle MNT HEX     open_by_handle_at on the mount MNT, prints
 *                                the file's bytes (or "dir" for a directory)
 *   dirtool resume DIR N GO      reads DIR with getdents64 in small chunks
 *                                until it has N names, prints them and "--",
 *                                waits until the file GO exists, then reads
 *                                on from where it stopped and prints the rest
 *   dirtool seek DIR N GO        readdir(3) N names, telldir, reads the rest;
 *                                prints all and "--", waits for GO, seekdir
 *                                to the position taken, prints what follows
 *   dirtool uncache FILE...      drops the files' pages from the page cache
 *                                (POSIX_FADV_DONTNEED), their inodes kept
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void list(DIR *d)
{
	struct dirent *e;

	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			printf("%s\n", e->d_name);
}

static int do_rewind(const char *dir, const char *secs)
{
	DIR *d = opendir(dir);

	if (!d) {
		perror(dir);
		return 1;
	}
	list(d);
	fflush(stdout);
	sleep((unsigned)strtoul(secs, NULL, 10));
	rewinddir(d);
	printf("--\n");
	list(d);
	closedir(d);
	return 0;
}

static int do_handle(const char *path)
{
	struct file_handle *h = malloc(sizeof(*h) + MAX_HANDLE_SZ);
	int mnt;

	if (!h)
		return 1;
	h->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, path, h, &mnt, 0) != 0) {
		perror("name_to_handle_at");
		free(h);
		return 1;
	}
	printf("%d:", h->handle_type);
	for (unsigned i = 0; i < h->handle_bytes; i++)
		printf("%02x", h->f_handle[i]);
	printf("\n");
	free(h);
	return 0;
}

static int do_byhandle(const char *mnt, const char *hex)
{
	struct file_handle *h = malloc(sizeof(*h) + MAX_HANDLE_SZ);
	char *end, buf[8192];
	int mfd, fd, type;
	size_t n = 0;
	ssize_t got;
	struct stat st;

	if (!h)
		return 1;
	type = (int)strtol(hex, &end, 10);
	if (*end++ != ':') {
		free(h);
		return 2;
	}
	while (end[0] && end[1] && n < MAX_HANDLE_SZ) {
		unsigned v;

		if (sscanf(end, "%2x", &v) != 1) {
			free(h);
			return 2;
		}
		h->f_handle[n++] = (unsigned char)v;
		end += 2;
	}
	h->handle_bytes = (unsigned)n;
	h->handle_type = type;
	mfd = open(mnt, O_RDONLY | O_DIRECTORY);
	if (mfd < 0) {
		perror(mnt);
		free(h);
		return 1;
	}
	fd = open_by_handle_at(mfd, h, O_RDONLY);
	if (fd < 0) {
		perror("open_by_handle_at");
		close(mfd);
		free(h);
		return 1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		printf("dir\n");
		got = 0;
	} else {
		while ((got = read(fd, buf, sizeof(buf))) > 0)
			fwrite(buf, 1, (size_t)got, stdout);
	}
	close(fd);
	close(mfd);
	free(h);
	return got < 0;
}

/* Waits (at most 120 s) until the file go exists. */
static void wait_for(const char *go)
{
	for (int i = 0; i < 2400 && access(go, F_OK) != 0; i++)
		usleep(50000);
}

struct linux_dirent64 {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* One getdents64 call of a small buffer: prints its names (not . and ..);
 * how many it printed, or -1 at the end or on an error. */
static int chunk(int fd)
{
	char buf[256];
	long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
	int printed = 0;

	if (n <= 0) {
		if (n < 0)
			perror("getdents64");
		return -1;
	}
	for (long at = 0; at < n;) {
		struct linux_dirent64 *e = (struct linux_dirent64 *)(buf + at);

		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			printf("%s\n", e->d_name);
			printed++;
		}
		at += e->d_reclen;
	}
	return printed;
}

static int do_resume(const char *dir, const char *count, const char *go)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY), want = atoi(count), got = 0, n;

	if (fd < 0) {
		perror(dir);
		return 1;
	}
	while (got < want && (n = chunk(fd)) >= 0)
		got += n;
	printf("--\n");
	fflush(stdout);
	wait_for(go);
	while (chunk(fd) >= 0)
		;
	close(fd);
	return 0;
}

static int do_seek(const char *dir, const char *count, const char *go)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int want = atoi(count), got = 0;
	long pos = 0;

	if (!d) {
		perror(dir);
		return 1;
	}
	while (got < want && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		printf("%s\n", e->d_name);
		got++;
	}
	pos = telldir(d);
	list(d);
	printf("--\n");
	fflush(stdout);
	wait_for(go);
	seekdir(d, pos);
	list(d);
	closedir(d);
	return 0;
}

static int do_uncache(int n, char **files)
{
	int bad = 0;

	for (int i = 0; i < n; i++) {
		int fd = open(files[i], O_RDONLY);

		if (fd < 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) {
			perror(files[i]);
			bad = 1;
		}
		if (fd >= 0)
			close(fd);
	}
	return bad;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "uncache"))
		return do_uncache(argc - 2, argv + 2);
	if (argc == 5 && !strcmp(argv[1], "resume"))
		return do_resume(argv[2], argv[3], argv[4]);
	if (argc == 5 && !strcmp(argv[1], "seek"))
		return do_seek(argv[2], argv[3], argv[4]);
	if (argc == 4 && !strcmp(argv[1], "rewind"))
		return do_rewind(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "handle"))
		return do_handle(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "byhandle"))
		return do_byhandle(argv[2], argv[3]);
	fprintf(
	    stderr,
	    "usage: dirtool rewind DIR SECONDS | handle PATH | byhandle MNT HEX | resume DIR N GO | uncache FILE... | "
	    "seek DIR N GO\n");
	return 2;
}
