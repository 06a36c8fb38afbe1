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
#include "tests/reliability_util.h"
#include "tests/testutil.h"
#include "tests/write_wrap.h"

namespace {

using namespace memmon_test;

int Mode(const std::string &path) {
        struct stat st;
        return lstat(path.c_str(), &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

int OpenDir(const std::string &path) {
        return open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

TEST(FsTest, FoldersAre0700WhateverTheUmask) {
        std::string d = TestTempDir();
        int dfd = OpenDir(d);
        ASSERT_GE(dfd, 0);
        mode_t old = umask(0777);
        int fd = -1;
        int r = fs_make_dir_at(dfd, "made", &fd);
        int r2 = -1, fd2 = -1, r3 = -1, fd3 = -1;
        r2 = fs_make_dirs((d + "/a/b/c").c_str(), &fd2);
        r3 = fs_make_dir_at(dfd, "x/y/z", &fd3);
        umask(old);
        ASSERT_EQ(0, r);
        EXPECT_EQ(0700, Mode(d + "/made"));
        close(fd);
        ASSERT_EQ(0, r2);
        for (const char *p : {"/a", "/a/b", "/a/b/c"})
                EXPECT_EQ(0700, Mode(d + p)) << p;
        ASSERT_EQ(0, r3);
        for (const char *p : {"/x", "/x/y", "/x/y/z"})
                EXPECT_EQ(0700, Mode(d + p)) << p;
        close(fd3);
        // The fd is the last folder's.
        ASSERT_EQ(0, mkdirat(fd2, "inside", 0700));
        EXPECT_EQ(0700, Mode(d + "/a/b/c/inside"));
        close(fd2);
        // An existing folder is opened as it is.
        ASSERT_EQ(0, chmod((d + "/a").c_str(), 0750));
        ASSERT_EQ(0, fs_make_dirs((d + "/a").c_str(), &fd2));
        close(fd2);
        EXPECT_EQ(0750, Mode(d + "/a"));
        close(dfd);
}

TEST(FsTest, SymlinksAreRefusedWhereAsked) {
        std::string d = TestTempDir();
        int dfd = OpenDir(d);
        ASSERT_GE(dfd, 0);
        ASSERT_EQ(0, mkdir((d + "/real").c_str(), 0700));
        ASSERT_EQ(0, symlink("real", (d + "/link").c_str()));
        int fd = -1;
        EXPECT_EQ(-ELOOP, fs_make_dir_at(dfd, "link", &fd));
        EXPECT_EQ(-ELOOP, fs_make_dir_at(dfd, "link/sub", &fd)) << "nor on the way";
        EXPECT_EQ(-ENOENT, access((d + "/real/sub").c_str(), F_OK) < 0 ? -errno : 0);
        EXPECT_EQ(-ELOOP, fs_make_dirs((d + "/link").c_str(), &fd)) << "not at the last component";
        ASSERT_EQ(0, fs_make_dirs((d + "/link/sub").c_str(), &fd)) << "earlier components may be links";
        close(fd);
        EXPECT_EQ(-ELOOP, fs_open_dir_at(dfd, "link"));
        EXPECT_EQ(-ENOENT, fs_open_dir_at(dfd, "missing"));
        ASSERT_EQ(0, symlink("target", (d + "/file.link").c_str()));
        EXPECT_EQ(-ELOOP, fs_open_at(dfd, "file.link", O_WRONLY | O_CREAT, 0600));
        EXPECT_EQ(-ENOENT, access((d + "/target").c_str(), F_OK) < 0 ? -errno : 0) << "nothing created";
        EXPECT_EQ(-ENAMETOOLONG, fs_make_dirs((d + "/" + std::string(300, 'n')).c_str(), &fd));
        EXPECT_EQ(-EINVAL, fs_make_dirs("", &fd));
        close(dfd);
}

// The door and its fallback walk answer alike: no symlink anywhere on the
// way, no "..", no absolute path.
TEST(FsTest, OpenBeneathAndTheWalkAgree) {
        std::string d = TestTempDir();
        std::string outside = MakeTempDir("outside");
        ASSERT_TRUE(WriteFile(outside + "/victim", "x"));
        ASSERT_EQ(0, mkdir((d + "/dir").c_str(), 0700));
        ASSERT_EQ(0, mkdir((d + "/dir/sub").c_str(), 0700));
        ASSERT_TRUE(WriteFile(d + "/dir/sub/file", "hello"));
        ASSERT_EQ(0, symlink(outside.c_str(), (d + "/dir/out").c_str()));
        ASSERT_EQ(0, symlink("sub", (d + "/dir/rel").c_str()));
        ASSERT_EQ(0, symlink((outside + "/victim").c_str(), (d + "/dir/sub/flink").c_str()));
        int dfd = OpenDir(d);
        ASSERT_GE(dfd, 0);
        struct Case {
                const char *path;
                int flags;
                int want; // 0: opens
        } cases[] = {
            {"dir/sub/file", O_RDONLY, 0},
            {"./dir//sub/./file", O_RDONLY, 0},
            {"dir/sub", O_RDONLY | O_DIRECTORY, 0},
            {"dir/out/victim", O_RDONLY, -ELOOP},
            {"dir/rel/file", O_RDONLY, -ELOOP},
            {"dir/sub/flink", O_RDONLY, -ELOOP},
            {"dir/out", O_RDONLY | O_DIRECTORY, -ELOOP},
            {"dir/../dir/sub/file", O_RDONLY, -EXDEV},
            {"..", O_RDONLY | O_DIRECTORY, -EXDEV},
            {"/etc/passwd", O_RDONLY, -EXDEV},
            {"dir/sub/file/x", O_RDONLY, -ENOTDIR},
            {"dir/missing/x", O_RDONLY, -ENOENT},
            {"dir/out/new", O_WRONLY | O_CREAT, -ELOOP},
            {"", O_RDONLY, -EINVAL},
        };
        for (const auto &c : cases) {
                for (int walk = 0; walk < 2; walk++) {
                        int fd = walk ? fs_walk_at(dfd, c.path, c.flags, 0600)
                                      : fs_open_at(dfd, c.path, c.flags, 0600);
                        if (c.want == 0) {
                                EXPECT_GE(fd, 0)
                                    << c.path << (walk ? " (walk)" : "") << ": " << strerror(-fd);
                                if (fd >= 0) {
                                        EXPECT_NE(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
                                        close(fd);
                                }
                        } else {
                                EXPECT_EQ(c.want, fd) << c.path << (walk ? " (walk)" : "");
                                if (fd >= 0)
                                        close(fd);
                        }
                }
        }
        EXPECT_EQ(std::vector<std::string>{"victim"}, ListDir(outside)) << "nothing created outside";
        EXPECT_EQ("x", ReadFileOr(outside + "/victim"));
        close(dfd);
        RemoveTree(outside);
}

// A file the agent writes: a FIFO never blocks, a hard link to a file
// elsewhere is never written (nor truncated), and the file ends up 0600.
TEST(FsTest, OwnFileRefusesWhatIsNotOurs) {
        std::string d = TestTempDir();
        int dfd = OpenDir(d);
        ASSERT_GE(dfd, 0);
        char why[FS_WHY_SIZE] = "";
        ASSERT_EQ(0, mkfifo((d + "/fifo").c_str(), 0600));
        // O_WRONLY on a FIFO nobody reads: refused at once, never a hang.
        EXPECT_EQ(-EPERM, fs_open_own_file_at(dfd, "fifo", O_WRONLY | O_CREAT | O_APPEND, 0600, "fifo", why,
                                              sizeof(why)));
        EXPECT_NE(nullptr, strstr(why, "a FIFO")) << why;
        // Read-write succeeds on a FIFO; the check refuses it.
        EXPECT_EQ(-EPERM, fs_open_own_file_at(dfd, "fifo", O_RDWR | O_CREAT, 0600, "fifo", why, sizeof(why)));
        EXPECT_NE(nullptr, strstr(why, "a FIFO")) << why;

        std::string outside = MakeTempDir("victim");
        ASSERT_TRUE(WriteFile(outside + "/shadow", "secret\n", 0640));
        ASSERT_EQ(0, link((outside + "/shadow").c_str(), (d + "/hard").c_str()));
        EXPECT_EQ(-EPERM, fs_open_own_file_at(dfd, "hard", O_WRONLY | O_CREAT | O_TRUNC, 0600, "hard", why,
                                              sizeof(why)));
        EXPECT_NE(nullptr, strstr(why, "2 links")) << why;
        EXPECT_EQ("secret\n", ReadFileOr(outside + "/shadow")) << "truncated through a hard link";
        EXPECT_EQ(0640, Mode(outside + "/shadow")) << "chmod'ed through a hard link";

        ASSERT_TRUE(WriteFile(d + "/wide", "old\n", 0666));
        ASSERT_EQ(0, chmod((d + "/wide").c_str(), 0666));
        int fd =
            fs_open_own_file_at(dfd, "wide", O_WRONLY | O_CREAT | O_TRUNC, 0600, "wide", why, sizeof(why));
        ASSERT_GE(fd, 0) << why;
        EXPECT_EQ(0600, Mode(d + "/wide"));
        EXPECT_EQ("", ReadFileOr(d + "/wide")) << "O_TRUNC applies after the checks";
        EXPECT_EQ(0, fcntl(fd, F_GETFL) & O_NONBLOCK);
        close(fd);

        if (CanChownTo(d, 65534).empty()) {
                ASSERT_TRUE(WriteFile(d + "/hers", "", 0600));
                ASSERT_EQ(0, chown((d + "/hers").c_str(), 65534, 65534));
                EXPECT_EQ(-EPERM, fs_open_own_file_at(dfd, "hers", O_WRONLY | O_APPEND, 0600, "hers", why,
                                                      sizeof(why)));
                EXPECT_NE(nullptr, strstr(why, "owned by uid 65534")) << why;
        }
        close(dfd);
        RemoveTree(outside);
}

TEST(FsTest, FifoStatAndUnlinkBeneath) {
        std::string d = TestTempDir();
        int dfd = OpenDir(d);
        ASSERT_GE(dfd, 0);
        ASSERT_EQ(0, mkdir((d + "/logs").c_str(), 0700));
        ASSERT_EQ(0, fs_make_fifo_at(dfd, "logs/f", 0600));
        EXPECT_TRUE(IsFifo(d + "/logs/f"));
        EXPECT_EQ(-EEXIST, fs_make_fifo_at(dfd, "logs/f", 0600));
        struct stat st;
        ASSERT_EQ(0, fs_stat_at(dfd, "logs/f", &st));
        EXPECT_TRUE(S_ISFIFO(st.st_mode));
        // Another file at the name now: left alone.  (The first one is
        // kept under another name, so that its inode is not reused.)
        ASSERT_EQ(0, rename((d + "/logs/f").c_str(), (d + "/logs/kept").c_str()));
        ASSERT_EQ(0, mkfifo((d + "/logs/f").c_str(), 0600));
        EXPECT_EQ(-ESTALE, fs_unlink_at(dfd, "logs/f", 0, &st));
        EXPECT_TRUE(IsFifo(d + "/logs/f"));
        ASSERT_EQ(0, fs_stat_at(dfd, "logs/f", &st));
        EXPECT_EQ(0, fs_unlink_at(dfd, "logs/f", 0, &st));
        EXPECT_FALSE(PathExists(d + "/logs/f"));
        ASSERT_EQ(0, symlink("/tmp", (d + "/lnk").c_str()));
        EXPECT_EQ(-ELOOP, fs_make_fifo_at(dfd, "lnk/f", 0600));
        close(dfd);
}

// StrictModes for the base directory: every folder above it owned by root
// or us and not open to others unless sticky; the base itself not open to
// its group or others; a symlink followed only when its folder and its
// owner may be trusted.
TEST(FsTest, OpenBaseChecksEveryFolderFromTheRoot) {
        std::string d = TestTempDir();
        char why[FS_WHY_SIZE] = "";
        ASSERT_EQ(0, chmod(d.c_str(), 0755));
        int fd = fs_open_base((d + "/base").c_str(), true, why, sizeof(why));
        ASSERT_GE(fd, 0) << why;
        EXPECT_EQ(0700, Mode(d + "/base")) << "created 0700";
        close(fd);

        ASSERT_EQ(0, chmod((d + "/base").c_str(), 0770));
        EXPECT_EQ(-EPERM, fs_open_base((d + "/base").c_str(), true, why, sizeof(why)));
        EXPECT_NE(nullptr, strstr(why, "mode 0770: writable by group")) << why;
        ASSERT_EQ(0, chmod((d + "/base").c_str(), 0700));

        // An ancestor writable by others.
        ASSERT_EQ(0, mkdir((d + "/pub").c_str(), 0777));
        ASSERT_EQ(0, chmod((d + "/pub").c_str(), 0777));
        EXPECT_EQ(-EPERM, fs_open_base((d + "/pub/base").c_str(), true, why, sizeof(why)));
        EXPECT_NE(nullptr, strstr(why, "/pub: owned by uid")) << why;
        EXPECT_NE(nullptr, strstr(why, "mode 0777: writable by others")) << why;
        EXPECT_FALSE(PathExists(d + "/pub/base")) << "nothing created under an untrusted folder";
        // ... unless it is sticky, as /tmp is.
        ASSERT_EQ(0, chmod((d + "/pub").c_str(), 01777));
        fd = fs_open_base((d + "/pub/base").c_str(), true, why, sizeof(why));
        EXPECT_GE(fd, 0) << why;
        if (fd >= 0)
                close(fd);

        // A symlink in a trusted folder, owned by root (us), is followed.
        ASSERT_EQ(0, symlink((d + "/base").c_str(), (d + "/alias").c_str()));
        fd = fs_open_base((d + "/alias").c_str(), false, why, sizeof(why));
        EXPECT_GE(fd, 0) << why;
        if (fd >= 0)
                close(fd);
        // One owned by another user is not: she could point it anywhere.
        if (CanChownTo(d, 65534).empty()) {
                ASSERT_EQ(0, lchown((d + "/alias").c_str(), 65534, 65534));
                EXPECT_EQ(-EPERM, fs_open_base((d + "/alias").c_str(), false, why, sizeof(why)));
                EXPECT_NE(nullptr, strstr(why, "a symlink owned by uid 65534")) << why;
                // A base directory another user owns.
                ASSERT_EQ(0, chown((d + "/base").c_str(), 65534, 65534));
                EXPECT_EQ(-EPERM, fs_open_base((d + "/base").c_str(), false, why, sizeof(why)));
                EXPECT_NE(nullptr, strstr(why, "owned by uid 65534")) << why;
        }
        // A file where the base should be.
        ASSERT_TRUE(WriteFile(d + "/file", ""));
        EXPECT_EQ(-ENOTDIR, fs_open_base((d + "/file").c_str(), false, why, sizeof(why)));

        // A file in a trusted folder; the folder is held to the base's rule.
        ASSERT_TRUE(WriteFile(d + "/base/conf.ini", "x"));
        fd = fs_open_trusted_file((d + "/base/conf.ini").c_str(), O_RDONLY, why, sizeof(why));
        EXPECT_GE(fd, 0) << why;
        if (fd >= 0)
                close(fd);
        ASSERT_EQ(0, chmod((d + "/base").c_str(), 0775));
        EXPECT_EQ(-EPERM, fs_open_trusted_file((d + "/base/conf.ini").c_str(), O_RDONLY, why, sizeof(why)));
}

TEST(FsTest, OpenAtIsCloseOnExec) {
        std::string d = TestTempDir();
        int dfd = OpenDir(d);
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
        int dfd = OpenDir(d);
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
        int dfd = OpenDir(d);
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
