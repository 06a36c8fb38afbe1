/*
 * techniques: the ways code gets into a process that memmon's alert rules
 * look for, each one a command of bench/workload (see its header comment),
 * so that tests can perform them on demand and see each one found.
 */
#ifndef MEMMON_BENCH_TECHNIQUES_H
#define MEMMON_BENCH_TECHNIQUES_H

/* Runs the workload command argv[0..argc) when it names a technique,
 * printing its "ok ADDR" or "error ..." reply.  Returns 1 when it did, 0
 * when argv[0] is not one of them (nothing printed). */
int technique_command(int argc, char **argv);

#endif
