// The -i prompt.  On a real terminal (a tmux pane, driven with send-keys
// and read with capture-pane): Tab completion of command words and @target
// names, history recalled with the Up arrow and kept in ~/.memmon_history
// only where that is safe (a HOME of another user, a symlink or a hard link
// planted there), Ctrl-D, and the control loop still serving the FIFO and
// the watchdog while a person is typing.  Through a pipe: a last line
// without a newline still runs, with the same output as with one.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/notify_receiver.h"
#include "tests/testutil.h"
#include "tests/tmux_util.h"

namespace memmon_test {
namespace {

constexpr Millis kShort(5000);
constexpr Millis kLong(15000);

class PromptTest : public BaseDirTest {
      protected:
        void SetUp() override {
                BaseDirTest::SetUp();
                if (HasFatalFailure())
                        return;
                if (access(kTmux, X_OK) != 0)
                        GTEST_SKIP()
                            << "tmux is not installed (Debian: tmux); the terminal prompt is not tested";
                std::string err;
                ASSERT_TRUE(wl_.Start(&err)) << err;
                wpid_ = std::to_string(wl_.pid());
                home_ = P("home");
                ASSERT_EQ(0, mkdir(home_.c_str(), 0700));
        }
        void TearDown() override {
                if (HasFailure() && tmux_)
                        fprintf(stderr, "screen:\n%s\n", tmux_->Screen().c_str());
                tmux_.reset();
                BaseDirTest::TearDown();
        }

        // Runs `agent ARGS -i` in a tmux pane with HOME=home_ (and env, a
        // list of NAME=VALUE) and waits for its first prompt.
        void StartAgent(const std::vector<std::string> &args, const std::vector<std::string> &env = {}) {
                // A shell stays behind to print the agent's exit status.
                std::string run =
                    "cd " + ShellQuote(dir_) + "; env -u BUILD_WORKING_DIRECTORY HOME=" + ShellQuote(home_);
                for (const auto &e : env)
                        run += " " + ShellQuote(e);
                run += " " + ShellQuote(AgentPath());
                for (const auto &a : args)
                        run += " " + ShellQuote(a);
                run += " -i 2>" + ShellQuote(P("agent.stderr")) + "; echo AGENT-EXIT=$?";
                tmux_ = std::make_unique<Tmux>();
                std::string err;
                ASSERT_TRUE(tmux_->Start("sh -c " + ShellQuote(run), &err)) << err;
                ASSERT_TRUE(tmux_->WaitText(">>>", kLong)) << ReadFileOr(P("agent.stderr"));
        }

        // Types a command, presses Enter, and waits for text in the reply.
        void Ask(const std::string &cmd, const std::string &expect) {
                tmux_->Type(cmd);
                tmux_->Keys({"Enter"});
                EXPECT_TRUE(tmux_->WaitText(expect)) << "after " << cmd;
        }

        void QuitAndExpectExit() {
                Ask("quit", "AGENT-EXIT=0");
        }

        Workload wl_;
        std::string wpid_, home_;
        std::unique_ptr<Tmux> tmux_;
};

TEST_F(PromptTest, TabCompletesCommandWordsAndTargets) {
        ASSERT_TRUE(WriteFile(P("memmon.ini"),
                              "[agent]\nbase_dir = .\n[target:web]\npid = " + wpid_ +
                                  "\n[target:webdb]\npid = " + wpid_ + "\n",
                              0600));
        ASSERT_NO_FATAL_FAILURE(StartAgent({"-c", "memmon.ini"}));

        tmux_->Type("sta");
        tmux_->Keys({"Tab"});
        EXPECT_TRUE(tmux_->WaitLastLine(">>> status")) << tmux_->Screen();
        tmux_->Keys({"Enter"});
        EXPECT_TRUE(tmux_->WaitText("Target: webdb")) << tmux_->Screen();

        // Two names start with "@w": Tab adds what they share, then lists them.
        tmux_->Type("@w");
        tmux_->Keys({"Tab"});
        EXPECT_TRUE(tmux_->WaitLastLine(">>> @web")) << tmux_->Screen();
        tmux_->Keys({"Tab"});
        EXPECT_TRUE(tmux_->WaitText("@web  @webdb")) << tmux_->Screen();
        tmux_->Type("db");
        tmux_->Keys({"Tab"});
        EXPECT_TRUE(tmux_->WaitLastLine(">>> @webdb")) << tmux_->Screen();
        // After @target, command words.
        tmux_->Type("inter");
        tmux_->Keys({"Tab"});
        EXPECT_TRUE(tmux_->WaitLastLine(">>> @webdb interval")) << tmux_->Screen();
        tmux_->Type("2s");
        tmux_->Keys({"Enter"});
        EXPECT_TRUE(tmux_->WaitText("Interval changed to: 2000000 us")) << tmux_->Screen();

        // "p" is pid or pause: listed, and the line is left as it was.
        tmux_->Type("p");
        tmux_->Keys({"Tab"});
        EXPECT_TRUE(tmux_->WaitText("pid  pause")) << tmux_->Screen();
        EXPECT_TRUE(tmux_->WaitLastLine(">>> p")) << tmux_->Screen();
        tmux_->Keys({"C-u"});
        QuitAndExpectExit();
}

TEST_F(PromptTest, HistoryIsRecalledAndKeptPrivately) {
        ASSERT_NO_FATAL_FAILURE(StartAgent({"-p", wpid_}));
        Ask("status", "Status: running");
        Ask("backup", "Manual backup created");
        tmux_->Keys({"Up"});
        EXPECT_TRUE(tmux_->WaitLastLine(">>> backup")) << tmux_->Screen();
        tmux_->Keys({"Up"});
        EXPECT_TRUE(tmux_->WaitLastLine(">>> status")) << tmux_->Screen();
        tmux_->Keys({"Down"});
        EXPECT_TRUE(tmux_->WaitLastLine(">>> backup")) << tmux_->Screen();
        tmux_->Keys({"C-u"});
        QuitAndExpectExit();

        std::string hist = home_ + "/.memmon_history";
        EXPECT_EQ(0600, FileMode(hist));
        EXPECT_EQ("status\nbackup\nquit\n", ReadFileOr(hist));

        // The next session starts with it.
        ASSERT_NO_FATAL_FAILURE(StartAgent({"-p", wpid_}));
        tmux_->Keys({"Up"});
        EXPECT_TRUE(tmux_->WaitLastLine(">>> quit")) << tmux_->Screen();
        tmux_->Keys({"Up"});
        EXPECT_TRUE(tmux_->WaitLastLine(">>> backup")) << tmux_->Screen();
        tmux_->Keys({"C-u"});
        tmux_->Keys({"C-d"});
        EXPECT_TRUE(tmux_->WaitText("Exiting...")) << tmux_->Screen();
        EXPECT_TRUE(tmux_->WaitText("AGENT-EXIT=0")) << tmux_->Screen();
        EXPECT_EQ("status\nbackup\nquit\n", ReadFileOr(hist)) << "Ctrl-D is not a command";
}

// As under `sudo -E`: HOME belongs to another user.  Root must neither read
// nor write files there; history stays in memory and the prompt says why.
// Bazel's sandbox maps uid 0 only, so chown fails there: this test runs
// again outside it as //tests:prompt_sudo_test.
TEST_F(PromptTest, HomeOfAnotherUserIsNotWritten) {
        ASSERT_TRUE(WriteFile(home_ + "/.memmon_history", "pid 1\n", 0600));
        if (chown(home_.c_str(), 65534, 65534) != 0 ||
            chown((home_ + "/.memmon_history").c_str(), 65534, 65534) != 0)
                GTEST_SKIP() << "cannot give a folder to uid 65534 here (" << strerror(errno)
                             << "); //tests:prompt_sudo_test runs this outside the sandbox";
        ASSERT_NO_FATAL_FAILURE(StartAgent({"-p", wpid_}));
        EXPECT_TRUE(tmux_->WaitText("history kept in memory only: " + home_ + " belongs to uid 65534"))
            << tmux_->Screen();
        Ask("status", "Status: running");
        tmux_->Keys({"Up"});
        EXPECT_TRUE(tmux_->WaitLastLine(">>> status")) << tmux_->Screen();
        tmux_->Keys({"Up"});
        EXPECT_TRUE(tmux_->WaitLastLine(">>> status"))
            << "another user's history was read: " << tmux_->Screen();
        tmux_->Keys({"C-u"});
        QuitAndExpectExit();
        EXPECT_EQ((std::vector<std::string>{".memmon_history"}), ListDir(home_));
        EXPECT_EQ("pid 1\n", ReadFileOr(home_ + "/.memmon_history"));
}

// A HOME that others may write to is not used either: they could swap
// the file between our check and our write.
TEST_F(PromptTest, HomeOthersMayWriteIsNotWritten) {
        ASSERT_EQ(0, chmod(home_.c_str(), 0777));
        ASSERT_NO_FATAL_FAILURE(StartAgent({"-p", wpid_}));
        EXPECT_TRUE(tmux_->WaitText("history kept in memory only: others may write to " + home_))
            << tmux_->Screen();
        QuitAndExpectExit();
        EXPECT_TRUE(ListDir(home_).empty());
}

// A symlink or a hard link at ~/.memmon_history is never written through
// (nor replaced).
TEST_F(PromptTest, PlantedLinksAreNotWrittenThrough) {
        ASSERT_TRUE(WriteFile(P("victim"), "precious\n", 0600));
        for (const std::string kind : {"symlink", "hardlink"}) {
                std::string hist = home_ + "/.memmon_history";
                unlink(hist.c_str());
                if (kind == "symlink")
                        ASSERT_EQ(0, symlink(P("victim").c_str(), hist.c_str()));
                else
                        ASSERT_EQ(0, link(P("victim").c_str(), hist.c_str()));
                ASSERT_NO_FATAL_FAILURE(StartAgent({"-p", wpid_}));
                Ask("status", "Status: running");
                if (kind == "symlink") {
                        tmux_->Keys({"Up"});
                        tmux_->Keys({"Up"});
                        EXPECT_TRUE(tmux_->WaitLastLine(">>> status"))
                            << "the symlink was read: " << tmux_->Screen();
                        tmux_->Keys({"C-u"});
                }
                QuitAndExpectExit();
                EXPECT_TRUE(WaitFor(
                    [&] {
                            return ReadFileOr(P("agent.stderr")).find("history not saved") !=
                                   std::string::npos;
                    },
                    kShort))
                    << kind << ": " << ReadFileOr(P("agent.stderr"));
                EXPECT_EQ("precious\n", ReadFileOr(P("victim"))) << kind;
                EXPECT_EQ(kind == "symlink", IsSymlink(hist)) << kind;
                tmux_.reset();
        }
}

// While a person types, the loop still serves the FIFO, signals and the
// watchdog, even with half a line or a lone Escape (which makes libedit wait
// for the next key) on the terminal.
TEST_F(PromptTest, TypingDoesNotBlockTheAgent) {
        NotifyReceiver rx;
        ASSERT_TRUE(rx.ok());
        ASSERT_NO_FATAL_FAILURE(
            StartAgent({"-p", wpid_}, {"NOTIFY_SOCKET=" + rx.path(), "WATCHDOG_USEC=200000"}));
        tmux_->Type("sta");
        tmux_->Keys({"Escape"});
        ASSERT_TRUE(WriteFifo(P("logs/daemon_fifo"), "backup\n"));
        EXPECT_TRUE(WaitFor(
            [&] {
                    return ReadFileOr(P("logs/monitor.log")).find("Manual backup created") !=
                           std::string::npos;
            },
            kShort))
            << ReadFileOr(P("logs/monitor.log"));
        size_t from = rx.messages().size();
        EXPECT_TRUE(rx.WaitFor([&] { return rx.Count("WATCHDOG=1", from) >= 3; }, kShort)) << rx.Describe();
        // The half-typed line is still there to finish.
        tmux_->Keys({"C-e"});
        tmux_->Type("tus");
        tmux_->Keys({"Enter"});
        EXPECT_TRUE(tmux_->WaitText("Status: running")) << tmux_->Screen();
        QuitAndExpectExit();
}

TEST_F(PromptTest, OverlongLineIsRejected) {
        ASSERT_NO_FATAL_FAILURE(StartAgent({"-p", wpid_}));
        tmux_->Type(std::string(5000, 'x'));
        tmux_->Keys({"Enter"});
        EXPECT_TRUE(tmux_->WaitText("Command rejected: line of 5000 bytes is longer than 4096"))
            << tmux_->Screen();
        tmux_->Keys({"C-l"});
        Ask("status", "Status: running");
        QuitAndExpectExit();
}

// Not a terminal: the prompt is printed after each reply as before, and a
// last line without a newline runs exactly as with one.
TEST_F(PromptTest, PipedLastLineWithoutNewlineRuns) {
        std::string out[2];
        for (int i = 0; i < 2; i++) {
                SpawnOptions o;
                o.argv = {AgentPath(), "-p", wpid_, "-i"};
                o.cwd = dir_;
                std::string err;
                auto agent = Process::Start(o, &err);
                ASSERT_TRUE(agent) << err;
                ASSERT_TRUE(agent->WriteStdin(i == 0 ? "targets\nbackup\n" : "targets\nbackup"));
                agent->CloseStdin();
                int code = -1;
                ASSERT_TRUE(agent->Wait(kLong, &code));
                EXPECT_EQ(0, code) << agent->err();
                out[i] = agent->out();
        }
        EXPECT_NE(std::string::npos, out[1].find("Manual backup created")) << out[1];
        EXPECT_EQ(out[0], out[1]);
        EXPECT_EQ(0u, out[1].find(">>> NAME")) << out[1];
        EXPECT_EQ(">>> Manual backup created\n>>> \nExiting...\n", out[1].substr(out[1].find(">>> Manual")))
            << out[1];
}

} // namespace
} // namespace memmon_test
