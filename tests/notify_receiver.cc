#include "tests/notify_receiver.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sstream>

namespace memmon_test {

bool NotifyMessage::Has(const std::string &line) const {
        return Contains(SplitLines(text), line);
}

std::string NotifyMessage::Value(const std::string &key, bool *found) const {
        for (const auto &l : SplitLines(text)) {
                if (l.compare(0, key.size() + 1, key + "=") == 0) {
                        if (found)
                                *found = true;
                        return l.substr(key.size() + 1);
                }
        }
        if (found)
                *found = false;
        return "";
}

NotifyReceiver::NotifyReceiver() {
        sockaddr_un sa = {};
        sa.sun_family = AF_UNIX;
        const char *tmp = getenv("TEST_TMPDIR");
        std::string dir = tmp ? tmp : "/tmp";
        path_ = dir + "/notify." + std::to_string(getpid()) + ".sock";
        if (path_.size() >= sizeof(sa.sun_path)) {
                char tmpl[] = "/tmp/memmon-notify-XXXXXX";
                if (!mkdtemp(tmpl))
                        return;
                dir_ = tmpl;
                path_ = dir_ + "/notify.sock";
        }
        memcpy(sa.sun_path, path_.c_str(), path_.size() + 1);
        unlink(path_.c_str());
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0) {
                close(fd_);
                fd_ = -1;
        }
}

NotifyReceiver::~NotifyReceiver() {
        if (fd_ >= 0)
                close(fd_);
        unlink(path_.c_str());
        if (!dir_.empty())
                rmdir(dir_.c_str());
}

void NotifyReceiver::Pump(Millis timeout) {
        if (fd_ < 0)
                return;
        pollfd p = {fd_, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
                return;
        char buf[4096];
        for (;;) {
                ssize_t n = recv(fd_, buf, sizeof(buf), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return;
                msgs_.push_back({std::chrono::steady_clock::now(), std::string(buf, static_cast<size_t>(n))});
        }
}

bool NotifyReceiver::WaitFor(const std::function<bool()> &pred, Millis timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
                Pump();
                if (pred())
                        return true;
                auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
                if (left.count() <= 0)
                        return false;
                Pump(std::min(left, Millis(50)));
        }
}

int NotifyReceiver::Find(const std::string &line, size_t from) const {
        for (size_t i = from; i < msgs_.size(); i++)
                if (msgs_[i].Has(line))
                        return static_cast<int>(i);
        return -1;
}

int NotifyReceiver::FindPrefix(const std::string &prefix, size_t from) const {
        for (size_t i = from; i < msgs_.size(); i++)
                for (const auto &l : SplitLines(msgs_[i].text))
                        if (l.compare(0, prefix.size(), prefix) == 0)
                                return static_cast<int>(i);
        return -1;
}

size_t NotifyReceiver::Count(const std::string &line, size_t from) const {
        size_t n = 0;
        for (size_t i = from; i < msgs_.size(); i++)
                n += msgs_[i].Has(line);
        return n;
}

std::string NotifyReceiver::Describe() const {
        std::ostringstream o;
        auto t0 = msgs_.empty() ? std::chrono::steady_clock::now() : msgs_[0].at;
        for (size_t i = 0; i < msgs_.size(); i++) {
                std::string t = msgs_[i].text;
                for (auto &c : t)
                        if (c == '\n')
                                c = '|';
                o << i << " +" << std::chrono::duration_cast<Millis>(msgs_[i].at - t0).count() << "ms " << t
                  << "\n";
        }
        return o.str();
}

ScopedEnv::ScopedEnv(const std::string &key, const std::string &value) : key_(key) {
        const char *old = getenv(key.c_str());
        had_ = old != nullptr;
        if (old)
                old_ = old;
        setenv(key.c_str(), value.c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
        if (had_)
                setenv(key_.c_str(), old_.c_str(), 1);
        else
                unsetenv(key_.c_str());
}

} // namespace memmon_test
