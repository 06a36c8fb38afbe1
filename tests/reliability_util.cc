#include "tests/reliability_util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "core/maps.h"
#include "tests/testutil.h"

namespace memmon_test {

size_t CountLinesWith(const std::string &text, const std::string &a, const std::string &b) {
        size_t n = 0;
        for (const auto &l : SplitLines(text))
                if (l.find(a) != std::string::npos && (b.empty() || l.find(b) != std::string::npos))
                        n++;
        return n;
}

BackupHeader ParseBackupHeader(const std::string &text) {
        BackupHeader h;
        size_t pos = 0;
        while (pos < text.size() && text.compare(pos, 2, "# ") == 0) {
                size_t nl = text.find('\n', pos);
                if (nl == std::string::npos)
                        break;
                std::string line = text.substr(pos + 2, nl - pos - 2);
                size_t sp = line.find(' ');
                std::string key = sp == std::string::npos ? line : line.substr(0, sp);
                std::string value = sp == std::string::npos ? "" : line.substr(sp + 1);
                // "# end" closes a diff: it is a trailer, not a header line.
                if (key == "end")
                        break;
                h.fields[key] = value;
                pos = nl + 1;
                // The maps text of a full snapshot follows "# checksum", or
                // (format 2) its "# lost" and "# events" lines.
                if (key == "checksum" && text.compare(pos, 7, "# lost ") != 0 &&
                    text.compare(pos, 9, "# events ") != 0)
                        break;
                if (key == "events")
                        break;
        }
        // Format 2: the event lines come after the header.
        while (pos < text.size() && text[pos] == '!') {
                size_t nl = text.find('\n', pos);
                if (nl == std::string::npos)
                        break;
                h.event_lines++;
                pos = nl + 1;
        }
        h.end = pos;
        return h;
}

namespace {

bool ParseCount(const std::map<std::string, std::string> &f, const std::string &key,
                unsigned long long *ret) {
        auto it = f.find(key);
        if (it == f.end() || it->second.empty() ||
            it->second.find_first_not_of("0123456789") != std::string::npos)
                return false;
        *ret = strtoull(it->second.c_str(), nullptr, 10);
        return true;
}

// The event lines of h are as many as its "# events" says.
bool EventsComplete(const BackupHeader &h, std::string *why) {
        unsigned long long events = 0;
        if (h.fields.count("events") && !ParseCount(h.fields, "events", &events)) {
                *why = "bad '# events'";
                return false;
        }
        if (events != h.event_lines) {
                *why = "events says " + std::to_string(events) + ", the file has " +
                       std::to_string(h.event_lines);
                return false;
        }
        return true;
}

} // namespace

bool BackupComplete(const std::string &text, std::string *why) {
        if (text.compare(0, 16, "# memmon full 1\n") == 0 || text.compare(0, 16, "# memmon full 2\n") == 0) {
                BackupHeader h = ParseBackupHeader(text);
                if (!EventsComplete(h, why))
                        return false;
                for (const char *k :
                     {"target", "pid", "start_time", "time", "regions", "bytes", "checksum"}) {
                        if (!h.fields.count(k)) {
                                *why = std::string("full snapshot without '# ") + k + "'";
                                return false;
                        }
                }
                unsigned long long bytes;
                if (!ParseCount(h.fields, "bytes", &bytes)) {
                        *why = "bad '# bytes'";
                        return false;
                }
                if (text.size() - h.end != bytes) {
                        *why = "bytes says " + std::to_string(bytes) + ", " +
                               std::to_string(text.size() - h.end) + " follow the header";
                        return false;
                }
                if (bytes > 0 && text.back() != '\n') {
                        *why = "the maps text does not end with a newline";
                        return false;
                }
                return true;
        }
        if (text.compare(0, 16, "# memmon diff 1\n") == 0 || text.compare(0, 16, "# memmon diff 2\n") == 0) {
                BackupHeader h = ParseBackupHeader(text);
                if (!EventsComplete(h, why))
                        return false;
                unsigned long long records;
                if (!ParseCount(h.fields, "records", &records)) {
                        *why = "diff without a good '# records'";
                        return false;
                }
                if (text.size() < 6 || text.compare(text.size() - 6, 6, "# end\n") != 0) {
                        *why = "diff does not end with '# end'";
                        return false;
                }
                unsigned long long n = 0;
                for (const auto &l : SplitLines(text.substr(h.end))) {
                        if (l.size() >= 2 && (l[0] == '+' || l[0] == '-' || l[0] == '<') && l[1] == ' ')
                                n++;
                }
                if (n != records) {
                        *why =
                            "records says " + std::to_string(records) + ", the diff has " + std::to_string(n);
                        return false;
                }
                return true;
        }
        *why = "no '# memmon full N' or '# memmon diff N' first line (" + std::to_string(text.size()) +
               " bytes)";
        return false;
}

std::vector<std::string> FinalBackups(const std::string &dir) {
        std::vector<std::string> v;
        for (const char *sub : {"full", "incremental"})
                for (const auto &n : ListDir(dir + "/" + sub))
                        if (!n.empty() && n[0] != '.')
                                v.push_back(dir + "/" + sub + "/" + n);
        return v;
}

std::vector<std::string> TempBackups(const std::string &dir) {
        std::vector<std::string> v;
        for (const char *sub : {"full", "incremental"})
                for (const auto &n : ListDir(dir + "/" + sub))
                        if (n.compare(0, 5, ".tmp.") == 0)
                                v.push_back(dir + "/" + sub + "/" + n);
        return v;
}

std::string ChecksumHex(const std::string &text) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%016llx",
                 static_cast<unsigned long long>(maps_checksum(text.data(), text.size())));
        return buf;
}

FileFacts Facts(const std::string &path) {
        FileFacts f;
        struct stat st;
        if (lstat(path.c_str(), &st) < 0)
                return f;
        f.exists = true;
        f.dev = st.st_dev;
        f.ino = st.st_ino;
        f.uid = st.st_uid;
        f.gid = st.st_gid;
        f.mode = st.st_mode;
        f.size = st.st_size;
        if (S_ISREG(st.st_mode))
                f.content = ReadFileOr(path);
        if (S_ISLNK(st.st_mode))
                f.link = ReadLink(path);
        return f;
}

std::string DescribeFacts(const FileFacts &f) {
        if (!f.exists)
                return "(missing)";
        char buf[256];
        snprintf(buf, sizeof(buf), "ino %llu uid %u gid %u mode %06o size %lld",
                 static_cast<unsigned long long>(f.ino), static_cast<unsigned>(f.uid),
                 static_cast<unsigned>(f.gid), static_cast<unsigned>(f.mode), static_cast<long long>(f.size));
        std::string s = buf;
        if (!f.link.empty())
                s += " -> " + f.link;
        return s;
}

bool SameFacts(const FileFacts &a, const FileFacts &b) {
        return a.exists == b.exists && a.dev == b.dev && a.ino == b.ino && a.uid == b.uid && a.gid == b.gid &&
               a.mode == b.mode && a.size == b.size && a.content == b.content && a.link == b.link;
}

std::map<std::string, std::string> SnapshotTree(const std::string &root) {
        std::map<std::string, std::string> m;
        for (const auto &p : ListTree(root)) {
                struct stat st;
                if (lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode))
                        m[p] = ReadFileOr(p);
        }
        return m;
}

std::string CanChownTo(const std::string &scratch_dir, uid_t uid) {
        std::string p = scratch_dir + "/.chown_probe";
        if (!WriteFile(p, "", 0600))
                return "cannot create " + p;
        int r = chown(p.c_str(), uid, static_cast<gid_t>(-1));
        int e = errno;
        unlink(p.c_str());
        if (r < 0)
                return "chown to uid " + std::to_string(uid) + ": " + strerror(e);
        return "";
}

std::string CanRunAs(uid_t uid) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return std::string("pipe: ") + strerror(errno);
        pid_t pid = fork();
        if (pid == 0) {
                int e = 0;
                if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                        e = errno;
                ssize_t w = write(p[1], &e, sizeof(e));
                (void)w;
                _exit(0);
        }
        close(p[1]);
        if (pid < 0) {
                close(p[0]);
                return std::string("fork: ") + strerror(errno);
        }
        int e = -1;
        ssize_t n;
        do
                n = read(p[0], &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        close(p[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (n != static_cast<ssize_t>(sizeof(e)))
                return "the probe child said nothing";
        if (e != 0)
                return "setresuid(" + std::to_string(uid) + "): " + strerror(e);
        return "";
}

std::string HaveSetpriv() {
        if (access("/usr/bin/setpriv", X_OK) != 0)
                return "/usr/bin/setpriv (util-linux) is not installed";
        SpawnOptions o;
        o.argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/true"};
        RunResult r = RunProcess(o, Millis(10000));
        if (r.code != 0)
                return "setpriv --reuid=65534 fails: " + r.Describe();
        return "";
}

std::string PrivateMountNamespace() {
        static std::string result = [] {
                if (unshare(CLONE_NEWNS) < 0)
                        return std::string("unshare(CLONE_NEWNS): ") + strerror(errno);
                if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
                        return std::string("mount --make-rprivate /: ") + strerror(errno);
                return std::string();
        }();
        return result;
}

std::string MountTmpfs(const std::string &dir, const std::string &options) {
        if (mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) < 0)
                return strerror(errno);
        return "";
}

std::string Unmount(const std::string &dir) {
        if (umount2(dir.c_str(), MNT_DETACH) < 0)
                return strerror(errno);
        return "";
}

std::vector<int> OpenFds(pid_t pid) {
        std::vector<int> v;
        for (const auto &n : ListDir("/proc/" + std::to_string(pid) + "/fd"))
                if (!n.empty() && n.find_first_not_of("0123456789") == std::string::npos)
                        v.push_back(atoi(n.c_str()));
        std::sort(v.begin(), v.end());
        return v;
}

std::string FdTarget(pid_t pid, int fd) {
        return ReadLink("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd));
}

long FdFlags(pid_t pid, int fd) {
        std::string info = ReadFileOr("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd));
        size_t p = info.find("flags:");
        if (p == std::string::npos)
                return -1;
        return strtol(info.c_str() + p + 6, nullptr, 8);
}

std::vector<int> InheritableFds() {
        std::vector<int> v;
        for (int fd : OpenFds(getpid())) {
                int flags = fcntl(fd, F_GETFD);
                if (fd > 2 && flags >= 0 && !(flags & FD_CLOEXEC))
                        v.push_back(fd);
        }
        return v;
}

unsigned long EnvNumber(const char *name, unsigned long dflt) {
        const char *s = getenv(name);
        if (!s || !*s)
                return dflt;
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        return (*end == '\0' && v > 0) ? v : dflt;
}

std::string CopyFile(const std::string &src, const std::string &dst, mode_t mode) {
        std::string data;
        if (!ReadFile(src, &data))
                return "cannot read " + src;
        if (!WriteFile(dst, data, mode))
                return "cannot write " + dst;
        if (chmod(dst.c_str(), mode) < 0)
                return "chmod " + dst + ": " + strerror(errno);
        return "";
}

uint64_t StartTime(pid_t pid) {
        std::string stat = ReadFileOr("/proc/" + std::to_string(pid) + "/stat");
        size_t p = stat.rfind(')');
        if (p == std::string::npos)
                return 0;
        // Field 3 (state) follows ')'; the start time is field 22.
        size_t i = p + 1;
        for (int field = 3; field <= 22; field++) {
                while (i < stat.size() && stat[i] == ' ')
                        i++;
                size_t j = i;
                while (j < stat.size() && stat[j] != ' ')
                        j++;
                if (field == 22)
                        return strtoull(stat.substr(i, j - i).c_str(), nullptr, 10);
                i = j;
        }
        return 0;
}

std::string MakeDirUnder(const std::string &parent, const std::string &prefix) {
        std::string templ = parent + "/" + prefix + "_XXXXXX";
        std::vector<char> buf(templ.begin(), templ.end());
        buf.push_back('\0');
        if (!mkdtemp(buf.data()))
                return "";
        return std::string(buf.data());
}

void RemoveTree(const std::string &path) {
        struct stat st;
        if (path.empty() || lstat(path.c_str(), &st) < 0)
                return;
        if (S_ISDIR(st.st_mode)) {
                for (const auto &n : ListDir(path))
                        RemoveTree(path + "/" + n);
                rmdir(path.c_str());
        } else {
                unlink(path.c_str());
        }
}

} // namespace memmon_test
