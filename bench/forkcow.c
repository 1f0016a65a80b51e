/* forkcow.c — what a forked checkpoint writer costs the process that forks
 * it, on this kernel (docs/performance.md, "Where a checkpoint's cost
 * goes"): the fork of MB megabytes of touched anonymous memory, then one
 * write per page by the parent while the child still shares them (a
 * copy-on-write fault each), or after the child wrote every page first
 * (the parent's fault then only takes the page back), and once more after
 * the child is gone (no fault). Times are the parent's CPU time.
 *   cc -O2 -o forkcow bench/forkcow.c && ./forkcow MB MODE [huge]
 * MODE 0: the child only waits; 1: the child writes each page first.
 * huge: madvise(MADV_HUGEPAGE) on the region before touching it. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* CPU seconds of this process (the machine's load does not change it). */
static double now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: forkcow MB MODE [huge]\n");
        return 2;
    }
    size_t n = (size_t)atoi(argv[1]) << 20, pg = 4096;
    int mode = atoi(argv[2]);
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int fd[2];
    if (p == MAP_FAILED || pipe(fd) != 0) return 1;
    if (argc > 3) madvise(p, n, MADV_HUGEPAGE);
    for (size_t i = 0; i < n; i += pg) p[i] = 1;
    double t0 = now();
    pid_t c = fork();
    double tf = now() - t0;
    if (c < 0) return 1;
    if (c == 0) {
        if (mode == 1)
            for (size_t i = 0; i < n; i += pg) p[i] = 2;
        char b = 0;
        if (write(fd[1], &b, 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char b;
    if (read(fd[0], &b, 1) != 1) return 1;
    double t1 = now();
    for (size_t i = 0; i < n; i += pg) p[i] = 3;
    double tw = now() - t1;
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    double t2 = now();
    for (size_t i = 0; i < n; i += pg) p[i] = 4;
    double tw2 = now() - t2;
    printf("%zu MB%s, child %s: fork %.2f ms CPU; parent's first write %.0f ns/page, next %.0f ns/page\n", n >> 20,
           argc > 3 ? " (MADV_HUGEPAGE)" : "", mode ? "wrote every page first" : "waits", tf * 1e3,
           tw * 1e9 / (double)(n / pg), tw2 * 1e9 / (double)(n / pg));
    return 0;
}
