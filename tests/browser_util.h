// browser_util: the real headless Chromium (Debian's chromium) for tests
// that render a page of ours: a profile of its own per run, no network,
// nothing of the user's.
#ifndef MEMMON_TESTS_BROWSER_UTIL_H
#define MEMMON_TESTS_BROWSER_UTIL_H

#include <string>
#include <vector>

#include "tests/testutil.h"

namespace memmon_test {

// The Chromium binary, or "" when none is installed.
std::string ChromiumPath();

// A file:// URL for path (bytes outside a safe set percent-encoded).
std::string FileUrl(const std::string &path);

// Points HOME and the XDG folders at folders under dir (Chromium wants a
// home of its own).
void ChromiumHome(const std::string &dir);

// Runs chromium headless on url with the switches in what (say
// "--window-size=1280,800", "--screenshot=PATH" or "--dump-dom"), in cwd,
// with a fresh profile, logging to stderr; killed after timeout.
RunResult RunChromium(const std::string &chromium, const std::vector<std::string> &what,
                      const std::string &url, const std::string &cwd, Millis timeout);

} // namespace memmon_test

#endif
