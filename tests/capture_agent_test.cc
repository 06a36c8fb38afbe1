// The real agent and `[agent] capture`: the choice and its reason logged
// once at start, eBPF asked for where it cannot run (a user namespace, made
// with unshare), and `agent replay --events` on a chain of format 2.
// no-sandbox: loading BPF needs the initial user namespace; the part that
// needs what the machine lacks skips and says why.
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/ebpf_here.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

constexpr Millis kStart(15000);

class CaptureAgentTest : public BaseDirTest {
      protected:
        // Writes a configuration watching a sleeper with capture = mode.
        std::string Config(const std::string &mode) {
                std::string ini = "[agent]\nbase_dir = .\ninterval = 100ms\ncapture = " + mode +
                                  "\n[target:s]\npid = " + std::to_string(sleeper_.pid()) + "\n";
                EXPECT_TRUE(WriteFile(P("memmon.ini"), ini));
                return P("memmon.ini");
        }
        // Runs the agent in the foreground (under prefix, e.g. unshare)
        // until it has logged its capture, stops it, and returns what it
        // logged.  *code gets its exit code.
        std::string RunUntilCapture(const std::vector<std::string> &prefix, int *code) {
                SpawnOptions o = AgentOptions({"-f", "-c", P("memmon.ini")});
                o.argv.insert(o.argv.begin(), prefix.begin(), prefix.end());
                std::string err;
                auto p = Process::Start(o, &err);
                EXPECT_TRUE(p) << err;
                if (!p)
                        return "";
                bool logged = p->ReadUntil(
                    [&] {
                            return p->err().find("capture: ") != std::string::npos &&
                                   p->err().find("started") != std::string::npos;
                    },
                    kStart);
                EXPECT_TRUE(logged) << p->err();
                p->Signal(SIGTERM);
                EXPECT_TRUE(p->Wait(kStart, code));
                return p->err();
        }

        Sleeper sleeper_;
};

TEST_F(CaptureAgentTest, PollIsLoggedWithItsReason) {
        Config("poll");
        int code = -1;
        std::string log = RunUntilCapture({}, &code);
        EXPECT_EQ(0, code);
        EXPECT_EQ(1u, CountOccurrences(log, "capture: ")) << log;
        EXPECT_NE(std::string::npos, log.find("INFO  [agent] capture: poll (capture = poll)")) << log;
}

TEST_F(CaptureAgentTest, EbpfLoadsWhereItCan) {
        std::string why;
        if (!EbpfHere(&why))
                GTEST_SKIP() << "eBPF capture unavailable here: " << why;
        for (const char *mode : {"auto", "ebpf"}) {
                Config(mode);
                int code = -1;
                std::string log = RunUntilCapture({}, &code);
                EXPECT_EQ(0, code);
                EXPECT_EQ(1u, CountOccurrences(log, "capture: ")) << log;
                EXPECT_NE(std::string::npos, log.find("capture: ebpf (BPF program loaded, lock hook tp_btf)"))
                    << log;
        }
}

// Inside a user namespace capabilities do not count for BPF: auto polls and
// says why; ebpf says so as an error, polls, and the exit code is the same.
TEST_F(CaptureAgentTest, WhereEbpfCannotRunTheAgentPollsAndSaysWhy) {
        SpawnOptions po;
        po.argv = {"/usr/bin/unshare", "--user", "--map-root-user", "/bin/true"};
        RunResult probe = RunProcess(po);
        if (probe.code != 0)
                GTEST_SKIP() << "no user namespaces here: " << probe.Describe();
        const std::vector<std::string> userns = {"/usr/bin/unshare", "--user", "--map-root-user"};
        const std::string reason =
            "runs in a user namespace (a container or a sandbox): BPF needs CAP_BPF and "
            "CAP_PERFMON in the initial one";
        Config("auto");
        int code = -1;
        std::string log = RunUntilCapture(userns, &code);
        EXPECT_EQ(0, code);
        EXPECT_NE(std::string::npos, log.find("INFO  [agent] capture: poll (" + reason + ")")) << log;
        EXPECT_EQ(std::string::npos, log.find("ERROR")) << log;

        Config("ebpf");
        log = RunUntilCapture(userns, &code);
        EXPECT_EQ(0, code);
        EXPECT_NE(std::string::npos, log.find("ERROR [agent] capture = ebpf, but eBPF cannot run here: " +
                                              reason + "; polling instead"))
            << log;
        EXPECT_NE(std::string::npos, log.find("capture: poll (" + reason + ")")) << log;
}

// A copy of a chain of tests/testdata (runfiles are symlinks, which the
// readers do not follow).
std::string CopyChain(const std::string &name, const std::string &to) {
        std::string from = Runfile("tests/testdata/" + name);
        for (const char *sub : {"full", "incremental"}) {
                mkdir(to.c_str(), 0700);
                mkdir((to + "/" + sub).c_str(), 0700);
                for (const auto &n : ListDir(from + "/" + sub))
                        EXPECT_TRUE(WriteFile(to + "/" + sub + "/" + n,
                                              ReadFileOr(from + "/" + sub + "/" + n), 0600));
        }
        return to;
}

TEST_F(CaptureAgentTest, ReplayEventsPrintsTheEventsOfARange) {
        std::string dir = CopyChain("chain_v2", P("v2"));
        RunResult r = RunAgent({"replay", dir, "--events"});
        ASSERT_EQ(0, r.code) << r.Describe();
        std::vector<std::string> lines = SplitLines(r.out);
        ASSERT_EQ(13u, lines.size()) << r.out;
        EXPECT_EQ("20261125T183327.900000Z seq 2 execve by 1234/1234", lines[0]);
        EXPECT_EQ("20261125T183327.900000Z seq 3 mmap by 1234/1234 hint=0 len=0x22000 offset=0 prot=r-- "
                  "flags=0x802 file=fe:00 247134 /usr/bin/cat",
                  lines[1]);
        EXPECT_EQ(
            "incremental/diff_1234_20261125T183330.500000Z.diff: 1 events lost in the interval before it",
            lines[6]);
        EXPECT_EQ(
            "20261125T183330.100000Z seq 11 mmap by 1234/1234 hint=0 len=0x1000 offset=0 prot=rwx flags=0x22",
            lines[7]);
        // The hostile name, escaped for the terminal.
        EXPECT_EQ(
            "20261125T183330.900000Z seq 14 mmap by 1234/1240 hint=0 len=0x1000 offset=0 prot=r-x flags=0x2 "
            "file=08:02 99 /tmp/evil\\x0aname \\\\ \\x7fx",
            lines[11]);

        // A range: --from is the start of its second, --to the end of its.
        r = RunAgent(
            {"replay", dir, "--events", "--from", "2026-11-25T18:33:30Z", "--to=20261125T183330.1Z"});
        ASSERT_EQ(0, r.code) << r.Describe();
        lines = SplitLines(r.out);
        ASSERT_EQ(4u, lines.size()) << r.out;
        EXPECT_EQ(0u, lines[0].find("incremental/diff_1234_20261125T183330.500000Z.diff: 1 events lost"));
        EXPECT_EQ(0u, lines[1].find("20261125T183330.100000Z seq 11 mmap"));
        EXPECT_EQ(0u, lines[2].find("20261125T183330.100100Z seq 11 addr"));
        EXPECT_EQ(0u, lines[3].find("20261125T183330.100100Z seq 12 munmap"));

        for (const std::vector<std::string> &bad :
             std::vector<std::vector<std::string>>{{"replay", dir, "--from", "20261125T183330Z"},
                                                   {"replay", dir, "--events", "--at", "20261125T183330Z"},
                                                   {"replay", dir, "--events", "--to", "yesterday"}}) {
                r = RunAgent(bad);
                EXPECT_EQ(64, r.code) << r.Describe();
        }

        // A bad file is named; what the good ones hold is still printed.
        std::string last = dir + "/incremental/diff_1234_20261125T183331.000003Z.diff";
        std::string text = ReadFileOr(last);
        text.replace(text.find("# seq 14"), 8, "# seq 13");
        ASSERT_TRUE(WriteFile(last, text, 0600));
        r = RunAgent({"replay", dir, "--events"});
        EXPECT_EQ(65, r.code) << r.Describe();
        EXPECT_EQ(10u, SplitLines(r.out).size()) << r.out;
        EXPECT_NE(std::string::npos, r.err.find(last + ": line 12: event seq 14 is after the file's seq 13"))
            << r.err;
}

} // namespace
} // namespace memmon_test
