/*
 * lotset_int.h
 *	  Private to the lot set type's files (src/lotset/): the bounds of a lot's
 *	  values and the checks its input functions share.
 */
#ifndef WALLET_LOTSET_INT_H
#define WALLET_LOTSET_INT_H

#include "wallet.h"


#include <ctype.h>

#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "miscadmin.h"
#include "utils/datetime.h"

#define LOT_VALUE_MAX INT64CONST(1000000000000000000)

/* Lot times lie in years 1 to 9999, so that the text form can hold them. */
#define LOT_TIME_MIN INT64CONST(-63082281600000000)	/* 0001-01-01 00:00:00 UTC */
#define LOT_TIME_MAX INT64CONST(252455615999999999)	/* 9999-12-31 23:59:59.999999 UTC */

/* layout.c */
extern bool valid_scope_text(const char *s);

#endif							/* WALLET_LOTSET_INT_H */
