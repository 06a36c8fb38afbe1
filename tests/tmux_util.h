// tmux_util: a terminal for tests of programs that draw on one (the -i
// prompt, `agent top`): a tmux server of the test's own with one pane,
// driven with send-keys and read with capture-pane.
#ifndef MEMMON_TESTS_TMUX_UTIL_H
#define MEMMON_TESTS_TMUX_UTIL_H

#include <functional>
#include <string>
#include <vector>

#include "tests/testutil.h"

namespace memmon_test {

constexpr char kTmux[] = "/usr/bin/tmux";

// Single quotes for sh.
std::string ShellQuote(const std::string &s);

// A tmux server of its own (socket under /tmp: $TEST_TMPDIR is too long for
// sun_path) with one pane running a shell command.  The pane stays after
// the command ends, so that its last words can be read.
class Tmux {
      public:
        ~Tmux();

        bool Start(const std::string &command, std::string *err, int width = 120, int height = 40);

        // Keys as tmux names them ("Tab", "Up", "C-d", "Enter").
        void Keys(const std::vector<std::string> &keys);
        // Text typed as it is.
        void Type(const std::string &text);
        // Makes the window (and its pane) width x height: the program in it
        // gets a SIGWINCH.
        bool Resize(int width, int height);
        // The screen, one line per row (a wrapped line joined), trailing
        // blanks and empty rows removed.
        std::string Screen();
        // The screen as it is, every row (blanks kept), with the escape
        // sequences of its colours and attributes (capture-pane -e).
        std::string ScreenAnsi();
        // The pane's size, "WIDTHxHEIGHT".
        std::string Size();
        // The last row that is not empty.
        std::string LastLine();
        bool WaitScreen(const std::function<bool(const std::string &)> &pred, Millis timeout = Millis(5000));
        bool WaitLastLine(const std::string &line, Millis timeout = Millis(5000));
        bool WaitText(const std::string &text, Millis timeout = Millis(5000));

      private:
        RunResult Run(const std::vector<std::string> &args);

        std::string dir_, sock_;
};

// A screen as capture-pane -e gives it (SGR escape sequences for colours
// and attributes), as a page of its own: one <pre> of spans on a dark
// terminal's palette, the text HTML-escaped.  For pictures of a terminal
// program (docs/top.png).
std::string AnsiScreenToHtml(const std::string &ansi, const std::string &title);

} // namespace memmon_test

#endif
