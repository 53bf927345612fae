/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A tiny JSON writer: compact output, one line per top-level value.  A key
 * is given inside objects and NULL inside arrays or at the top level.
 */
#ifndef NTPKCTL_JSON_H
#define NTPKCTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 8

struct json {
	FILE *f;
	int depth;
	bool comma[JSON_MAX_DEPTH];
};

void json_init(struct json *j, FILE *f);
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_string(struct json *j, const char *key, const char *v);
void json_uint(struct json *j, const char *key, uint64_t v);
void json_int(struct json *j, const char *key, int64_t v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
/* A number already formatted as a valid JSON number, e.g. "0.000015". */
void json_number(struct json *j, const char *key, const char *literal);

#endif
