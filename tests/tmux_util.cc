#include "tests/tmux_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace memmon_test {

std::string ShellQuote(const std::string &s) {
        std::string q = "'";
        for (char c : s)
                q += c == '\'' ? std::string("'\\''") : std::string(1, c);
        return q + "'";
}

Tmux::~Tmux() {
        if (!sock_.empty()) {
                (void)Run({"kill-server"});
                unlink(sock_.c_str());
                rmdir(dir_.c_str());
        }
}

bool Tmux::Start(const std::string &command, std::string *err, int width, int height) {
        char tmpl[] = "/tmp/memmon-tmux-XXXXXX";
        if (!mkdtemp(tmpl)) {
                *err = "mkdtemp failed";
                return false;
        }
        dir_ = tmpl;
        sock_ = dir_ + "/s";
        RunResult r =
            Run({"-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", std::to_string(width), "-y",
                 std::to_string(height), command, ";", "set-option", "-t", "t", "remain-on-exit", "on"});
        if (r.code != 0)
                *err = r.Describe();
        return r.code == 0;
}

void Tmux::Keys(const std::vector<std::string> &keys) {
        std::vector<std::string> a = {"send-keys", "-t", "t"};
        a.insert(a.end(), keys.begin(), keys.end());
        RunResult r = Run(a);
        EXPECT_EQ(0, r.code) << r.Describe();
}

void Tmux::Type(const std::string &text) {
        RunResult r = Run({"send-keys", "-t", "t", "-l", text});
        EXPECT_EQ(0, r.code) << r.Describe();
}

bool Tmux::Resize(int width, int height) {
        RunResult r =
            Run({"resize-window", "-t", "t", "-x", std::to_string(width), "-y", std::to_string(height)});
        EXPECT_EQ(0, r.code) << r.Describe();
        return r.code == 0;
}

std::string Tmux::Screen() {
        std::string s = Run({"capture-pane", "-p", "-J", "-t", "t"}).out;
        std::string out;
        for (auto &l : SplitLines(s)) {
                l.erase(l.find_last_not_of(' ') + 1);
                out += l + "\n";
        }
        out.erase(out.find_last_not_of('\n') + 1);
        return out;
}

std::string Tmux::ScreenAnsi() {
        return Run({"capture-pane", "-p", "-e", "-N", "-t", "t"}).out;
}

std::string Tmux::Size() {
        std::string s = Run({"display-message", "-p", "-t", "t", "#{pane_width}x#{pane_height}"}).out;
        s.erase(s.find_last_not_of('\n') + 1);
        return s;
}

std::string Tmux::LastLine() {
        std::string s = Screen();
        size_t p = s.rfind('\n');
        return p == std::string::npos ? s : s.substr(p + 1);
}

bool Tmux::WaitScreen(const std::function<bool(const std::string &)> &pred, Millis timeout) {
        return WaitFor([&] { return pred(Screen()); }, timeout, Millis(20));
}

bool Tmux::WaitLastLine(const std::string &line, Millis timeout) {
        return WaitFor([&] { return LastLine() == line; }, timeout, Millis(20));
}

bool Tmux::WaitText(const std::string &text, Millis timeout) {
        return WaitScreen([&](const std::string &s) { return s.find(text) != std::string::npos; }, timeout);
}

RunResult Tmux::Run(const std::vector<std::string> &args) {
        SpawnOptions o;
        o.argv = {kTmux, "-S", sock_};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        return RunProcess(o, Millis(10000));
}

} // namespace memmon_test
