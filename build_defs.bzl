"""Compiler flags shared by every memmon package."""

MEMMON_COPTS = [
    "-Wall",
    "-Wextra",
    "-Wvla",
    "-Wformat=2",
    "-Werror",
    "-D_GNU_SOURCE",
]

def capture_test_pair(name, tags = [], **kwargs):
    """An integration test of the real agent, run in both capture modes.

    `name` runs with MEMMON_TEST_CAPTURE=poll, `name + "_ebpf"` with
    MEMMON_TEST_CAPTURE=ebpf: tests/testutil passes it to every agent it
    starts as --capture.  The eBPF run loads BPF, which needs CAP_BPF and
    CAP_PERFMON in the initial user namespace: no-sandbox (without them the
    agent polls and logs why, and the run is the poll run again).
    """
    native.cc_test(
        name = name,
        env = {"MEMMON_TEST_CAPTURE": "poll"},
        tags = tags,
        **kwargs
    )
    native.cc_test(
        name = name + "_ebpf",
        env = {"MEMMON_TEST_CAPTURE": "ebpf"},
        tags = [t for t in tags if t != "no-sandbox"] + ["no-sandbox"],
        **kwargs
    )
