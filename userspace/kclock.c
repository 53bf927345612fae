// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The kernel clock's frequency from adjtimex() (modes 0: a read).  See
 * kclock.h.
 *
 * The kernel's second is tick * USER_HZ microseconds long, scaled by the
 * frequency offset (struct timex freq: ppm with a 16-bit fraction), so
 * one microsecond of tick is USER_HZ ppm; chronyd sets both.  An adjtime()
 * offset still being slewed (the ADJ_OFFSET_SINGLESHOT of old daemons)
 * moves the clock by another 500 ppm (the kernel's MAX_TICKADJ) until it
 * is done.  The PLL's own offset correction (STA_PLL, ntpd's kernel
 * discipline) is not counted: there the kernel clock is the daemon's time.
 */
#include <errno.h>
#include <sys/timex.h>
#include <unistd.h>

#include "kclock.h"

#define SINGLESHOT_PPB	500000

int kclock_freq_ppb(int64_t *ppb)
{
	struct timex tx = { .modes = 0 };
	struct timex ss = { .modes = ADJ_OFFSET_SS_READ };
	long hz = sysconf(_SC_CLK_TCK);
	int64_t f;

	if (hz <= 0)
		return -EINVAL;
	if (adjtimex(&tx) < 0 || adjtimex(&ss) < 0)
		return -errno;
	/* ppm << 16 to ppb: exact to a thousandth of a ppb, rounded out. */
	f = (int64_t)tx.freq * 1000;
	f = f < 0 ? -((-f + 65535) >> 16) : (f + 65535) >> 16;
	f += ((int64_t)tx.tick * hz - 1000000) * 1000;
	if (ss.offset > 0)
		f += SINGLESHOT_PPB;
	else if (ss.offset < 0)
		f -= SINGLESHOT_PPB;
	*ppb = f;
	return 0;
}
