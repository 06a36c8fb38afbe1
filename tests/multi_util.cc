#include "tests/multi_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

namespace memmon_test {

bool CopyFile(const std::string &src, const std::string &dst, mode_t mode) {
        std::string data;
        if (!ReadFile(src, &data))
                return false;
        if (!WriteFile(dst, data, mode))
                return false;
        // WriteFile's mode is filtered by the umask.
        return chmod(dst.c_str(), mode) == 0;
}

bool CopyTree(const std::string &src, const std::string &dst) {
        if (mkdir(dst.c_str(), 0700) < 0 && errno != EEXIST)
                return false;
        for (const auto &name : ListDir(src)) {
                std::string from = src + "/" + name, to = dst + "/" + name;
                struct stat st;
                // stat, not lstat: runfiles are symlinks.
                if (stat(from.c_str(), &st) < 0)
                        return false;
                if (S_ISDIR(st.st_mode)) {
                        if (!CopyTree(from, to))
                                return false;
                } else if (!CopyFile(from, to, 0600)) {
                        return false;
                }
        }
        return true;
}

unsigned long long ProcStartTime(pid_t pid) {
        std::string stat;
        if (!ReadFile("/proc/" + std::to_string(pid) + "/stat", &stat))
                return 0;
        size_t p = stat.rfind(')');
        if (p == std::string::npos)
                return 0;
        // After ')' comes field 3 (state); starttime is field 22.
        std::istringstream in(stat.substr(p + 1));
        std::string f;
        for (int field = 3; field <= 22; field++) {
                if (!(in >> f))
                        return 0;
        }
        return strtoull(f.c_str(), nullptr, 10);
}

bool ProcessNamedExists(const std::string &name) {
        std::string self = std::to_string(getpid());
        for (const auto &pid : ListDir("/proc")) {
                if (pid.find_first_not_of("0123456789") != std::string::npos || pid == self)
                        continue;
                std::string comm = ReadFileOr("/proc/" + pid + "/comm");
                if (!comm.empty() && comm.back() == '\n')
                        comm.pop_back();
                if (comm == name)
                        return true;
                std::string exe = ReadLink("/proc/" + pid + "/exe");
                const std::string del = " (deleted)";
                if (exe.size() > del.size() && exe.compare(exe.size() - del.size(), del.size(), del) == 0)
                        exe.resize(exe.size() - del.size());
                size_t slash = exe.rfind('/');
                if (!exe.empty() && exe.substr(slash == std::string::npos ? 0 : slash + 1) == name)
                        return true;
        }
        return false;
}

bool ReplaceFile(const std::string &path, const std::string &data) {
        std::string tmp = path + ".tmp";
        return WriteFile(tmp, data, 0644) && rename(tmp.c_str(), path.c_str()) == 0;
}

std::string HeaderField(const std::string &text, const std::string &key) {
        const std::string prefix = "# " + key + " ";
        for (const auto &l : SplitLines(text)) {
                if (l.empty() || l[0] != '#')
                        break;
                if (l.compare(0, prefix.size(), prefix) == 0)
                        return l.substr(prefix.size());
        }
        return "";
}

namespace {

// backup_<PID>_<TS>.maps or diff_<PID>_<TS>.diff
bool ParseBackupName(const std::string &name, BackupFile *f) {
        size_t a = name.find('_');
        size_t b = a == std::string::npos ? a : name.find('_', a + 1);
        size_t dot = name.rfind('.');
        if (b == std::string::npos || dot == std::string::npos || dot < b)
                return false;
        f->name_pid = static_cast<pid_t>(strtol(name.c_str() + a + 1, nullptr, 10));
        f->ts = name.substr(b + 1, dot - b - 1);
        return true;
}

} // namespace

std::vector<BackupFile> ReadChain(const std::string &dir) {
        std::vector<BackupFile> v;
        for (const char *sub : {"full", "incremental"}) {
                for (const auto &name : ListDir(dir + "/" + sub)) {
                        if (name.empty() || name[0] == '.')
                                continue;
                        BackupFile f;
                        f.name = name;
                        f.path = dir + "/" + sub + "/" + name;
                        f.full = strcmp(sub, "full") == 0;
                        if (!ParseBackupName(name, &f))
                                continue;
                        f.text = ReadFileOr(f.path);
                        f.pid = HeaderField(f.text, "pid");
                        f.start = HeaderField(f.text, "start_time");
                        v.push_back(std::move(f));
                }
        }
        std::sort(v.begin(), v.end(), [](const BackupFile &x, const BackupFile &y) { return x.ts < y.ts; });
        return v;
}

std::string ChainMixesInstances(const std::vector<BackupFile> &chain) {
        const BackupFile *head = nullptr;
        for (const auto &f : chain) {
                if (f.full) {
                        head = &f;
                        continue;
                }
                if (!head)
                        return f.name + " comes before any full snapshot";
                if (f.pid != head->pid || f.start != head->start)
                        return f.name + " (pid " + f.pid + ", start " + f.start + ") follows " + head->name +
                               " (pid " + head->pid + ", start " + head->start + ")";
                if (std::to_string(f.name_pid) != f.pid)
                        return f.name + " is named for another pid than its header's " + f.pid;
        }
        return "";
}

namespace {

// Splits a monitor.log line "STAMP LEVEL [tag] message" into tag and
// message.  Returns false for a line of another shape.
bool SplitLogLine(const std::string &line, std::string *tag, std::string *msg) {
        size_t open = line.find(" [");
        if (open == std::string::npos)
                return false;
        size_t close = line.find("] ", open + 2);
        if (close == std::string::npos)
                return false;
        *tag = line.substr(open + 2, close - open - 2);
        *msg = line.substr(close + 2);
        return true;
}

} // namespace

std::vector<std::string> ReplyTo(const std::string &log, const std::string &cmd, size_t nth) {
        std::vector<std::string> reply;
        const std::string want = "command: " + cmd;
        size_t seen = 0;
        bool in = false;
        for (const auto &l : SplitLines(log)) {
                std::string tag, msg;
                if (!SplitLogLine(l, &tag, &msg) || tag != "agent")
                        continue;
                bool is_cmd = msg.compare(0, 9, "command: ") == 0;
                if (in) {
                        if (is_cmd)
                                break;
                        reply.push_back(msg);
                        continue;
                }
                if (msg == want && seen++ == nth)
                        in = true;
        }
        return reply;
}

size_t CommandCount(const std::string &log, const std::string &cmd) {
        size_t n = 0;
        for (const auto &l : SplitLines(log)) {
                std::string tag, msg;
                if (SplitLogLine(l, &tag, &msg) && tag == "agent" && msg == "command: " + cmd)
                        n++;
        }
        return n;
}

std::vector<std::string> TaggedMessages(const std::string &log, const std::string &tag) {
        std::vector<std::string> v;
        for (const auto &l : SplitLines(log)) {
                std::string t, msg;
                if (SplitLogLine(l, &t, &msg) && t == tag)
                        v.push_back(msg);
        }
        return v;
}

} // namespace memmon_test
