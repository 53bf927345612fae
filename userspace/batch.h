/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ntpkctl -b FILE: one command line per line, as ip -batch does.
 */
#ifndef NTPKCTL_BATCH_H
#define NTPKCTL_BATCH_H

/*
 * Runs every line of path ("-" for stdin) through run(), stopping at the
 * first line that fails; returns that line's exit code, or EXIT_OK.
 */
int batch_run(const char *path, int (*run)(int argc, char *argv[]));

#endif
