// The alert rules' real answers from /proc and the file system
// (core/alerts_sysfs.c), on files this test makes and on its own process.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "core/alerts.h"
#include "core/alerts_fs.h"

namespace {

constexpr uint64_t kPage = 4096;

class SysfsTest : public ::testing::Test {
      protected:
        void SetUp() override {
                const char *tmp = getenv("TEST_TMPDIR");
                char tmpl[4096];
                snprintf(tmpl, sizeof(tmpl), "%s/sysfsXXXXXX", tmp ? tmp : "/tmp");
                ASSERT_NE(nullptr, mkdtemp(tmpl));
                char real[4096];
                ASSERT_NE(nullptr, realpath(tmpl, real));
                dir_ = real;
                ASSERT_EQ(0, alert_sysfs_new(0, &fs_));
                proc_ = {getpid(), 0, getuid()};
                alert_sysfs_ops.begin(fs_, &proc_);
        }
        void TearDown() override {
                alert_sysfs_ops.end(fs_);
                alert_sysfs_free(fs_);
        }
        int Stat(const std::string &p, alert_stat *st) {
                return alert_sysfs_ops.path_stat(fs_, &proc_, p.c_str(), st);
        }
        std::string dir_;
        alert_sysfs *fs_ = nullptr;
        alert_proc proc_;
};

TEST_F(SysfsTest, PathStatNeverFollowsSymlinks) {
        ASSERT_EQ(0, mkdir((dir_ + "/real").c_str(), 0755));
        int fd = open((dir_ + "/real/f").c_str(), O_CREAT | O_WRONLY, 0644);
        ASSERT_GE(fd, 0);
        close(fd);
        ASSERT_EQ(0, symlink("real", (dir_ + "/link").c_str()));
        alert_stat st;
        ASSERT_EQ(0, Stat(dir_ + "/real/f", &st));
        EXPECT_TRUE(S_ISREG(st.mode));
        struct stat want;
        ASSERT_EQ(0, stat((dir_ + "/real/f").c_str(), &want));
        EXPECT_EQ(want.st_ino, st.ino);
        EXPECT_EQ(major(want.st_dev), st.dev_major);
        // Through a symlinked folder: refused.
        EXPECT_EQ(-ELOOP, Stat(dir_ + "/link/f", &st));
        // A symlink at the end is itself.
        ASSERT_EQ(0, Stat(dir_ + "/link", &st));
        EXPECT_TRUE(S_ISLNK(st.mode));
        // Paths the kernel never prints.
        EXPECT_EQ(-EINVAL, Stat("relative/f", &st));
        EXPECT_EQ(-EINVAL, Stat(dir_ + "/real/../real/f", &st));
        EXPECT_EQ(-EINVAL, Stat(dir_ + "/./real/f", &st));
        EXPECT_EQ(-EINVAL, Stat(dir_ + "//real/f", &st));
        EXPECT_EQ(-EINVAL, Stat(dir_ + "/real/", &st));
        EXPECT_EQ(-ENOENT, Stat(dir_ + "/real/none", &st));
        ASSERT_EQ(0, Stat("/", &st));
        EXPECT_TRUE(S_ISDIR(st.mode));
}

TEST_F(SysfsTest, MappedFileByIdentity) {
        std::string path = dir_ + "/mapped";
        int fd = open(path.c_str(), O_CREAT | O_RDWR, 0644);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(0, ftruncate(fd, kPage));
        void *p = mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd, 0);
        ASSERT_NE(MAP_FAILED, p);
        struct stat want;
        ASSERT_EQ(0, fstat(fd, &want));
        close(fd);
        uint64_t a = reinterpret_cast<uintptr_t>(p);
        alert_stat st;
        int r = alert_sysfs_ops.mapped_stat(fs_, &proc_, a, a + kPage, &st);
        if (r == -EPERM || r == -EACCES) {
                munmap(p, kPage);
                GTEST_SKIP() << "no CAP_SYS_ADMIN for /proc/PID/map_files";
        }
        ASSERT_EQ(0, r);
        EXPECT_EQ(want.st_ino, st.ino);
        EXPECT_EQ(1u, st.nlink);
        // Unlinked: the mapping now has no name.
        ASSERT_EQ(0, unlink(path.c_str()));
        ASSERT_EQ(0, alert_sysfs_ops.mapped_stat(fs_, &proc_, a, a + kPage, &st));
        EXPECT_EQ(0u, st.nlink);
        // And its bytes can still be read by identity.
        int h = alert_sysfs_ops.open_mapped(fs_, &proc_, a, a + kPage, path.c_str(), major(want.st_dev),
                                            minor(want.st_dev), want.st_ino);
        ASSERT_GE(h, 0);
        char buf[16];
        EXPECT_EQ(16, alert_sysfs_ops.read_file(fs_, h, buf, sizeof(buf), 0));
        alert_sysfs_ops.close_file(fs_, h);
        EXPECT_EQ(16, alert_sysfs_ops.read_mem(fs_, &proc_, a, buf, sizeof(buf)));
        munmap(p, kPage);
}

TEST_F(SysfsTest, GroupsFromTheDatabase) {
        // root's group holds no one but root on any sane system.
        EXPECT_EQ(0, alert_sysfs_ops.group_has_others(fs_, &proc_, 0, 0));
        // A group id nobody has heard of may still be held.
        EXPECT_EQ(1, alert_sysfs_ops.group_has_others(fs_, &proc_, 3999999, 0));
}

} // namespace
