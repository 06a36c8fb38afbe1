// Metrics: the Prometheus text format writer (core/prom.h), memmon's series
// (core/metrics.h), the atomic writer of the metrics file into a trusted
// folder (core/trusted_dir.h), and Debian's real prometheus-node-exporter
// reading that file through its textfile collector and serving it over
// HTTP on a loopback port.
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/metrics.h"
#include "core/prom.h"
#include "core/strbuf.h"
#include "core/trusted_dir.h"
#include "tests/testutil.h"

namespace memmon_test {
namespace {

constexpr Millis kLong(15000);
constexpr char kExporter[] = "/usr/bin/prometheus-node-exporter";

class Text {
      public:
        Text() {
                strbuf_init(&b_);
        }
        ~Text() {
                strbuf_fini(&b_);
        }
        strbuf *get() {
                return &b_;
        }
        std::string str() const {
                return strbuf_str(&b_);
        }

      private:
        strbuf b_;
};

TEST(Prom, FamiliesSamplesAndEscaping) {
        Text t;
        prom_writer w;
        prom_writer_init(&w, t.get());
        ASSERT_EQ(0, prom_family(&w, "x_total", PROM_COUNTER, "Help with \\ and\na newline."));
        prom_label l[2] = {{"target", "we\"b\\1\nx"}, {"kind", ""}};
        ASSERT_EQ(0, prom_sample_u64(&w, l, 2, 18446744073709551615ull));
        ASSERT_EQ(0, prom_family(&w, "g", PROM_GAUGE, "A gauge."));
        ASSERT_EQ(0, prom_sample(&w, nullptr, 0, 0.5));
        ASSERT_EQ(0, prom_sample(&w, nullptr, 0, 1e21));
        ASSERT_EQ(0, prom_sample(&w, nullptr, 0, NAN));
        ASSERT_EQ(0, prom_sample(&w, nullptr, 0, -INFINITY));
        ASSERT_EQ(0, prom_sample(&w, nullptr, 0, 1764520000.123456));
        EXPECT_EQ(0, prom_writer_error(&w));
        EXPECT_EQ("# HELP x_total Help with \\\\ and\\na newline.\n"
                  "# TYPE x_total counter\n"
                  "x_total{target=\"we\\\"b\\\\1\\nx\",kind=\"\"} 18446744073709551615\n"
                  "# HELP g A gauge.\n"
                  "# TYPE g gauge\n"
                  "g 0.5\n"
                  "g 1e+21\n"
                  "g NaN\n"
                  "g -Inf\n"
                  "g 1764520000.123456\n",
                  t.str());
}

TEST(Prom, BadNamesAndMisuseAreStickyErrors) {
        struct Case {
                const char *name;
                prom_type type;
        } bad[] = {{"", PROM_GAUGE},           {"1abc", PROM_GAUGE},    {"a-b", PROM_GAUGE},
                   {"diffs", PROM_COUNTER},    {"x_total", PROM_GAUGE}, {"a b", PROM_GAUGE},
                   {"h_total", PROM_HISTOGRAM}};
        for (const auto &c : bad) {
                Text t;
                prom_writer w;
                prom_writer_init(&w, t.get());
                EXPECT_EQ(-EINVAL, prom_family(&w, c.name, c.type, "h")) << c.name;
                EXPECT_EQ(-EINVAL, prom_family(&w, "fine", PROM_GAUGE, "h")) << "sticky";
                EXPECT_EQ(-EINVAL, prom_writer_error(&w));
        }
        for (const char *label : {"__reserved", "9x", "a:b", ""}) {
                Text t;
                prom_writer w;
                prom_writer_init(&w, t.get());
                ASSERT_EQ(0, prom_family(&w, "g", PROM_GAUGE, "h"));
                prom_label l = {label, "v"};
                EXPECT_EQ(-EINVAL, prom_sample(&w, &l, 1, 1)) << label;
        }
        {
                Text t;
                prom_writer w;
                prom_writer_init(&w, t.get());
                EXPECT_EQ(-EINVAL, prom_sample(&w, nullptr, 0, 1)) << "a sample before any family";
        }
        {
                Text t;
                prom_writer w;
                prom_writer_init(&w, t.get());
                ASSERT_EQ(0, prom_family(&w, "g", PROM_GAUGE, "h"));
                prom_histogram h = {};
                EXPECT_EQ(-EINVAL, prom_histogram_write(&w, nullptr, 0, &h))
                    << "a histogram in a gauge family";
        }
        {
                Text t;
                prom_writer w;
                prom_writer_init(&w, t.get());
                ASSERT_EQ(0, prom_family(&w, "h_seconds", PROM_HISTOGRAM, "h"));
                prom_histogram h = {};
                prom_label le = {"le", "1"};
                EXPECT_EQ(-EINVAL, prom_histogram_write(&w, &le, 1, &h)) << "le is the writer's";
        }
}

TEST(Prom, HistogramIsCumulative) {
        prom_histogram h = {};
        prom_histogram_observe(&h, 0.00005); // first bucket
        prom_histogram_observe(&h, 0.0001);  // le is inclusive
        prom_histogram_observe(&h, 0.003);   // 0.005
        prom_histogram_observe(&h, 60);      // +Inf only
        Text t;
        prom_writer w;
        prom_writer_init(&w, t.get());
        ASSERT_EQ(0, prom_family(&w, "d_seconds", PROM_HISTOGRAM, "h"));
        prom_label l = {"target", "a"};
        ASSERT_EQ(0, prom_histogram_write(&w, &l, 1, &h));
        std::string s = t.str();
        EXPECT_NE(std::string::npos, s.find("d_seconds_bucket{target=\"a\",le=\"0.0001\"} 2\n")) << s;
        EXPECT_NE(std::string::npos, s.find("d_seconds_bucket{target=\"a\",le=\"0.0025\"} 2\n")) << s;
        EXPECT_NE(std::string::npos, s.find("d_seconds_bucket{target=\"a\",le=\"0.005\"} 3\n")) << s;
        EXPECT_NE(std::string::npos, s.find("d_seconds_bucket{target=\"a\",le=\"10\"} 3\n")) << s;
        EXPECT_NE(std::string::npos, s.find("d_seconds_bucket{target=\"a\",le=\"+Inf\"} 4\n")) << s;
        EXPECT_NE(std::string::npos, s.find("d_seconds_sum{target=\"a\"} 60.00315\n")) << s;
        EXPECT_NE(std::string::npos, s.find("d_seconds_count{target=\"a\"} 4\n")) << s;
        EXPECT_EQ(PROM_DURATION_BUCKETS + 3u, CountOccurrences(s, "\nd_seconds_"));
}

// Two targets with every series of issue 11.
std::vector<metrics_target> SampleTargets() {
        static const metrics_rule_count web_alerts[] = {{"wx", 2}, {"anon_exec", 1}};
        metrics_target web = {};
        web.name = "web";
        web.selector = "pidfile /run/nginx \"x\".pid";
        web.state = TARGET_ATTACHED;
        web.regions = 42;
        web.mapped_bytes[METRICS_ANON] = 4096;
        web.mapped_bytes[METRICS_FILE] = 1048576;
        web.mapped_bytes[METRICS_HEAP] = 135168;
        web.mapped_bytes[METRICS_STACK] = 135168;
        web.mapped_bytes[METRICS_OTHER] = 8192;
        web.exec_bytes = 65536;
        web.diffs = 12;
        web.full_backups = 3;
        web.unstable = 2;
        web.alerts = web_alerts;
        web.n_alerts = 2;
        prom_histogram_observe(&web.sample_duration, 0.0002);
        prom_histogram_observe(&web.sample_duration, 0.03);
        web.last_change = 1764520000.5;
        web.backup_bytes = 123456;
        web.write_errors = 1;
        metrics_target db = {};
        db.name = "db";
        db.selector = "match postgres";
        db.state = TARGET_WAITING;
        return {web, db};
}

TEST(Metrics, EverySeriesOfEveryTarget) {
        auto targets = SampleTargets();
        Text t;
        ASSERT_EQ(0, metrics_write(t.get(), "0.1.0", targets.data(), targets.size()));
        std::string s = t.str();
        for (const char *line : {
                 "memmon_build_info{version=\"0.1.0\"} 1\n",
                 "memmon_target_info{target=\"web\",selector=\"pidfile /run/nginx \\\"x\\\".pid\"} 1\n",
                 "memmon_target_state{target=\"web\",state=\"running\"} 1\n",
                 "memmon_target_state{target=\"web\",state=\"waiting\"} 0\n",
                 "memmon_target_state{target=\"db\",state=\"waiting\"} 1\n",
                 "memmon_regions{target=\"web\"} 42\n",
                 "memmon_mapped_bytes{target=\"web\",kind=\"file\"} 1048576\n",
                 "memmon_mapped_bytes{target=\"db\",kind=\"anon\"} 0\n",
                 "memmon_exec_bytes{target=\"web\"} 65536\n",
                 "memmon_diffs_total{target=\"web\"} 12\n",
                 "memmon_full_backups_total{target=\"web\"} 3\n",
                 "memmon_unstable_samples_total{target=\"web\"} 2\n",
                 "memmon_unstable_samples_total{target=\"db\"} 0\n",
                 "memmon_alerts_total{target=\"web\",rule=\"wx\"} 2\n",
                 "memmon_sample_duration_seconds_count{target=\"web\"} 2\n",
                 "memmon_last_change_timestamp_seconds{target=\"web\"} 1764520000.5\n",
                 "memmon_backup_bytes{target=\"web\"} 123456\n",
                 "memmon_write_errors_total{target=\"web\"} 1\n",
                 "# TYPE memmon_sample_duration_seconds histogram\n",
                 "# TYPE memmon_diffs_total counter\n",
             })
                EXPECT_NE(std::string::npos, s.find(line)) << line << "\n" << s;
        EXPECT_EQ(std::string::npos, s.find("memmon_last_change_timestamp_seconds{target=\"db\"}"))
            << "no change yet, no timestamp";
        EXPECT_EQ(6u, CountOccurrences(s, "memmon_target_state{target=\"db\""));
        // Each family once: samples are grouped.
        EXPECT_EQ(1u, CountOccurrences(s, "# TYPE memmon_regions "));

        // Without alerts the family is left out.
        targets[0].n_alerts = 0;
        Text t2;
        ASSERT_EQ(0, metrics_write(t2.get(), "0.1.0", targets.data(), targets.size()));
        EXPECT_EQ(std::string::npos, t2.str().find("memmon_alerts_total"));
}

class TrustedDirTest : public BaseDirTest {};

TEST_F(TrustedDirTest, ReplacesAtomicallyWithTheModeAskedFor) {
        std::string dir = P("textfile");
        ASSERT_EQ(0, mkdir(dir.c_str(), 0755));
        char why[512] = "";
        mode_t old = umask(077);
        int r = trusted_dir_replace_file((dir + "/memmon.prom").c_str(), "a 1\n", 4, 0644, why, sizeof(why));
        umask(old);
        ASSERT_EQ(0, r) << why;
        EXPECT_EQ("a 1\n", ReadFileOr(dir + "/memmon.prom"));
        EXPECT_EQ(0644, FileMode(dir + "/memmon.prom")) << "node_exporter's own user reads it";

        // A symlink planted at the name is replaced, never written through.
        ASSERT_TRUE(WriteFile(P("victim"), "precious\n", 0600));
        ASSERT_EQ(0, unlink((dir + "/memmon.prom").c_str()));
        ASSERT_EQ(0, symlink(P("victim").c_str(), (dir + "/memmon.prom").c_str()));
        ASSERT_EQ(
            0, trusted_dir_replace_file((dir + "/memmon.prom").c_str(), "b 2\n", 4, 0644, why, sizeof(why)))
            << why;
        EXPECT_EQ("precious\n", ReadFileOr(P("victim")));
        EXPECT_FALSE(IsSymlink(dir + "/memmon.prom"));
        EXPECT_EQ("b 2\n", ReadFileOr(dir + "/memmon.prom"));
        EXPECT_EQ(std::vector<std::string>{"memmon.prom"}, ListDir(dir)) << "no temp file left";

        // A failed write leaves the old file and no temp file.
        ASSERT_EQ(0, mkdir((dir + "/taken").c_str(), 0700));
        EXPECT_GT(0, trusted_dir_replace_file((dir + "/taken").c_str(), "c 3\n", 4, 0644, why, sizeof(why)));
        EXPECT_NE(std::string::npos, std::string(why).find("taken")) << why;
        EXPECT_EQ((std::vector<std::string>{"memmon.prom", "taken"}), ListDir(dir));
}

TEST_F(TrustedDirTest, FoldersOthersCanChangeAreRefused) {
        char why[512] = "";
        // The folder itself is group-writable.
        std::string dir = P("group");
        ASSERT_EQ(0, mkdir(dir.c_str(), 0700));
        ASSERT_EQ(0, chmod(dir.c_str(), 0775));
        EXPECT_EQ(-EPERM,
                  trusted_dir_replace_file((dir + "/m.prom").c_str(), "x\n", 2, 0644, why, sizeof(why)));
        EXPECT_NE(std::string::npos, std::string(why).find(dir + " is writable by its group")) << why;
        EXPECT_TRUE(ListDir(dir).empty());

        // A folder above it is writable by others (who could rename it).
        std::string top = P("open"), inner = top + "/inner";
        ASSERT_EQ(0, mkdir(top.c_str(), 0700));
        ASSERT_EQ(0, mkdir(inner.c_str(), 0755));
        ASSERT_EQ(0, chmod(top.c_str(), 0777));
        EXPECT_EQ(-EPERM,
                  trusted_dir_replace_file((inner + "/m.prom").c_str(), "x\n", 2, 0644, why, sizeof(why)));
        EXPECT_NE(std::string::npos,
                  std::string(why).find(top + " is writable by its group and others (mode 0777)"))
            << why;
        EXPECT_TRUE(ListDir(inner).empty());
        // Sticky, as /tmp: others may add their own, not move ours.
        ASSERT_EQ(0, chmod(top.c_str(), 01777));
        EXPECT_EQ(0, trusted_dir_replace_file((inner + "/m.prom").c_str(), "x\n", 2, 0644, why, sizeof(why)))
            << why;
        // But the program the agent runs (alert_exec) is held to the strict
        // rule: every folder above it root's or ours and closed.
        EXPECT_EQ(-EPERM, trusted_dir_open(inner.c_str(), why, sizeof(why)));

        // Owned by another user (not possible in Bazel's sandbox, which maps
        // uid 0 only): refused for the folder itself; above it, as Debian's
        // /var/lib/prometheus (the prometheus user's) above the root-owned
        // node-exporter folder, it is fine.
        std::string theirs = P("theirs"), ours = theirs + "/ours";
        ASSERT_EQ(0, mkdir(theirs.c_str(), 0755));
        ASSERT_EQ(0, mkdir(ours.c_str(), 0755));
        if (chown(theirs.c_str(), 65534, 65534) == 0) {
                EXPECT_EQ(-EPERM, trusted_dir_replace_file((theirs + "/m.prom").c_str(), "x\n", 2, 0644, why,
                                                           sizeof(why)));
                EXPECT_NE(std::string::npos, std::string(why).find("belongs to uid 65534")) << why;
                EXPECT_EQ(
                    0, trusted_dir_replace_file((ours + "/m.prom").c_str(), "x\n", 2, 0644, why, sizeof(why)))
                    << why;
        } else {
                fprintf(stderr, "skipped the other-owner case: chown: %s\n", strerror(errno));
        }

        // A missing folder.
        EXPECT_EQ(-ENOENT, trusted_dir_open(P("missing/x").c_str(), why, sizeof(why)));
}

// A free loopback TCP port (bound and released: the exporter takes it next).
int FreePort() {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa = {};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(sa);
        if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0 ||
            getsockname(fd, reinterpret_cast<sockaddr *>(&sa), &len) < 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        close(fd);
        return ntohs(sa.sin_port);
}

// GET path from 127.0.0.1:port; the body, or "" on any failure.
std::string HttpGet(int port, const std::string &path) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
                return "";
        sockaddr_in sa = {};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(port));
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        timeval tv = {5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        std::string resp;
        if (connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) == 0) {
                std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
                if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
                        char buf[65536];
                        ssize_t n;
                        while ((n = read(fd, buf, sizeof(buf))) > 0)
                                resp.append(buf, static_cast<size_t>(n));
                }
        }
        close(fd);
        size_t body = resp.find("\r\n\r\n");
        if (resp.compare(0, 12, "HTTP/1.0 200") != 0 && resp.compare(0, 12, "HTTP/1.1 200") != 0)
                return "";
        return body == std::string::npos ? "" : resp.substr(body + 4);
}

// The value of the sample whose name and labels are exactly series (as the
// exporter prints them: labels sorted by name), or NAN.
double SampleValue(const std::string &page, const std::string &series) {
        for (const auto &l : SplitLines(page))
                if (l.compare(0, series.size() + 1, series + " ") == 0)
                        return strtod(l.c_str() + series.size() + 1, nullptr);
        return NAN;
}

// Runs node_exporter with only its textfile collector on dir, on a free
// loopback port, and returns its first page (empty when it never served).
std::string ScrapeTextfiles(const std::string &dir, const std::string &stderr_file,
                            std::unique_ptr<Process> *exporter) {
        std::string page;
        for (int attempt = 0; attempt < 3 && page.empty(); attempt++) {
                int port = FreePort();
                if (port <= 0)
                        return "";
                SpawnOptions o;
                o.argv = {kExporter, "--web.listen-address=127.0.0.1:" + std::to_string(port),
                          "--collector.disable-defaults", "--collector.textfile",
                          "--collector.textfile.directory=" + dir};
                o.stderr_file = stderr_file;
                std::string err;
                *exporter = Process::Start(o, &err);
                if (!*exporter)
                        return "";
                // Polls until it serves (or dies: another took the port).
                WaitFor(
                    [&] {
                            page = HttpGet(port, "/metrics");
                            return !page.empty() || !ProcessAlive((*exporter)->pid());
                    },
                    kLong, Millis(50));
        }
        return page;
}

class NodeExporterTest : public BaseDirTest {};

TEST_F(NodeExporterTest, TextfileCollectorReadsOurFile) {
        if (access(kExporter, X_OK) != 0)
                GTEST_SKIP() << kExporter
                             << " is not installed (Debian: prometheus-node-exporter); not tested";
        std::string dir = P("textfile");
        ASSERT_EQ(0, mkdir(dir.c_str(), 0755));
        auto targets = SampleTargets();
        Text t;
        ASSERT_EQ(0, metrics_write(t.get(), "0.1.0", targets.data(), targets.size()));
        char why[512] = "";
        ASSERT_EQ(0, trusted_dir_replace_file((dir + "/memmon.prom").c_str(), t.str().data(), t.str().size(),
                                              0644, why, sizeof(why)))
            << why;

        std::unique_ptr<Process> exporter;
        std::string page = ScrapeTextfiles(dir, P("exporter.stderr"), &exporter);
        ASSERT_FALSE(page.empty()) << ReadFileOr(P("exporter.stderr"));

        EXPECT_EQ(0.0, SampleValue(page, "node_textfile_scrape_error")) << page;
        EXPECT_EQ(1.0, SampleValue(page, "memmon_build_info{version=\"0.1.0\"}")) << page;
        EXPECT_EQ(
            1.0,
            SampleValue(page,
                        "memmon_target_info{selector=\"pidfile /run/nginx \\\"x\\\".pid\",target=\"web\"}"))
            << page;
        EXPECT_EQ(1.0, SampleValue(page, "memmon_target_state{state=\"running\",target=\"web\"}")) << page;
        EXPECT_EQ(1.0, SampleValue(page, "memmon_target_state{state=\"waiting\",target=\"db\"}")) << page;
        EXPECT_EQ(0.0, SampleValue(page, "memmon_target_state{state=\"running\",target=\"db\"}")) << page;
        EXPECT_EQ(42.0, SampleValue(page, "memmon_regions{target=\"web\"}")) << page;
        EXPECT_EQ(1048576.0, SampleValue(page, "memmon_mapped_bytes{kind=\"file\",target=\"web\"}")) << page;
        EXPECT_EQ(65536.0, SampleValue(page, "memmon_exec_bytes{target=\"web\"}")) << page;
        EXPECT_EQ(12.0, SampleValue(page, "memmon_diffs_total{target=\"web\"}")) << page;
        EXPECT_EQ(3.0, SampleValue(page, "memmon_full_backups_total{target=\"web\"}")) << page;
        EXPECT_EQ(2.0, SampleValue(page, "memmon_alerts_total{rule=\"wx\",target=\"web\"}")) << page;
        EXPECT_EQ(1.0,
                  SampleValue(page, "memmon_sample_duration_seconds_bucket{target=\"web\",le=\"0.00025\"}"))
            << page;
        EXPECT_EQ(2.0, SampleValue(page, "memmon_sample_duration_seconds_count{target=\"web\"}")) << page;
        EXPECT_EQ(1764520000.5, SampleValue(page, "memmon_last_change_timestamp_seconds{target=\"web\"}"))
            << page;
        EXPECT_EQ(123456.0, SampleValue(page, "memmon_backup_bytes{target=\"web\"}")) << page;
        EXPECT_EQ(1.0, SampleValue(page, "memmon_write_errors_total{target=\"web\"}")) << page;
        EXPECT_NE(std::string::npos, page.find("# TYPE memmon_sample_duration_seconds histogram")) << page;
        EXPECT_NE(std::string::npos, page.find("# TYPE memmon_diffs_total counter")) << page;

        // A broken file is what node_textfile_scrape_error reports, so the
        // check above can fail.
        ASSERT_TRUE(WriteFile(dir + "/memmon.prom", "memmon_regions{target=\"web\" 1\n", 0644));
        int port = 0;
        std::string cmdline = ReadFileOr("/proc/" + std::to_string(exporter->pid()) + "/cmdline");
        size_t p = cmdline.find("127.0.0.1:");
        ASSERT_NE(std::string::npos, p);
        port = atoi(cmdline.c_str() + p + 10);
        page = HttpGet(port, "/metrics");
        EXPECT_EQ(1.0, SampleValue(page, "node_textfile_scrape_error")) << page;
}

// The real agent writes its metrics file (metrics_file, every
// metrics_interval), `agent ctl metrics` prints the same text, and Debian's
// node_exporter serves the memmon series with the values of the workload it
// watches.  A folder others may write to is refused, said once, and used
// again once it is fixed.
TEST_F(NodeExporterTest, TheAgentsOwnFileIsServed) {
        Workload wl;
        std::string err;
        ASSERT_TRUE(wl.Start(&err, {"--regions", "12"})) << err;
        std::string dir = P("textfile"), file = dir + "/memmon.prom";
        ASSERT_EQ(0, mkdir(dir.c_str(), 0755));
        // One sample an hour: after the first, every value stands still.
        ASSERT_TRUE(WriteFile(P("memmon.ini"), "[agent]\nbase_dir = " + dir_ + "\nmetrics_file = " + file +
                                                   "\nmetrics_interval = 1s\n\n[target:wl]\npid = " +
                                                   std::to_string(wl.pid()) + "\ninterval = 1h\n"));
        SpawnOptions o = AgentOptions({"-f", "-c", "memmon.ini"});
        o.stderr_file = P("agent.stderr");
        o.pipe_stdin = false;
        auto agent = Process::Start(o, &err);
        ASSERT_TRUE(agent) << err;
        // The tick's duration is the last figure it publishes: once it is
        // in the file, so is everything else of the first sample (a file
        // written during the tick may show the backup counted and the
        // regions not yet, as a scrape may).
        ASSERT_TRUE(WaitFor(
            [&] {
                    const std::string text = ReadFileOr(file);
                    return text.find("memmon_full_backups_total{target=\"wl\"} 1\n") != std::string::npos &&
                           text.find("memmon_sample_duration_seconds_count{target=\"wl\"} 1\n") !=
                               std::string::npos;
            },
            kLong))
            << ReadFileOr(file) << ReadFileOr(P("agent.stderr"));
        EXPECT_EQ(0644, FileMode(file)) << "node_exporter's own user reads it";

        // The values the series must have, from the workload's maps.
        std::string maps = wl.Maps();
        uint64_t total = 0, exec = 0;
        size_t regions = 0;
        for (const auto &l : SplitLines(maps)) {
                unsigned long long lo, hi;
                char perms[5];
                ASSERT_EQ(3, sscanf(l.c_str(), "%llx-%llx %4s", &lo, &hi, perms)) << l;
                total += hi - lo;
                exec += perms[2] == 'x' ? hi - lo : 0;
                regions++;
        }
        uint64_t backups = 0;
        for (const auto &f : ListTree(P("backups/wl")))
                if (!IsDir(f))
                        backups += ReadFileOr(f).size();

        // `agent ctl metrics` is the same text.
        RunResult r = RunProcess(AgentOptions({"ctl", "-b", dir_, "metrics"}), kLong);
        ASSERT_EQ(0, r.code) << r.Describe();
        EXPECT_EQ(ReadFileOr(file), r.out);

        if (access(kExporter, X_OK) != 0) {
                GTEST_SKIP() << kExporter
                             << " is not installed (Debian: prometheus-node-exporter); the file was "
                             << "checked, not its scrape";
        }
        std::unique_ptr<Process> exporter;
        std::string page = ScrapeTextfiles(dir, P("exporter.stderr"), &exporter);
        ASSERT_FALSE(page.empty()) << ReadFileOr(P("exporter.stderr"));
        EXPECT_EQ(0.0, SampleValue(page, "node_textfile_scrape_error")) << page;
        EXPECT_EQ(1.0, SampleValue(page, "memmon_build_info{version=\"0.1.0\"}")) << page;
        EXPECT_EQ(1.0, SampleValue(page, "memmon_target_info{selector=\"pid " + std::to_string(wl.pid()) +
                                             "\",target=\"wl\"}"))
            << page;
        EXPECT_EQ(1.0, SampleValue(page, "memmon_target_state{state=\"running\",target=\"wl\"}")) << page;
        EXPECT_EQ(0.0, SampleValue(page, "memmon_target_state{state=\"waiting\",target=\"wl\"}")) << page;
        EXPECT_EQ(static_cast<double>(regions), SampleValue(page, "memmon_regions{target=\"wl\"}")) << page;
        double mapped = 0;
        for (const char *kind : {"anon", "file", "heap", "stack", "other"})
                mapped += SampleValue(page, std::string("memmon_mapped_bytes{kind=\"") + kind +
                                                "\",target=\"wl\"}");
        EXPECT_EQ(static_cast<double>(total), mapped) << page;
        EXPECT_LT(0.0, SampleValue(page, "memmon_mapped_bytes{kind=\"file\",target=\"wl\"}")) << page;
        EXPECT_EQ(static_cast<double>(exec), SampleValue(page, "memmon_exec_bytes{target=\"wl\"}")) << page;
        EXPECT_EQ(0.0, SampleValue(page, "memmon_diffs_total{target=\"wl\"}")) << page;
        EXPECT_EQ(1.0, SampleValue(page, "memmon_full_backups_total{target=\"wl\"}")) << page;
        EXPECT_EQ(static_cast<double>(backups), SampleValue(page, "memmon_backup_bytes{target=\"wl\"}"))
            << page;
        EXPECT_EQ(0.0, SampleValue(page, "memmon_write_errors_total{target=\"wl\"}")) << page;
        EXPECT_EQ(1.0, SampleValue(page, "memmon_sample_duration_seconds_count{target=\"wl\"}")) << page;
        double changed = SampleValue(page, "memmon_last_change_timestamp_seconds{target=\"wl\"}");
        EXPECT_NEAR(static_cast<double>(time(nullptr)), changed, 600) << page;
        EXPECT_EQ(std::string::npos, page.find("memmon_alerts_total")) << "no alert has fired";

        // A folder others may write to: refused, said once, nothing written.
        ASSERT_EQ(0, chmod(dir.c_str(), 0777));
        ASSERT_EQ(0, unlink(file.c_str()));
        EXPECT_TRUE(WaitFor(
            [&] {
                    return HasLineWith(ReadFileOr(P("logs/monitor.log")), "metrics file not written",
                                       "writable by");
            },
            kLong))
            << ReadFileOr(P("logs/monitor.log"));
        std::this_thread::sleep_for(Millis(1500));
        EXPECT_FALSE(PathExists(file));
        EXPECT_EQ(1u, CountOccurrences(ReadFileOr(P("logs/monitor.log")), "metrics file not written"));
        ASSERT_EQ(0, chmod(dir.c_str(), 0755));
        EXPECT_TRUE(WaitFor([&] { return PathExists(file); }, kLong));
        EXPECT_TRUE(HasLineWith(ReadFileOr(P("logs/monitor.log")), "metrics file", "written again"));
        agent->Signal(SIGTERM);
        int code = -1;
        EXPECT_TRUE(agent->Wait(kLong, &code));
        EXPECT_EQ(0, code);
}

} // namespace
} // namespace memmon_test
