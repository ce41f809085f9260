/* Shared by the C baselines of netfilter-bench: argument parsing and the measurement window.
 *
 * Every consumer prints "ready" once bound, counts messages, takes a snapshot of its own CPU
 * time (getrusage(RUSAGE_SELF): user + sys) and a monotonic clock when the warm-up count is
 * reached and again at the last message, and prints
 *   result count=<n> cpu_ns=<ns> wall_ns=<ns> overruns=<n>
 * where cpu_ns and wall_ns cover the messages after the warm-up. */
#ifndef NFBENCH_COMMON_H
#define NFBENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
#include <sys/resource.h>

struct snap {
	int64_t cpu_ns;
	int64_t wall_ns;
};

static inline void take_snap(struct snap *s)
{
	struct rusage ru;
	struct timespec ts;

	getrusage(RUSAGE_SELF, &ru);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->cpu_ns = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
		    (int64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	s->wall_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void print_result(long count, long warm, const struct snap *a,
				const struct snap *b, long overruns)
{
	long measured = count > warm ? count - warm : 0;

	printf("result count=%ld measured=%ld cpu_ns=%lld wall_ns=%lld overruns=%ld\n", count,
	       measured, (long long)(b->cpu_ns - a->cpu_ns), (long long)(b->wall_ns - a->wall_ns),
	       overruns);
	fflush(stdout);
}

static inline long arg_long(int argc, char **argv, int i, long fallback)
{
	return argc > i ? strtol(argv[i], NULL, 0) : fallback;
}

#endif
