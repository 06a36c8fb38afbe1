// The configuration in force (agent/targets.c): a reload that cannot be
// applied keeps the previous configuration and says so; one that can
// replaces it.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "agent/agent.h"
#include "agent/log.h"
#include "tests/testutil.h"

namespace {

using memmon_test::Sleeper;

class TargetsTest : public ::testing::Test {
      protected:
        void SetUp() override {
                base_ = memmon_test::TestTempDir();
                ASSERT_FALSE(base_.empty());
                a_ = std::make_unique<struct agent>();
                a_->sig_fd = a_->fifo_fd = a_->pid_fd = -1;
                a_->base_fd = open(base_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                ASSERT_GE(a_->base_fd, 3);
                snprintf(a_->config_path, sizeof(a_->config_path), "%s/memmon.ini", base_.c_str());
                snprintf(a_->base, sizeof(a_->base), "%s", base_.c_str());
                ASSERT_EQ(0, agent_join_path(a_->logs, a_->base, "logs"));
                ASSERT_EQ(0, agent_join_path(a_->backups, a_->base, "backups"));
                ASSERT_EQ(0, mkdir(a_->logs, 0700));
                a_->logs_fd = open(a_->logs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                ASSERT_GE(a_->logs_fd, 3);
                char why[512];
                ASSERT_EQ(0, agent_log_new(a_->logs_fd, 1, -1, LOG_INFO, &a_->log, why, sizeof(why))) << why;
                struct worker_env env = {};
                env.event = agent_log_event;
                env.user = a_->log;
                env.base_fd = a_->base_fd;
                env.base = a_->base;
                ASSERT_EQ(0, supervisor_init(&a_->sup, &env));
                a_->sup_init = 1;
        }
        void TearDown() override {
                supervisor_fini(&a_->sup);
                config_free(a_->config);
                agent_log_free(a_->log);
                close(a_->logs_fd);
                close(a_->base_fd);
        }

        // Writes the configuration file: [agent] then body.
        void Config(const std::string &agent_keys, const std::string &body) {
                ASSERT_TRUE(memmon_test::WriteFile(a_->config_path, "[agent]\nbase_dir = " + base_ + "\n" +
                                                                        agent_keys + body));
        }

        void Start() {
                struct config_errors errs;
                config_errors_init(&errs);
                ASSERT_EQ(0, agent_load_config(a_.get(), &a_->config, &errs));
                config_errors_fini(&errs);
                struct supervisor_changes ch;
                ASSERT_EQ(0, agent_apply_config(a_.get(), a_->config, nullptr, &ch));
                EXPECT_EQ(a_->config->n_targets, ch.added);
        }

        std::string Reload(int *r) {
                struct strbuf reply;
                strbuf_init(&reply);
                *r = agent_reload(a_.get(), &reply);
                std::string s = strbuf_str(&reply);
                strbuf_fini(&reply);
                return s;
        }

        std::string base_;
        std::unique_ptr<struct agent> a_;
};

TEST_F(TargetsTest, FailedReloadKeepsThePreviousConfiguration) {
        Sleeper one, two;
        ASSERT_NO_FATAL_FAILURE(Config("", "[target:a]\npid = " + std::to_string(one.pid()) + "\n"));
        ASSERT_NO_FATAL_FAILURE(Start());
        const struct config *before = a_->config;
        ASSERT_EQ(1u, a_->sup.n);

        // A new file that reads well (b added, a quieter log level) but
        // cannot be applied: its backup folders' names do not fit.
        ASSERT_NO_FATAL_FAILURE(
            Config("log_level = error\n", "[target:a]\npid = " + std::to_string(one.pid()) +
                                              "\n[target:b]\npid = " + std::to_string(two.pid()) + "\n"));
        char saved[PATH_MAX];
        memcpy(saved, a_->backups, sizeof(saved));
        memset(a_->backups, 'x', PATH_MAX - 2);
        a_->backups[PATH_MAX - 2] = '\0';
        int r = 0;
        std::string reply = Reload(&r);
        EXPECT_EQ(-ENAMETOOLONG, r);
        EXPECT_EQ("Reload failed: File name too long; still running the previous configuration", reply);
        EXPECT_EQ(before, a_->config) << "the configuration in force is the previous one";
        EXPECT_EQ(1u, a_->config->n_targets);
        EXPECT_EQ(1u, a_->sup.n) << "nothing was started";
        agent_log(a_->log, nullptr, LOG_INFO, "still at info");
        EXPECT_NE(std::string::npos,
                  memmon_test::ReadFileOr(std::string(a_->logs) + "/monitor.log").find("still at info"))
            << "the new log level is not in force either";

        // Fixed: the same file applies.
        memcpy(a_->backups, saved, sizeof(saved));
        reply = Reload(&r);
        EXPECT_EQ(0, r);
        EXPECT_EQ(
            "Configuration reloaded: 1 added, 0 removed, 0 changed, 0 restarted, 1 unchanged\nMaps re-read",
            reply);
        EXPECT_NE(before, a_->config);
        EXPECT_EQ(2u, a_->config->n_targets);
        EXPECT_EQ(2u, a_->sup.n);
        agent_log(a_->log, nullptr, LOG_INFO, "now below the level");
        EXPECT_EQ(
            std::string::npos,
            memmon_test::ReadFileOr(std::string(a_->logs) + "/monitor.log").find("now below the level"));
}

} // namespace
