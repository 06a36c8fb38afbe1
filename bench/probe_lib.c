/*
 * probe_lib: a tiny shared library for the workload's `dlopen` and `replace`
 * commands (the alert tests copy it where they need it).
 */
int memmon_probe(int x);

int memmon_probe(int x) {
        return x + 1;
}
