// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Batch mode: many commands for the price of one process start, which is
 * what scripts (and tests in emulated guests) pay most for.  Words are
 * split at blanks; "double quotes" keep blanks and allow an empty word (no
 * escapes); a line starting with # is a comment.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "report.h"

#define MAX_WORDS 64

/* Splits line in place; returns the number of words, or -1. */
static int split(char *line, char *words[MAX_WORDS])
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p || (n == 0 && *p == '#'))
			return n;
		if (n == MAX_WORDS)
			return -1;
		if (*p == '"') {
			words[n++] = ++p;
			p = strchr(p, '"');
			if (!p)
				return -1;
		} else {
			words[n++] = p;
			p += strcspn(p, " \t\n\r");
			if (!*p)
				return n;
		}
		*p++ = '\0';
	}
}

int batch_run(const char *path, int (*run)(int argc, char *argv[]))
{
	char line[4096], *words[MAX_WORDS + 1];
	unsigned int lineno = 0;
	FILE *f = stdin;
	int n, ret = EXIT_OK;

	if (strcmp(path, "-")) {
		f = fopen(path, "r");
		if (!f) {
			fprintf(stderr, "%s: cannot open batch file \"%s\": %s\n",
				prog, path, strerror(errno));
			return EXIT_USAGE;
		}
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			ret = usage_error("batch line %u: too long", lineno);
			break;
		}
		n = split(line, words);
		if (n < 0) {
			ret = usage_error("batch line %u: unbalanced quote or more than %d words",
					  lineno, MAX_WORDS);
			break;
		}
		if (!n)
			continue;
		words[n] = NULL;
		ret = run(n, words);
		/* Keep each command's output in order with its errors. */
		fflush(stdout);
		if (ret) {
			fprintf(stderr, "%s: batch: stopped at line %u\n", prog,
				lineno);
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	return ret;
}
