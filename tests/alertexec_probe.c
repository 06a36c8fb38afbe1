/*
 * alertexec_probe: an alert_exec program for the tests, which records what
 * it was given.
 *
 *   alertexec_probe record DIR   writes DIR/PID.json (its stdin), DIR/PID.env
 *                                (its environment, then its signal mask,
 *                                ignored signals and death signal), DIR/PID.fds
 *                                (its open fds), then DIR/PID.done
 *   alertexec_probe hang DIR     writes DIR/PID.hang, then waits forever
 *   alertexec_probe exit N       exits with status N
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char **environ;

static FILE *open_out(const char *dir, const char *ext) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%d.%s", dir, (int)getpid(), ext);
        FILE *f = fopen(path, "w");
        if (!f)
                exit(2);
        return f;
}

/* Copies the SigBlk: and SigIgn: lines of /proc/self/status. */
static void signal_lines(FILE *out) {
        char line[256];
        FILE *f = fopen("/proc/self/status", "r");
        if (!f)
                exit(2);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0)
                        fputs(line, out);
        fclose(f);
}

static int record(const char *dir) {
        char buf[65536];
        size_t n;
        FILE *f = open_out(dir, "json");
        while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
                fwrite(buf, 1, n, f);
        fclose(f);

        f = open_out(dir, "env");
        for (char **e = environ; *e; e++)
                fprintf(f, "%s\n", *e);
        signal_lines(f);
        int sig = 0;
        prctl(PR_GET_PDEATHSIG, &sig);
        fprintf(f, "PDEATHSIG: %d\n", sig);
        fclose(f);

        /* Listed before the file below is opened. */
        int fds[64], count = 0;
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                exit(2);
        struct dirent *de;
        while ((de = readdir(d)) && count < 64)
                if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
                        fds[count++] = atoi(de->d_name);
        closedir(d);
        f = open_out(dir, "fds");
        for (int i = 0; i < count; i++)
                fprintf(f, "%d\n", fds[i]);
        fclose(f);

        fclose(open_out(dir, "done"));
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 3 && strcmp(argv[1], "record") == 0)
                return record(argv[2]);
        if (argc == 3 && strcmp(argv[1], "hang") == 0) {
                fclose(open_out(argv[2], "hang"));
                for (;;)
                        pause();
        }
        if (argc == 3 && strcmp(argv[1], "exit") == 0)
                return atoi(argv[2]);
        fprintf(stderr, "usage: alertexec_probe record DIR | hang DIR | exit N\n");
        return 64;
}
