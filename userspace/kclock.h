/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The kernel clock's frequency, as adjtimex() reports it: the rate at which
 * the clock ntpk stamps replies with runs, whoever set it.  follow compares
 * it with the daemon's own frequency estimate: their difference is how
 * fast the kernel clock leaves the daemon's time while nobody corrects it
 * (an unfinished slew of a stopped chronyd, or anyone's adjtimex()).
 */
#ifndef NTPKCTL_KCLOCK_H
#define NTPKCTL_KCLOCK_H

#include <stdint.h>

/*
 * The kernel clock's frequency against its uncorrected rate, ppb, positive
 * when it runs fast: the frequency offset, the tick's, and the 500 ppm of
 * an adjtime() slew still running.  Returns 0, or -errno.
 */
int kclock_freq_ppb(int64_t *ppb);

#endif
