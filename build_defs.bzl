"""Compiler flags shared by every memmon package."""

MEMMON_COPTS = [
    "-Wall",
    "-Wextra",
    "-Wvla",
    "-Wformat=2",
    "-Werror",
    "-D_GNU_SOURCE",
]
