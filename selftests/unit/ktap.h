/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The harness of the host unit tests: checks that count failures and print
 * a bounded number of diagnostics, a seeded PRNG, and a runner that prints
 * one KTAP report and gives the exit code (0 pass, 1 fail).  Each test
 * program includes it once.
 */
#ifndef NTPK_UNIT_KTAP_H
#define NTPK_UNIT_KTAP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_DIAG	8	/* diagnostic lines printed per test */

static unsigned int fails;	/* failed checks in the current test */

static inline void diag(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static inline void diag(const char *fmt, ...)
{
	va_list ap;

	if (fails == MAX_DIAG)
		printf("# (further failures of this test not shown)\n");
	if (fails++ >= MAX_DIAG)
		return;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define CHECK_EQ(got, want, fmt, ...) do {				\
	unsigned long long _g = (unsigned long long)(got);		\
	unsigned long long _w = (unsigned long long)(want);		\
	if (_g != _w)							\
		diag("%s:%d: %s = 0x%llx, want 0x%llx (" fmt ")",	\
		     __FILE__, __LINE__, #got, _g, _w, ##__VA_ARGS__);	\
} while (0)

/* splitmix64: a fixed seed makes every run check the same values. */
static uint64_t rng_state;

static inline void rng_seed(uint64_t seed)
{
	rng_state = seed;
}

static inline uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct ktap_test {
	const char *name;
	void (*fn)(void);
};

#define T(name)	{ #name, test_##name }

static inline int ktap_run(const struct ktap_test *tests, size_t n)
{
	unsigned int pass = 0, fail = 0;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%zu\n", n);
	for (i = 0; i < n; i++) {
		fails = 0;
		tests[i].fn();
		if (fails) {
			printf("not ok %zu %s\n", i + 1, tests[i].name);
			fail++;
		} else {
			printf("ok %zu %s\n", i + 1, tests[i].name);
			pass++;
		}
	}
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:0 error:0\n", pass, fail);
	return fail ? 1 : 0;
}

#endif /* NTPK_UNIT_KTAP_H */
