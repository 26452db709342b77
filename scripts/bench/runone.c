/*
 * runone: run one command and print what it cost, measured by the OS.
 *
 *   runone [-o LOG] [-t SECONDS] PROGRAM [ARGS...]
 *
 * Prints one line on stdout:
 *
 *   <exit> <wall_us> <user_us> <sys_us> <maxrss_kb>
 *
 * exit is the exit code, or 128+signal. wall is CLOCK_MONOTONIC from just
 * before fork to wait4's return. user/sys/maxrss come from wait4's rusage:
 * the child plus every descendant it waited for (so a shell script's
 * redis-cli, psql and curl are counted too); maxrss is the largest of them.
 *
 * Why C and not Python's os.wait4: on Linux, exec() folds the *parent's*
 * peak RSS into the child's ru_maxrss when the child was forked (or
 * vforked) from it, so a child of a 10 MB Python interpreter can never
 * report less than ~10 MB. This helper is ~1 MB, far below anything it
 * measures. The child's stdin is /dev/null; stdout and stderr go to LOG
 * (appended) or /dev/null. With -t the child is killed (SIGKILL) after
 * SECONDS, so a run can never hang the harness.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child = 0;

static void on_alarm(int sig) {
    (void)sig;
    if (child > 0) kill(child, SIGKILL);
}

static long long us(struct timeval tv) { return (long long)tv.tv_sec * 1000000LL + tv.tv_usec; }

int main(int argc, char **argv) {
    const char *log = "/dev/null";
    int timeout = 0;
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            log = argv[i + 1];
            i += 2;
        } else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            timeout = atoi(argv[i + 1]);
            i += 2;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            break;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: runone [-o LOG] [-t SECONDS] PROGRAM [ARGS...]\n");
        return 2;
    }
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || in < 0) {
        perror("runone: open");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    child = fork();
    if (child < 0) {
        perror("runone: fork");
        return 2;
    }
    if (child == 0) {
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        execvp(argv[i], &argv[i]);
        fprintf(stderr, "runone: exec %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    if (timeout > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        alarm((unsigned)timeout);
    }
    int status = 0;
    struct rusage ru;
    pid_t r;
    do {
        r = wait4(child, &status, 0, &ru);
    } while (r < 0 && errno == EINTR);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (r < 0) {
        perror("runone: wait4");
        return 2;
    }
    long long wall = (long long)(t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    printf("%d %lld %lld %lld %ld\n", code, wall, us(ru.ru_utime), us(ru.ru_stime), ru.ru_maxrss);
    return 0;
}
