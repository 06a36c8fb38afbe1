// multi_util: helpers for the multi-target integration tests (multi_test.cc)
// on top of testutil: a workload started from any path (a renamed copy, for
// `match` targets), process start times, backup chains read back from the
// files, and the replies to FIFO commands picked out of monitor.log.
#ifndef MEMMON_TESTS_MULTI_UTIL_H
#define MEMMON_TESTS_MULTI_UTIL_H

#include <stdint.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/testutil.h"

namespace memmon_test {

// Copies the file src to dst with the given mode (for a renamed copy of the
// workload).  Returns false on any error.
bool CopyFile(const std::string &src, const std::string &dst, mode_t mode);

// Every regular file in src copied to dst (created 0700), recursively.
bool CopyTree(const std::string &src, const std::string &dst);

// The start time of pid (field 22 of /proc/PID/stat, clock ticks since
// boot), or 0 when it does not exist.
unsigned long long ProcStartTime(pid_t pid);

// True when some process other than the caller has this comm or exe
// basename (as a `match` target would find it).
bool ProcessNamedExists(const std::string &name);

// Writes data to path atomically (a temp file next to it, then rename), as
// a service rewrites its pid file.
bool ReplaceFile(const std::string &path, const std::string &data);

// A workload (bench/workload protocol) started from any path, e.g. a copy
// named so that a `match` target finds it.  The destructor kills it.
class NamedWorkload : public Workload {
      public:
        bool Start(const std::string &path, std::string *err, const std::vector<std::string> &args = {}) {
                return StartAt(path, err, args);
        }
};

// One backup file of a target (backups/<target>/full or incremental).
struct BackupFile {
        std::string path;
        std::string name;
        bool full = false;
        std::string ts;     // the timestamp in its name
        pid_t name_pid = 0; // the pid in its name
        std::string pid;    // its "# pid" header
        std::string start;  // its "# start_time" header
        std::string text;
};

// The value of the "# key value" header line of a backup file, or "".
std::string HeaderField(const std::string &text, const std::string &key);

// Every full snapshot and diff of backups/<target> (dir), in time order
// (timestamps are unique per target).  Temp files are skipped.
std::vector<BackupFile> ReadChain(const std::string &dir);

// Checks that every diff of the chain belongs to the instance of the full
// snapshot that starts it (same "# pid" and "# start_time").  Returns "" or
// a description of the first diff that does not.
std::string ChainMixesInstances(const std::vector<BackupFile> &chain);

// The messages ("Target: web", "Current PID: 12", ...) of the [agent] lines
// of a monitor.log text that follow the nth (0-based) line whose message is
// exactly "command: CMD", up to the next command line.
std::vector<std::string> ReplyTo(const std::string &log, const std::string &cmd, size_t nth);

// How many lines of a monitor.log text log the command cmd.
size_t CommandCount(const std::string &log, const std::string &cmd);

// The messages of the lines of log tagged [tag].
std::vector<std::string> TaggedMessages(const std::string &log, const std::string &tag);

} // namespace memmon_test

#endif
