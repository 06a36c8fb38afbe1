#include "tests/tmux_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <utility>

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

namespace {

// The 16 colours of a dark terminal theme (Tango's), then the xterm 256.
std::string Colour(int n) {
        static const char *const base[16] = {"#2e3436", "#cc0000", "#4e9a06", "#c4a000", "#3465a4", "#75507b",
                                             "#06989a", "#d3d7cf", "#555753", "#ef2929", "#8ae234", "#fce94f",
                                             "#729fcf", "#ad7fa8", "#34e2e2", "#eeeeec"};
        if (n >= 0 && n < 16)
                return base[n];
        char b[8];
        if (n >= 16 && n < 232) {
                static const int level[6] = {0, 95, 135, 175, 215, 255};
                int v = n - 16;
                snprintf(b, sizeof(b), "#%02x%02x%02x", level[v / 36], level[v / 6 % 6], level[v % 6]);
        } else {
                int g = 8 + 10 * (n - 232);
                snprintf(b, sizeof(b), "#%02x%02x%02x", g, g, g);
        }
        return b;
}

struct Sgr {
        int fg = -1, bg = -1; // -1: the default
        bool bold = false, dim = false, underline = false, reverse = false;

        void Apply(const std::vector<int> &codes) {
                for (size_t i = 0; i < codes.size(); i++) {
                        int c = codes[i];
                        if (c == 0)
                                *this = Sgr();
                        else if (c == 1)
                                bold = true;
                        else if (c == 2)
                                dim = true;
                        else if (c == 4)
                                underline = true;
                        else if (c == 7)
                                reverse = true;
                        else if (c == 22)
                                bold = dim = false;
                        else if (c == 24)
                                underline = false;
                        else if (c == 27)
                                reverse = false;
                        else if (c >= 30 && c <= 37)
                                fg = c - 30;
                        else if (c >= 90 && c <= 97)
                                fg = c - 90 + 8;
                        else if (c == 39)
                                fg = -1;
                        else if (c >= 40 && c <= 47)
                                bg = c - 40;
                        else if (c >= 100 && c <= 107)
                                bg = c - 100 + 8;
                        else if (c == 49)
                                bg = -1;
                        else if ((c == 38 || c == 48) && i + 2 < codes.size() && codes[i + 1] == 5)
                                (c == 38 ? fg : bg) = codes[i + 2], i += 2;
                }
        }
        std::string Style() const {
                std::string f = fg < 0 ? "#d3d7cf" : Colour(bold && fg < 8 ? fg + 8 : fg);
                std::string b = bg < 0 ? "#1c1f22" : Colour(bg);
                if (reverse)
                        std::swap(f, b);
                std::string s = "color:" + f + ";background:" + b;
                if (bold)
                        s += ";font-weight:bold";
                if (dim)
                        s += ";opacity:.6";
                if (underline)
                        s += ";text-decoration:underline";
                return s;
        }
};

void AppendEscaped(std::string *out, char c) {
        if (c == '&')
                *out += "&amp;";
        else if (c == '<')
                *out += "&lt;";
        else if (c == '>')
                *out += "&gt;";
        else
                *out += c;
}

} // namespace

std::string AnsiScreenToHtml(const std::string &ansi, const std::string &title) {
        std::string html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>";
        for (char c : title)
                AppendEscaped(&html, c);
        html += "</title><style>html,body{margin:0;background:#1c1f22}"
                "pre{margin:0;padding:10px 12px;font:14px/1.3 'DejaVu Sans Mono',monospace;color:#d3d7cf}"
                "</style></head><body><pre>";
        Sgr sgr;
        for (const std::string &line : SplitLines(ansi)) {
                std::string text;
                auto flush = [&] {
                        if (!text.empty())
                                html += "<span style=\"" + sgr.Style() + "\">" + text + "</span>";
                        text.clear();
                };
                for (size_t i = 0; i < line.size(); i++) {
                        if (line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
                                size_t end = line.find_first_of("ABCDEFGHJKSTfmnsu", i + 2);
                                if (end == std::string::npos)
                                        break;
                                if (line[end] == 'm') {
                                        flush();
                                        std::vector<int> codes;
                                        std::string arg = line.substr(i + 2, end - i - 2);
                                        size_t p = 0;
                                        do {
                                                size_t q = arg.find(';', p);
                                                std::string n =
                                                    arg.substr(p, q == std::string::npos ? q : q - p);
                                                codes.push_back(n.empty() ? 0
                                                                          : static_cast<int>(strtol(
                                                                                n.c_str(), nullptr, 10)));
                                                p = q == std::string::npos ? q : q + 1;
                                        } while (p != std::string::npos);
                                        sgr.Apply(codes);
                                }
                                i = end;
                                continue;
                        }
                        AppendEscaped(&text, line[i]);
                }
                flush();
                html += "\n";
        }
        return html + "</pre></body></html>\n";
}

} // namespace memmon_test
