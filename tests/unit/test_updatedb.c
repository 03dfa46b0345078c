/* test_updatedb.c — would updatedb walk an imgtagfs mount: Debian's
 * plocate configuration (it would), the same with fuse.imgtagfs added or
 * the mount point under PRUNEPATHS (it would not), files updatedb refuses
 * (it runs not at all), a missing file (it prunes nothing), and the advice
 * for each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "updatedb.h"

/* Debian 12's /etc/updatedb.conf (plocate 1.1.18). */
#define DEBIAN_PRUNEFS                                                                                                 \
	"PRUNEFS=\"NFS afs autofs binfmt_misc ceph cgroup cgroup2 cifs coda configfs curlftpfs debugfs devfs devpts "  \
	"devtmpfs ecryptfs ftpfs fuse.ceph fuse.cryfs fuse.encfs fuse.glusterfs fuse.gocryptfs fuse.gvfsd-fuse "       \
	"fuse.mfs fuse.rclone fuse.rozofs fuse.sshfs fusectl fusesmb hugetlbfs iso9660 lustre lustre_lite mfs mqueue " \
	"ncpfs nfs nfs4 ocfs ocfs2 proc pstore rpc_pipefs securityfs shfs smbfs sysfs tmpfs tracefs udev udf "         \
	"usbfs\"\n"
#define DEBIAN                                                                                                         \
	"PRUNE_BIND_MOUNTS=\"yes\"\n"                                                                                  \
	"# PRUNENAMES=\".git .bzr .hg .svn\"\n"                                                                        \
	"PRUNEPATHS=\"/tmp /var/spool /media /var/lib/os-prober /var/lib/ceph /home/.ecryptfs "                        \
	"/var/lib/schroot\"\n" DEBIAN_PRUNEFS

static char path[64];

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/test_updatedb.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void put(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* updatedb_walks on text, for a mount at mnt. */
static int walks(const char *text, const char *mnt, char *advice)
{
	put(text);
	advice[0] = '\0';
	return updatedb_walks(path, UPDATEDB_FSTYPE, mnt, advice, 256);
}

static void test_debian_walks(void **state)
{
	char advice[256], want[256];

	(void)state;
	assert_int_equal(walks(DEBIAN, "/mnt/registry", advice), 1);
	snprintf(want, sizeof(want), "sed -i 's/^PRUNEFS *= *\"/&fuse.imgtagfs /' %s", path);
	assert_string_equal(advice, want);
	assert_int_equal(walks(DEBIAN, NULL, advice), 1);
	/* Under a pruned path: not walked. */
	assert_int_equal(walks(DEBIAN, "/tmp/imgtagfs-test.x/m", advice), 0);
	assert_int_equal(walks(DEBIAN, "/tmp", advice), 0);
	assert_int_equal(walks(DEBIAN, "/tmpx/m", advice), 1);
	assert_int_equal(walks("PRUNEPATHS=\"/\"\n", "/mnt/registry", advice), 0);
	assert_int_equal(walks("PRUNEPATHS=\"/mnt/\"\n", "/mnt/registry", advice), 0);
}

/* The advice, applied as a shell would, makes updatedb prune the type. */
static void test_advice_works(void **state)
{
	char advice[256];

	(void)state;
	assert_int_equal(walks(DEBIAN, "/mnt/registry", advice), 1);
	assert_int_equal(system(advice), 0);
	assert_int_equal(updatedb_walks(path, UPDATEDB_FSTYPE, "/mnt/registry", advice, sizeof(advice)), 0);
	assert_int_equal(walks("# nothing pruned\n", "/mnt/registry", advice), 1);
	assert_non_null(strstr(advice, "echo 'PRUNEFS=\"fuse.imgtagfs\"' >> "));
	assert_int_equal(system(advice), 0);
	assert_int_equal(updatedb_walks(path, UPDATEDB_FSTYPE, "/mnt/registry", advice, sizeof(advice)), 0);
}

static void test_pruned(void **state)
{
	char advice[256];

	(void)state;
	assert_int_equal(walks("PRUNEFS=\"fuse.sshfs fuse.imgtagfs\"\n", "/mnt/registry", advice), 0);
	assert_int_equal(walks("PRUNEFS = \"FUSE.IMGTAGFS\" # any case\n", "/mnt/registry", advice), 0);
	assert_int_equal(walks("\n  # comment\nPRUNEFS=\"\tfuse.imgtagfs\t\"\n\n", NULL, advice), 0);
	/* Neither "fuse" nor a longer name is this type. */
	assert_int_equal(walks("PRUNEFS=\"fuse fuse.imgtagfsx\"\n", NULL, advice), 1);
}

/* A file updatedb refuses: it does not run, so it walks nothing. */
static void test_refused(void **state)
{
	char advice[256];

	(void)state;
	assert_int_equal(walks(DEBIAN DEBIAN_PRUNEFS, NULL, advice), 0); /* PRUNEFS twice */
	assert_int_equal(walks("PRUNEFS=\"nfs\"\nUNKNOWN=\"x\"\n", NULL, advice), 0);
	assert_int_equal(walks("PRUNEFS=nfs\n", NULL, advice), 0);
	assert_int_equal(walks("PRUNEFS=\"nfs\n", NULL, advice), 0);
	assert_int_equal(walks("PRUNEFS=\"nfs\" x\n", NULL, advice), 0);
	assert_int_equal(walks("PRUNEFS \"nfs\"\n", NULL, advice), 0);
	assert_int_equal(walks("= \"nfs\"\n", NULL, advice), 0);
	assert_int_equal(walks("PRUNEFS=\"nfs\"", NULL, advice), 1); /* no newline at the end: fine */
}

static void test_missing_and_unreadable(void **state)
{
	char advice[256];

	(void)state;
	unlink(path);
	assert_int_equal(updatedb_walks(path, UPDATEDB_FSTYPE, NULL, advice, sizeof(advice)), 1);
	put("PRUNEFS=\"nfs\"\n");
	assert_true(updatedb_present(path));
	assert_int_equal(updatedb_walks("/nonexistent-dir/x/updatedb.conf", UPDATEDB_FSTYPE, NULL, advice, 256), 1);
	assert_true(updatedb_walks("/", UPDATEDB_FSTYPE, NULL, advice, sizeof(advice)) < 0); /* a directory */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_debian_walks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_advice_works, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pruned, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_and_unreadable, setup, teardown),
	};

	return cmocka_run_group_tests_name("updatedb", tests, NULL, NULL);
}
