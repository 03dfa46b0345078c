/* updatedb.h — would the system's updatedb(8) (plocate, mlocate) walk an
 * imgtagfs mount? Its daily run reads every directory it does not prune,
 * which through imgtagfs is every listing of the registry: API calls by
 * the thousand. A package may not edit another's conffile, so --check
 * says what to add to /etc/updatedb.conf instead.
 *
 * The file is read as updatedb reads it (updatedb.conf(5)): lines
 * VARIABLE = "VALUE", '#' comments; PRUNEFS names filesystem types (as
 * /proc/self/mountinfo shows them, fuse.imgtagfs here; matched without
 * regard to case), PRUNEPATHS directories that are not entered (nor
 * anything below them). A variable given twice, or any other error,
 * makes updatedb refuse the whole file, so advice extends the PRUNEFS
 * line there is rather than adding one.
 * Pure but for reading the file: thread-safe.
 */
#ifndef IMGTAGFS_UPDATEDB_H
#define IMGTAGFS_UPDATEDB_H

#include <stdbool.h>
#include <stddef.h>

#define UPDATEDB_CONF "/etc/updatedb.conf"
#define UPDATEDB_FSTYPE "fuse.imgtagfs"

/* True when an updatedb is installed here (a program of that name, or
 * its configuration file conf). */
bool updatedb_present(const char *conf);

/* 1 when updatedb, configured by conf (a missing file prunes nothing),
 * would walk a mount of type fstype at mountpoint (NULL: wherever it is;
 * PRUNEPATHS is then not consulted), and then the one command that stops
 * it into advice (n bytes); 0 when it would not, or when conf is a file
 * updatedb refuses (it runs not at all); -errno when conf cannot be read
 * (-EFBIG past 64 KiB). */
int updatedb_walks(const char *conf, const char *fstype, const char *mountpoint, char *advice, size_t n);

#endif
