/* spawn: run one command and report its rusage, for bench/bench.py.
 *
 *   spawn TIMEOUT_S COMMAND [ARG...]
 *
 * Forks, execs COMMAND (stdin, stdout, stderr inherited), reaps it with
 * wait4 and writes one line to file descriptor 3:
 *
 *   <wait status> <utime us> <stime us> <maxrss KiB> <t0 ns> <t1 ns> <pid>
 *
 * t0 is CLOCK_MONOTONIC just before fork, t1 just after wait4 returned.
 * The child is killed with SIGKILL after TIMEOUT_S seconds.
 *
 * Why not posix_spawn from Python directly: a child's ru_maxrss includes the
 * high-water RSS of the memory image it replaced at execve (the kernel keeps
 * it in signal->maxrss), so every child of a ~15 MiB Python reports at least
 * ~15 MiB. This helper is small and static; its children start from its few
 * hundred KiB instead. Fd 3 is close-on-exec, so the command never sees it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;

static void on_alarm(int sig)
{
    (void)sig;
    if (child > 0)
        kill(child, SIGKILL);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: spawn TIMEOUT_S COMMAND [ARG...]\n");
        return 125;
    }
    int timeout = atoi(argv[1]);
    if (fcntl(3, F_SETFD, FD_CLOEXEC) != 0) {
        perror("spawn: fd 3");
        return 125;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);

    long long t0 = now_ns();
    child = fork();
    if (child < 0) {
        perror("spawn: fork");
        return 125;
    }
    if (child == 0) {
        execv(argv[2], argv + 2);
        fprintf(stderr, "spawn: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    if (timeout > 0)
        alarm(timeout);
    int status;
    struct rusage ru;
    pid_t r;
    do
        r = wait4(child, &status, 0, &ru);
    while (r < 0 && errno == EINTR);
    long long t1 = now_ns();
    if (r < 0) {
        perror("spawn: wait4");
        return 125;
    }
    dprintf(3, "%d %lld %lld %ld %lld %lld %d\n", status,
            (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
            (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec,
            ru.ru_maxrss, t0, t1, (int)child);
    return 0;
}
