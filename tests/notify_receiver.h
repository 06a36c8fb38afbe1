// notify_receiver: a stand-in for systemd's end of the sd_notify(3)
// protocol: an AF_UNIX datagram socket that records every message with the
// time it arrived, and a guard that sets NOTIFY_SOCKET (and friends) for the
// processes a test starts.
#ifndef MEMMON_TESTS_NOTIFY_RECEIVER_H
#define MEMMON_TESTS_NOTIFY_RECEIVER_H

#include <chrono>
#include <string>
#include <vector>

#include "tests/testutil.h"

namespace memmon_test {

struct NotifyMessage {
        std::chrono::steady_clock::time_point at;
        std::string text; // the datagram, e.g. "RELOADING=1\nMONOTONIC_USEC=123"
        // True when one of its lines is exactly line ("READY=1").
        bool Has(const std::string &line) const;
        // The value of KEY=value, or "" (with *found false).
        std::string Value(const std::string &key, bool *found = nullptr) const;
};

class NotifyReceiver {
      public:
        // Binds a socket in $TEST_TMPDIR, or in a fresh folder under /tmp
        // when that path is too long for sun_path.  ok() tells.
        NotifyReceiver();
        ~NotifyReceiver();
        NotifyReceiver(const NotifyReceiver &) = delete;
        NotifyReceiver &operator=(const NotifyReceiver &) = delete;

        bool ok() const {
                return fd_ >= 0;
        }
        const std::string &path() const {
                return path_;
        }
        // Reads what has arrived (waiting up to timeout for the first one).
        void Pump(Millis timeout = Millis(0));
        // Pumps until pred() or the deadline.
        bool WaitFor(const std::function<bool()> &pred, Millis timeout);
        // Every message so far.
        const std::vector<NotifyMessage> &messages() const {
                return msgs_;
        }
        // Index of the first message at or after from with the line, or -1.
        int Find(const std::string &line, size_t from = 0) const;
        // Index of the first message at or after from with a line that
        // starts with prefix, or -1.
        int FindPrefix(const std::string &prefix, size_t from = 0) const;
        // Messages at or after from with the line.
        size_t Count(const std::string &line, size_t from = 0) const;
        // Every message, one per line, for failure output.
        std::string Describe() const;

      private:
        int fd_ = -1;
        std::string path_, dir_;
        std::vector<NotifyMessage> msgs_;
};

// Sets environment variables for the life of the guard (the test's own
// environment, which Process::Start hands down) and restores them after.
class ScopedEnv {
      public:
        ScopedEnv(const std::string &key, const std::string &value);
        ~ScopedEnv();
        ScopedEnv(const ScopedEnv &) = delete;
        ScopedEnv &operator=(const ScopedEnv &) = delete;

      private:
        std::string key_, old_;
        bool had_ = false;
};

} // namespace memmon_test

#endif
