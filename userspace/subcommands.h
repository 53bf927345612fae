/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * One entry point per subcommand; argv[0] is the subcommand's own name.
 * Each returns an exit code from report.h.  "COMMAND help" (-h, --help)
 * never reaches them: ntpkctl.c prints the command's usage.
 */
#ifndef NTPKCTL_SUBCOMMANDS_H
#define NTPKCTL_SUBCOMMANDS_H

#include <stdbool.h>


int show_main(int argc, char *argv[]);
int stats_main(int argc, char *argv[]);
int set_main(int argc, char *argv[]);
int ratelimit_main(int argc, char *argv[]);
int addr_main(int argc, char *argv[]);
int state_main(int argc, char *argv[]);
int follow_main(int argc, char *argv[]);
int apply_main(int argc, char *argv[]);
int help_main(int argc, char *argv[]);

#endif
