#include "tests/browser_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

namespace memmon_test {

std::string ChromiumPath() {
        for (const char *p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
                if (access(p, X_OK) == 0)
                        return p;
        return "";
}

std::string FileUrl(const std::string &path) {
        std::string u = "file://";
        for (unsigned char c : path) {
                if (isalnum(c) || strchr("/._-", c)) {
                        u += static_cast<char>(c);
                } else {
                        char b[4];
                        snprintf(b, sizeof(b), "%%%02X", c);
                        u += b;
                }
        }
        return u;
}

void ChromiumHome(const std::string &dir) {
        std::string home = dir + "/home";
        mkdir(home.c_str(), 0700);
        setenv("HOME", home.c_str(), 1);
        setenv("XDG_CONFIG_HOME", (home + "/.config").c_str(), 1);
        setenv("XDG_CACHE_HOME", (home + "/.cache").c_str(), 1);
}

RunResult RunChromium(const std::string &chromium, const std::vector<std::string> &what,
                      const std::string &url, const std::string &cwd, Millis timeout) {
        std::string profile = MakeTempDir("chromium_profile");
        SpawnOptions o;
        o.argv = {chromium,
                  "--headless",
                  "--no-sandbox",
                  "--disable-gpu",
                  "--disable-quic",
                  "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update",
                  "--disable-sync",
                  "--disable-dev-shm-usage",
                  "--user-data-dir=" + profile,
                  "--enable-logging=stderr",
                  "--v=0",
                  "--virtual-time-budget=10000"};
        o.argv.insert(o.argv.end(), what.begin(), what.end());
        o.argv.push_back(url);
        o.cwd = cwd;
        return RunProcess(o, timeout);
}

} // namespace memmon_test
