// reliability_util: helpers of the fault-injection tests (reliability_test)
// on top of testutil: reading backup files as the tests check them, the
// privileges a test needs (another uid, mounts), the fds of a process, and
// the figures the tests report.
#ifndef MEMMON_TESTS_RELIABILITY_UTIL_H
#define MEMMON_TESTS_RELIABILITY_UTIL_H

#include <stdint.h>
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "tests/testutil.h"

namespace memmon_test {

// Lines of text holding both a and b (b may be empty).
size_t CountLinesWith(const std::string &text, const std::string &a, const std::string &b = "");

// A backup file's "# KEY VALUE" header lines (up to the first line that is not
// one), its event lines (format 2), and where they end.
struct BackupHeader {
        std::map<std::string, std::string> fields;
        size_t event_lines = 0;
        size_t end = 0; // offset of the first byte after the header and events
};
BackupHeader ParseBackupHeader(const std::string &text);

// True when text is a complete backup file (what a reader may see under a
// final name): for a full snapshot ("# memmon full 1" or "2") every header
// line is there, `bytes` is exactly what follows the header and events, and
// the text ends with a newline; for a diff ("# memmon diff 1" or "2") the
// record lines match `records` and the file ends with "# end\n"; in both,
// the event lines match `events` (none without it).  Checksums are left to
// `agent verify`.
// *why says what is wrong.
bool BackupComplete(const std::string &text, std::string *why);

// The final-named backup files of one target folder (DIR/full/* and
// DIR/incremental/*, dotfiles left out), as paths, sorted by name within each.
std::vector<std::string> FinalBackups(const std::string &dir);
// The temp files (.tmp.*) in DIR/full and DIR/incremental, as paths.
std::vector<std::string> TempBackups(const std::string &dir);

// XXH3-64 of a maps text, as memmon writes it in headers (16 hex digits).
std::string ChecksumHex(const std::string &text);

// Files and their identities, for "changes nothing it found".
struct FileFacts {
        bool exists = false;
        dev_t dev = 0;
        ino_t ino = 0;
        uid_t uid = 0;
        gid_t gid = 0;
        mode_t mode = 0; // st_mode, type included
        off_t size = 0;
        std::string content; // regular files only
        std::string link;    // symlinks only
};
FileFacts Facts(const std::string &path); // lstat
std::string DescribeFacts(const FileFacts &f);
bool SameFacts(const FileFacts &a, const FileFacts &b);

// Every regular file under root with its content, keyed by path.
std::map<std::string, std::string> SnapshotTree(const std::string &root);

// The privileges a test may need, probed rather than assumed.  Each returns
// "" when available, or why not.
std::string CanChownTo(const std::string &scratch_dir, uid_t uid);
std::string CanRunAs(uid_t uid); // setresuid in a child
std::string HaveSetpriv();       // util-linux setpriv can run a program as uid 65534

// Moves this process (and the children it starts afterwards) into a mount
// namespace of its own with private propagation, so that mounts made by the
// test vanish with it.  Works only while the process has one thread.  Returns
// "" or why it failed.  Idempotent.
std::string PrivateMountNamespace();
// mount -t tmpfs -o OPTIONS tmpfs DIR.  Returns "" or strerror.
std::string MountTmpfs(const std::string &dir, const std::string &options);
std::string Unmount(const std::string &dir);

// The open fds of pid (numbers), and for each what it points to and its
// open flags (from /proc/PID/fdinfo, octal), or -1.
std::vector<int> OpenFds(pid_t pid);
std::string FdTarget(pid_t pid, int fd);
long FdFlags(pid_t pid, int fd);
// The fds of this process that a child started now would inherit (no
// FD_CLOEXEC), other than 0, 1 and 2.
std::vector<int> InheritableFds();

// The value of NAME in the environment as a positive number, or dflt.
unsigned long EnvNumber(const char *name, unsigned long dflt);

// Copies src to dst with the given mode.  Returns "" or why not.
std::string CopyFile(const std::string &src, const std::string &dst, mode_t mode);

// The start time (field 22 of /proc/PID/stat) of pid, or 0.
uint64_t StartTime(pid_t pid);

// A fresh folder made with mkdtemp(parent/prefix_XXXXXX), or "".
std::string MakeDirUnder(const std::string &parent, const std::string &prefix);
// rm -rf path (best effort; never follows symlinks).
void RemoveTree(const std::string &path);

} // namespace memmon_test

#endif
