/*
 * transfer.c
 *	  A transfer's fee, charged to the sender on top of the amount
 *	  (CONTRACT.md section 17), and the most a sender can move when it moves
 *	  all it may.
 */
#include "engine/engine.h"

/*
 * engine_transfer_fee is the fee of a transfer of amount: amount * rate
 * (half away from zero) + fixed, all minor units but the rate.
 */
int64
engine_transfer_fee(int64 amount, Numeric rate, int64 fixed)
{
	if (amount < 0 || fixed < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a transfer's amount and fixed fee must not be negative")));
	return checked_add(rate_of(amount, rate), fixed);
}

/*
 * engine_transfer_all is the largest amount a sender with transferable
 * earnings can move, its fee on top (amount + fee <= transferable); 0 when
 * the fee alone takes it all.
 */
int64
engine_transfer_all(int64 transferable, Numeric rate, int64 fixed)
{
	int64		lo = 0;
	int64		hi = transferable;

	if (transferable <= 0 || transferable - fixed <= 0)
		return 0;
	hi = transferable - fixed;
	/* amount + fee grows with the amount: the last amount that fits, by halving */
	while (lo < hi)
	{
		int64		mid = lo + (hi - lo + 1) / 2;

		if (checked_add(mid, engine_transfer_fee(mid, rate, fixed)) <= transferable)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

