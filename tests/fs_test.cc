// Files and folders under a folder fd (core/fs.c): folders made 0700
// whatever the umask, symlinks refused where asked, atomic writes that never
// replace a file, write_all's end on a write of nothing, directory streams.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/fs.h"
#include "tests/testutil.h"
#include "tests/write_wrap.h"

namespace {

using namespace memmon_test;

int Mode(const std::string &path) {
        struct stat st;
        return lstat(path.c_str(), &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

TEST(FsTest, FoldersAre0700WhateverTheUmask) {
        std::string d = TestTempDir();
        mode_t old = umask(0777);
        int fd = -1;
        int r = fs_make_dir_at(AT_FDCWD, (d + "/made").c_str(), true, &fd);
        int r2 = -1, fd2 = -1;
        r2 = fs_make_dirs((d + "/a/b/c").c_str(), &fd2);
        umask(old);
        ASSERT_EQ(0, r);
        EXPECT_EQ(0700, Mode(d + "/made"));
        close(fd);
        ASSERT_EQ(0, r2);
        for (const char *p : {"/a", "/a/b", "/a/b/c"})
                EXPECT_EQ(0700, Mode(d + p)) << p;
        // The fd is the last folder's.
        ASSERT_EQ(0, mkdirat(fd2, "inside", 0700));
        EXPECT_EQ(0700, Mode(d + "/a/b/c/inside"));
        close(fd2);
        // An existing folder is opened as it is.
        ASSERT_EQ(0, chmod((d + "/a").c_str(), 0750));
        ASSERT_EQ(0, fs_make_dirs((d + "/a").c_str(), &fd2));
        close(fd2);
        EXPECT_EQ(0750, Mode(d + "/a"));
}

TEST(FsTest, SymlinksAreRefusedWhereAsked) {
        std::string d = TestTempDir();
        ASSERT_EQ(0, mkdir((d + "/real").c_str(), 0700));
        ASSERT_EQ(0, symlink("real", (d + "/link").c_str()));
        int fd = -1;
        EXPECT_EQ(-ELOOP, fs_make_dir_at(AT_FDCWD, (d + "/link").c_str(), true, &fd));
        ASSERT_EQ(0, fs_make_dir_at(AT_FDCWD, (d + "/link").c_str(), false, &fd));
        close(fd);
        EXPECT_EQ(-ELOOP, fs_make_dirs((d + "/link").c_str(), &fd)) << "not at the last component";
        ASSERT_EQ(0, fs_make_dirs((d + "/link/sub").c_str(), &fd)) << "earlier components may be links";
        close(fd);
        EXPECT_EQ(-ENOTDIR, fs_open_dir_at(AT_FDCWD, (d + "/link").c_str()));
        EXPECT_EQ(-ENOENT, fs_open_dir_at(AT_FDCWD, (d + "/missing").c_str()));
        ASSERT_EQ(0, symlink("target", (d + "/file.link").c_str()));
        EXPECT_EQ(-ELOOP, fs_open_at(AT_FDCWD, (d + "/file.link").c_str(), O_WRONLY | O_CREAT, 0600));
        EXPECT_EQ(-ENOENT, access((d + "/target").c_str(), F_OK) < 0 ? -errno : 0) << "nothing created";
        EXPECT_EQ(-ENAMETOOLONG, fs_make_dirs((d + "/" + std::string(300, 'n')).c_str(), &fd));
        EXPECT_EQ(-EINVAL, fs_make_dirs("", &fd));
}

TEST(FsTest, OpenAtIsCloseOnExec) {
        std::string d = TestTempDir();
        int dfd = fs_open_dir_at(AT_FDCWD, d.c_str());
        ASSERT_GE(dfd, 0);
        EXPECT_NE(0, fcntl(dfd, F_GETFD) & FD_CLOEXEC);
        int fd = fs_open_at(dfd, "f", O_WRONLY | O_CREAT, 0600);
        ASSERT_GE(fd, 0);
        EXPECT_NE(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
        fs_close(&fd);
        EXPECT_EQ(-1, fd);
        fs_close(&fd);
        close(dfd);
}

TEST(FsTest, AtomicWriteNeverReplacesAndLeavesNoTemp) {
        std::string d = TestTempDir();
        int dfd = fs_open_dir_at(AT_FDCWD, d.c_str());
        ASSERT_GE(dfd, 0);
        mode_t old = umask(0);
        int r = fs_write_atomic(dfd, "one", "first\n", 6);
        umask(old);
        ASSERT_EQ(0, r);
        EXPECT_EQ("first\n", ReadFileOr(d + "/one"));
        EXPECT_EQ(0600, Mode(d + "/one"));
        EXPECT_EQ(-EEXIST, fs_write_atomic(dfd, "one", "second\n", 7));
        EXPECT_EQ("first\n", ReadFileOr(d + "/one")) << "a name is used once";
        EXPECT_EQ(std::vector<std::string>{"one"}, ListDir(d)) << "no temp file left";
        EXPECT_EQ(-ENAMETOOLONG, fs_write_atomic(dfd, std::string(255, 'x').c_str(), "", 0));
        close(dfd);
}

TEST(FsTest, WriteAllEndsOnAWriteOfNothing) {
        int p[2];
        ASSERT_EQ(0, pipe(p));
        EXPECT_EQ(0, fs_write_all(p[1], "abc", 3));
        char buf[4] = "";
        ASSERT_EQ(3, read(p[0], buf, 3));
        EXPECT_STREQ("abc", buf);
        WriteNothingTo(p[1]);
        EXPECT_EQ(-EIO, fs_write_all(p[1], "abc", 3));
        WriteNothingTo(-1);
        close(p[0]);
        close(p[1]);
        EXPECT_EQ(-EBADF, fs_write_all(p[1], "abc", 3));
}

TEST(FsTest, DirectoryStreamLeavesTheFdToTheCaller) {
        std::string d = TestTempDir();
        int dfd = fs_open_dir_at(AT_FDCWD, d.c_str());
        ASSERT_GE(dfd, 0);
        ASSERT_EQ(0, fs_write_atomic(dfd, "a", "", 0));
        ASSERT_EQ(0, fs_write_atomic(dfd, "b", "", 0));
        DIR *s = nullptr;
        ASSERT_EQ(0, fs_dir_stream(dfd, &s));
        std::vector<std::string> names;
        struct dirent *e;
        int r;
        while ((r = fs_dir_next(s, &e)) > 0)
                if (e->d_name[0] != '.')
                        names.push_back(e->d_name);
        EXPECT_EQ(0, r);
        closedir(s);
        std::sort(names.begin(), names.end());
        EXPECT_EQ((std::vector<std::string>{"a", "b"}), names);
        EXPECT_GE(fcntl(dfd, F_GETFD), 0) << "still open";
        close(dfd);
}

} // namespace
