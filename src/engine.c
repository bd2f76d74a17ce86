/*
 * engine.c
 *	  The money rules as pure functions over a lot set: adding lots, bonus-first
 *	  allocation, proportional reversal, refund netting and holds, expiry and
 *	  totals. No table access: every function takes a value and returns one.
 */
#include "wallet.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(wallet_lots_empty);
PG_FUNCTION_INFO_V1(wallet_lots_add);
PG_FUNCTION_INFO_V1(wallet_lots_spend);
PG_FUNCTION_INFO_V1(wallet_lots_totals);
PG_FUNCTION_INFO_V1(wallet_lots_expire);
PG_FUNCTION_INFO_V1(wallet_lots_negative);
PG_FUNCTION_INFO_V1(wallet_lots_take);
PG_FUNCTION_INFO_V1(wallet_reversal_split);
PG_FUNCTION_INFO_V1(wallet_lots_minus);
PG_FUNCTION_INFO_V1(wallet_lots_reverse);
PG_FUNCTION_INFO_V1(wallet_lots_refund_info);
PG_FUNCTION_INFO_V1(wallet_lots_refund_hold);
PG_FUNCTION_INFO_V1(wallet_lots_refund_release);
PG_FUNCTION_INFO_V1(wallet_lots_refund_settle);
PG_FUNCTION_INFO_V1(wallet_lots_list);
PG_FUNCTION_INFO_V1(wallet_check_scene);
PG_FUNCTION_INFO_V1(wallet_debt_repaid);

/* ---- small rules ---- */

/* expired tells whether a lot's expiry has passed at now. */
static inline bool
expired(const WalletLot *l, TimestampTz now)
{
	return !TIMESTAMP_NOT_FINITE(l->until) && l->until <= now;
}

/* in_window tells whether a cash lot is still refundable at now. */
static inline bool
in_window(const WalletLot *l, TimestampTz now)
{
	return l->bucket == BUCKET_CASH && !TIMESTAMP_NOT_FINITE(l->until) && l->until > now;
}

/* check_scene refuses a scene name that is not [A-Za-z0-9_.:-]{1,64}. */
void
check_scene(const char *scene, const char *argname)
{
	size_t		n = strlen(scene);

	if (n == 0 || n > WALLET_MAX_SCENE_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be 1 to %d characters long", argname, WALLET_MAX_SCENE_LEN)));
	for (size_t i = 0; i < n; i++)
	{
		char		c = scene[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '.' || c == ':' || c == '-'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s has an unknown format", argname),
					 errdetail("A scene name uses letters, digits and _ . : - only.")));
	}
}

/* scene_arg returns argument n as a checked scene, or NULL. */
static char *
scene_arg(FunctionCallInfo fcinfo, int n)
{
	char	   *scene;

	if (PG_ARGISNULL(n))
		return NULL;
	scene = text_to_cstring(PG_GETARG_TEXT_PP(n));
	check_scene(scene, "scene");
	return scene;
}

/* scope_from_array joins a text[] of scenes with commas (NULL for NULL). */
char *
scope_from_array(ArrayType *arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	StringInfoData buf;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scope must be NULL or list at least one scene")));
	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
	{
		char	   *s;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("scope must not contain NULL")));
		s = TextDatumGetCString(elems[i]);
		check_scene(s, "scope");
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfoString(&buf, s);
	}
	if (buf.len > WALLET_MAX_SCOPE_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scope is too long")));
	return buf.data;
}

/* find_lot returns the index of lot id in b, or -1. */
static int
find_lot(LotBuilder *b, int32 id)
{
	for (int i = 0; i < b->nlots; i++)
		if (b->lots[i].id == id)
			return i;
	return -1;
}

/* find_topup_cash returns the index of top-up txn's cash lot, or -1. */
static int
find_topup_cash(LotBuilder *b, int64 txn, bool want_held)
{
	int			found = -1;

	for (int i = 0; i < b->nlots; i++)
	{
		WalletLot  *l = &b->lots[i];

		if (l->bucket != BUCKET_CASH || l->txn != txn || TIMESTAMP_NOT_FINITE(l->until))
			continue;
		if (want_held && l->held == 0)
			continue;
		found = i;
	}
	return found;
}

/*
 * compact drops empty lots and merges what is fungible: cash lots whose
 * refund window has closed (and nothing is held) become one, and all earnings
 * become one. Cash lots within their window stay, even empty, because their
 * netting counters still matter.
 */
void
compact(LotBuilder *b, TimestampTz now)
{
	int			closed = -1;
	int			earn = -1;
	int			i = 0;

	while (i < b->nlots)
	{
		WalletLot  *l = &b->lots[i];
		int			into = -1;

		if (l->bucket == BUCKET_CASH && !in_window(l, now) && l->held == 0 && l->clawed > 0)
		{
			/*
			 * bonus clawed back stays on its top-up's lot after the window: if a
			 * reversal gives that bonus back, it comes back as cash
			 */
			l->owed = 0;
		}
		else if (l->bucket == BUCKET_CASH && !in_window(l, now) && l->held == 0)
		{
			l->until = WALLET_NO_TIME;
			l->owed = 0;
			l->clawed = 0;
			if (closed >= 0)
				into = closed;
			else if (l->amount == 0)
			{
				builder_remove(b, i);
				continue;
			}
			else
				closed = i;
		}
		else if (l->bucket == BUCKET_EARNINGS)
		{
			if (earn >= 0)
				into = earn;
			else if (l->amount == 0 && l->held == 0)
			{
				builder_remove(b, i);
				continue;
			}
			else
				earn = i;
		}
		else if (l->bucket == BUCKET_BONUS && l->amount == 0 && l->held == 0)
		{
			builder_remove(b, i);
			continue;
		}
		if (into >= 0)
		{
			WalletLot  *t = &b->lots[into];

			t->amount = checked_add(t->amount, l->amount);
			t->held = checked_add(t->held, l->held);
			if (l->granted < t->granted)
				t->granted = l->granted;
			builder_remove(b, i);
			continue;
		}
		i++;
	}
}

/*
 * wallet_result_desc returns the result row type of fcinfo's function,
 * blessed, for a row formed at once (before any lock is taken or catalog
 * change taken in). What the function returns is worked out once per backend
 * and function (a statement run again is a new call site) and kept in the
 * call site's fn_extra for the rows after: a query calling a function for
 * every wallet, or a client calling spend again and again, would otherwise
 * work it out every time.
 * - OUT columns: they never change while the function's oid stays, so their
 *   row type is built and registered once.
 * - A named composite type (spend and top_up return one: the executor then
 *   takes their row type from the type cache, where OUT columns make it build
 *   one from the function's catalog row at every call): ALTER TYPE can change
 *   it under the same function, so it is read from the type cache, which
 *   follows such changes, at every call.
 */
typedef struct KnownResult
{
	Oid			fn;
	Oid			type;			/* RECORDOID for OUT columns */
	TupleDesc	td;				/* OUT columns only */
} KnownResult;

TupleDesc
wallet_result_desc(FunctionCallInfo fcinfo)
{
	static KnownResult known[32];
	static int	nknown;
	FmgrInfo   *flinfo = fcinfo->flinfo;
	KnownResult *k = flinfo != NULL ? (KnownResult *) flinfo->fn_extra : NULL;
	TupleDesc	td;

	for (int i = 0; k == NULL && flinfo != NULL && i < nknown; i++)
		if (known[i].fn == flinfo->fn_oid)
			k = (KnownResult *) (flinfo->fn_extra = &known[i]);
	if (k == NULL)
	{
		Oid			type;
		MemoryContext old;

		if (get_call_result_type(fcinfo, &type, &td) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "function returning record called in context that cannot accept type record");
		if (flinfo == NULL)
			return BlessTupleDesc(td);
		/* kept for the backend's life; when the table is full (functions recreated), per call site */
		old = MemoryContextSwitchTo(nknown < (int) lengthof(known) ? TopMemoryContext : flinfo->fn_mcxt);
		k = nknown < (int) lengthof(known) ? &known[nknown++] : palloc(sizeof(KnownResult));
		k->fn = flinfo->fn_oid;
		k->type = type;
		k->td = type == RECORDOID ? BlessTupleDesc(CreateTupleDescCopy(td)) : NULL;
		MemoryContextSwitchTo(old);
		flinfo->fn_extra = k;
	}
	if (k->td != NULL)
		return k->td;
	/* the type cache keeps its own reference until the type changes */
	td = lookup_rowtype_tupdesc(k->type, -1);
	ReleaseTupleDesc(td);
	return td;
}

/* result_tuple forms the composite result of fcinfo's function. */
static Datum
result_tuple(FunctionCallInfo fcinfo, Datum *values, bool *nulls)
{
	return HeapTupleGetDatum(heap_form_tuple(wallet_result_desc(fcinfo), values, nulls));
}

/* ---- spending order ---- */

/*
 * spend_cmp orders lots for spending: bonus (soonest expiry first, no expiry
 * last, then oldest grant), then cash (oldest first), then earnings.
 */
static int
spend_cmp(const void *a, const void *b, void *arg)
{
	const WalletLot *lots = (const WalletLot *) arg;
	const WalletLot *x = &lots[*(const int *) a];
	const WalletLot *y = &lots[*(const int *) b];

	if (x->bucket != y->bucket)
	{
		/* bonus (1) sorts before cash (0), before earnings (2) */
		static const int rank[WALLET_NBUCKETS] = {1, 0, 2};

		return rank[x->bucket] - rank[y->bucket];
	}
	if (x->bucket == BUCKET_BONUS && x->until != y->until)
		return x->until < y->until ? -1 : 1;
	if (x->granted != y->granted)
		return x->granted < y->granted ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* usable tells whether lot i may be spent in scene at now. */
static bool
usable(LotBuilder *b, int i, const char *scene, TimestampTz now)
{
	WalletLot  *l = &b->lots[i];

	if (l->amount <= 0)
		return false;
	if (l->bucket == BUCKET_BONUS)
		return !expired(l, now) && scope_allows(b->scopes[i], scene);
	return true;
}

/* copy_piece appends to `to` a copy of from's lot i carrying amount. */
static void
copy_piece(LotBuilder *to, LotBuilder *from, int i, int64 amount)
{
	WalletLot  *src = &from->lots[i];
	int32		save = to->next_id;
	WalletLot  *p;

	to->next_id = src->id;
	p = builder_add(to, from->scopes[i]);
	to->next_id = Max(save, src->id + 1);
	p->bucket = src->bucket;
	p->amount = amount;
	p->txn = src->txn;
	p->granted = src->granted;
	p->until = src->until;
}

/*
 * restore_piece recreates a lot for reversal piece k with no amount yet and
 * returns its index: with the piece's own id when that id is free, else
 * (its lot still exists but cannot take the piece, e.g. it is held) a new id.
 */
static int
restore_piece(LotBuilder *b, LotBuilder *pieces, int k)
{
	if (find_lot(b, pieces->lots[k].id) < 0)
		copy_piece(b, pieces, k, 0);
	else
	{
		WalletLot  *src = &pieces->lots[k];
		WalletLot  *l = builder_add(b, pieces->scopes[k]);

		l->bucket = src->bucket;
		l->txn = src->txn;
		l->granted = src->granted;
		l->until = src->until;
	}
	return b->nlots - 1;
}

/* new_builder returns an empty builder whose ids run below next_id. */
LotBuilder *
new_builder(int32 next_id)
{
	LotBuilder *b = palloc0(sizeof(LotBuilder));

	b->cap = 8;
	b->next_id = next_id;
	b->lots = palloc(sizeof(WalletLot) * b->cap);
	b->scopes = palloc0(sizeof(char *) * b->cap);
	return b;
}

/* ---- SQL-callable functions ---- */

/* wallet.lots_empty() returns an empty lot set. */
Datum
wallet_lots_empty(PG_FUNCTION_ARGS)
{
	PG_RETURN_LOTSET_P(lotset_pack(new_builder(1)));
}

/*
 * engine_add adds one lot granted at `at` (until: expiry or refund window end,
 * WALLET_NO_TIME for none; scope: bonus only) and compacts at that time.
 */
void
engine_add(LotBuilder *b, int bucket, int64 amount, int64 txn, TimestampTz at,
		   TimestampTz until, const char *scope)
{
	WalletLot  *l;

	if (amount <= 0 || amount > WALLET_MAX_MINOR)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lot amount must be between 1 and 10^15 minor units")));
	if (scope != NULL && bucket != BUCKET_BONUS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("only bonus lots have a scope")));
	l = builder_add(b, scope);
	l->bucket = bucket;
	l->amount = amount;
	l->txn = txn;
	l->granted = at;
	if (bucket != BUCKET_EARNINGS)
		l->until = until;
	compact(b, at);
}

/*
 * wallet.lots_add(lots, bucket text, amount bigint, txn bigint, at timestamptz,
 * until timestamptz, scope text[]) adds one lot granted at `at` and compacts
 * at that time. until and scope may be NULL.
 */
Datum
wallet_lots_add(PG_FUNCTION_ARGS)
{
	LotBuilder *b;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		elog(ERROR, "lots_add needs lots, bucket, amount, txn and at");
	b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	engine_add(b, bucket_from_name(text_to_cstring(PG_GETARG_TEXT_PP(1)), false),
			   PG_GETARG_INT64(2), PG_GETARG_INT64(3), PG_GETARG_TIMESTAMPTZ(4),
			   PG_ARGISNULL(5) ? WALLET_NO_TIME : PG_GETARG_TIMESTAMPTZ(5),
			   PG_ARGISNULL(6) ? NULL : scope_from_array(PG_GETARG_ARRAYTYPE_P(6)));
	PG_RETURN_LOTSET_P(lotset_pack(b));
}

/*
 * engine_spend takes up to want from b in spending order at now, for scene
 * (NULL: unscoped bonus only). It fills used[bucket], returns the shortfall
 * and, when taken is not NULL, the pieces taken (as lots) for a reversal.
 * Bonus taken from a top-up still in its refund window is owed by that top-up.
 */
int64
engine_spend(LotBuilder *b, int64 want, const char *scene, TimestampTz now,
			 int64 used[WALLET_NBUCKETS], LotBuilder **taken)
{
	int		   *order;
	int			n = 0;
	LotBuilder *t = new_builder(b->next_id);

	if (want < 0)
		elog(ERROR, "spend amount must not be negative");
	for (int k = 0; k < WALLET_NBUCKETS; k++)
		used[k] = 0;
	order = palloc(sizeof(int) * Max(b->nlots, 1));
	for (int i = 0; i < b->nlots; i++)
		if (usable(b, i, scene, now))
			order[n++] = i;
	qsort_arg(order, n, sizeof(int), spend_cmp, b->lots);

	for (int k = 0; k < n && want > 0; k++)
	{
		WalletLot  *l = &b->lots[order[k]];
		int64		take = Min(want, l->amount);

		l->amount -= take;
		want -= take;
		used[l->bucket] += take;
		copy_piece(t, b, order[k], take);
		if (l->bucket == BUCKET_BONUS)
		{
			int			c = find_topup_cash(b, l->txn, false);

			if (c >= 0 && in_window(&b->lots[c], now))
				b->lots[c].owed = checked_add(b->lots[c].owed, take);
		}
	}
	pfree(order);
	compact(b, now);
	if (taken)
		*taken = t;
	return want;
}

/*
 * wallet.lots_spend(lots, amount bigint, scene text, now timestamptz) takes up
 * to amount in spending order and returns (lots, taken, bonus, cash, earnings,
 * shortfall). `taken` holds the pieces, as lots, for a later reversal.
 */
Datum
wallet_lots_spend(PG_FUNCTION_ARGS)
{
	LotBuilder *b;
	LotBuilder *taken;
	int64		used[WALLET_NBUCKETS];
	int64		shortfall;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3))
		elog(ERROR, "lots_spend needs lots, amount and now");
	b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	shortfall = engine_spend(b, PG_GETARG_INT64(1), scene_arg(fcinfo, 2), PG_GETARG_TIMESTAMPTZ(3),
							 used, &taken);
	values[0] = PointerGetDatum(lotset_pack(b));
	values[1] = PointerGetDatum(lotset_pack(taken));
	values[2] = Int64GetDatum(used[BUCKET_BONUS]);
	values[3] = Int64GetDatum(used[BUCKET_CASH]);
	values[4] = Int64GetDatum(used[BUCKET_EARNINGS]);
	values[5] = Int64GetDatum(shortfall);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/* engine_next_expiry returns the soonest expiry of live bonus, or WALLET_NO_TIME. */
TimestampTz
engine_next_expiry(const LotBuilder *b)
{
	TimestampTz next = WALLET_NO_TIME;

	for (int i = 0; i < b->nlots; i++)
	{
		const WalletLot *l = &b->lots[i];

		if (l->bucket == BUCKET_BONUS && l->amount > 0 && !TIMESTAMP_NOT_FINITE(l->until) &&
			l->until < next)
			next = l->until;
	}
	return next;
}

/* ---- payee debt ---- */

/*
 * engine_debt_repaid returns how much of a credit goes to a wallet's debt: a
 * credit to a wallet in debt repays the debt first, all of it up to the debt
 * (CONTRACT.md section 5). Every path that credits a wallet (payee credits
 * when they are rolled up, and any later crediting operation) asks this.
 */
int64
engine_debt_repaid(int64 debt, int64 credit)
{
	if (debt < 0 || credit < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("debt and credit must not be negative")));
	return Min(debt, credit);
}

/*
 * wallet.debt_repaid(debt bigint, credit bigint) returns the part of a credit
 * (minor units) that repays a debt (engine_debt_repaid).
 */
Datum
wallet_debt_repaid(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(engine_debt_repaid(PG_GETARG_INT64(0), PG_GETARG_INT64(1)));
}

/*
 * wallet.lots_negative(lots) tells whether any lot has a negative amount or
 * hold (reconciliation's cheap first pass before it lists such lots).
 */
Datum
wallet_lots_negative(PG_FUNCTION_ARGS)
{
	LotBuilder *b = lotset_unpack(PG_GETARG_LOTSET_P(0));

	for (int i = 0; i < b->nlots; i++)
		if (b->lots[i].amount < 0 || b->lots[i].held < 0)
			PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(false);
}

/*
 * wallet.lots_totals(lots, scene text, now timestamptz) returns (cash, bonus,
 * earnings, held, bonus_stored, next_expiry): bonus counts what is usable in
 * scene now; bonus_stored counts every bonus lot, expired or not (the books
 * hold it until the sweep writes it off); next_expiry is the soonest expiry of
 * live bonus, NULL if none.
 */
Datum
wallet_lots_totals(PG_FUNCTION_ARGS)
{
	LotSet	   *ls;
	LotBuilder *b;
	char	   *scene;
	TimestampTz now;
	int64		cash = 0,
				bonus = 0,
				earnings = 0,
				held = 0,
				bonus_stored = 0;
	TimestampTz next = DT_NOEND;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		elog(ERROR, "lots_totals needs lots and now");
	ls = PG_GETARG_LOTSET_P(0);
	scene = scene_arg(fcinfo, 1);
	now = PG_GETARG_TIMESTAMPTZ(2);
	b = lotset_unpack(ls);
	for (int i = 0; i < b->nlots; i++)
	{
		WalletLot  *l = &b->lots[i];

		held = checked_add(held, l->held);
		switch (l->bucket)
		{
			case BUCKET_CASH:
				cash = checked_add(cash, l->amount);
				break;
			case BUCKET_EARNINGS:
				earnings = checked_add(earnings, l->amount);
				break;
			case BUCKET_BONUS:
				bonus_stored = checked_add(bonus_stored, l->amount);
				if (usable(b, i, scene, now))
					bonus = checked_add(bonus, l->amount);
				if (l->amount > 0 && !TIMESTAMP_NOT_FINITE(l->until) && l->until < next)
					next = l->until;
				break;
		}
	}
	values[0] = Int64GetDatum(cash);
	values[1] = Int64GetDatum(bonus);
	values[2] = Int64GetDatum(earnings);
	values[3] = Int64GetDatum(held);
	values[4] = Int64GetDatum(bonus_stored);
	values[5] = TimestampTzGetDatum(next);
	nulls[5] = (next == DT_NOEND);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/*
 * wallet.lots_expire(lots, now) writes off bonus whose expiry has passed and
 * returns (lots, expired bigint, lots_expired int). Held bonus stays held.
 */
Datum
wallet_lots_expire(PG_FUNCTION_ARGS)
{
	LotBuilder *b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	TimestampTz now = PG_GETARG_TIMESTAMPTZ(1);
	int64		total = 0;
	int32		count = 0;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	for (int i = 0; i < b->nlots; i++)
	{
		WalletLot  *l = &b->lots[i];

		if (l->bucket == BUCKET_BONUS && l->amount > 0 && expired(l, now))
		{
			total = checked_add(total, l->amount);
			l->amount = 0;
			count++;
		}
	}
	compact(b, now);
	values[0] = PointerGetDatum(lotset_pack(b));
	values[1] = Int64GetDatum(total);
	values[2] = Int32GetDatum(count);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/*
 * wallet.lots_take(lots, bucket text, amount bigint, now, every_scope boolean
 * DEFAULT false) takes up to amount from one bucket's live lots, in spending
 * order (bonus: soonest expiry first; cash and earnings: oldest first), and
 * returns (lots, taken). Bonus is taken from unscoped lots only, unless
 * every_scope is set (an adjustment takes bonus of any scope); expired bonus
 * is never taken.
 */
Datum
wallet_lots_take(PG_FUNCTION_ARGS)
{
	LotBuilder *b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	int			bucket = bucket_from_name(text_to_cstring(PG_GETARG_TEXT_PP(1)), false);
	int64		want = PG_GETARG_INT64(2);
	TimestampTz now = PG_GETARG_TIMESTAMPTZ(3);
	bool		every_scope = PG_NARGS() > 4 && PG_GETARG_BOOL(4);
	int64		got = 0;
	int		   *order;
	int			n = 0;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	order = palloc(sizeof(int) * Max(b->nlots, 1));
	for (int i = 0; i < b->nlots; i++)
		if (b->lots[i].bucket == bucket &&
			(usable(b, i, NULL, now) ||
			 (every_scope && b->lots[i].amount > 0 && !expired(&b->lots[i], now))))
			order[n++] = i;
	qsort_arg(order, n, sizeof(int), spend_cmp, b->lots);
	for (int k = 0; k < n && got < want; k++)
	{
		WalletLot  *l = &b->lots[order[k]];
		int64		take = Min(want - got, l->amount);

		l->amount -= take;
		got += take;
	}
	compact(b, now);
	values[0] = PointerGetDatum(lotset_pack(b));
	values[1] = Int64GetDatum(got);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/*
 * wallet.lots_minus(a lotset, b lotset) returns a less b, piece by piece
 * (matched by lot id): what is left of a spend's pieces after reversals.
 */
Datum
wallet_lots_minus(PG_FUNCTION_ARGS)
{
	LotBuilder *a = lotset_unpack(PG_GETARG_LOTSET_P(0));
	LotBuilder *sub = lotset_unpack(PG_GETARG_LOTSET_P(1));

	for (int j = 0; j < sub->nlots; j++)
	{
		int			i = find_lot(a, sub->lots[j].id);

		if (i < 0 || a->lots[i].amount < sub->lots[j].amount)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("lot set difference would be negative at lot %d", sub->lots[j].id)));
		a->lots[i].amount -= sub->lots[j].amount;
	}
	for (int i = a->nlots - 1; i >= 0; i--)
		if (a->lots[i].amount == 0)
			builder_remove(a, i);
	PG_RETURN_LOTSET_P(lotset_pack(a));
}

/*
 * wallet.reversal_split(remaining lotset, given_bonus, given_cash,
 * given_earnings bigint, amount bigint) picks the pieces to give back for a
 * reversal of amount: split across buckets in proportion to how the spend was
 * funded (bonus and earnings round down, cash takes the rest), never more
 * than a bucket has left; within a bucket, in reverse spending order.
 */
Datum
wallet_reversal_split(PG_FUNCTION_ARGS)
{
	LotBuilder *rem = lotset_unpack(PG_GETARG_LOTSET_P(0));
	int64		given[WALLET_NBUCKETS];
	int64		x = PG_GETARG_INT64(4);
	int64		left[WALLET_NBUCKETS] = {0, 0, 0};
	int64		share[WALLET_NBUCKETS];
	int64		charged;
	int64		over;
	LotBuilder *out;
	int		   *order;

	given[BUCKET_BONUS] = PG_GETARG_INT64(1);
	given[BUCKET_CASH] = PG_GETARG_INT64(2);
	given[BUCKET_EARNINGS] = PG_GETARG_INT64(3);
	charged = checked_add(checked_add(given[0], given[1]), given[2]);
	for (int i = 0; i < rem->nlots; i++)
		left[rem->lots[i].bucket] = checked_add(left[rem->lots[i].bucket], rem->lots[i].amount);
	for (int k = 0; k < WALLET_NBUCKETS; k++)
		if (given[k] < 0 || given[k] > WALLET_MAX_MINOR)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("spend funding out of range")));
	if (x < 0 || x > checked_add(checked_add(left[0], left[1]), left[2]) || charged <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reversal amount exceeds what is left unreversed")));

	share[BUCKET_BONUS] = Min(left[BUCKET_BONUS],
							  (int64) (((__int128) x * given[BUCKET_BONUS]) / charged));
	share[BUCKET_EARNINGS] = Min(left[BUCKET_EARNINGS],
								 (int64) (((__int128) x * given[BUCKET_EARNINGS]) / charged));
	share[BUCKET_CASH] = x - share[BUCKET_BONUS] - share[BUCKET_EARNINGS];
	if (share[BUCKET_CASH] > left[BUCKET_CASH])
	{
		int64		t;

		over = share[BUCKET_CASH] - left[BUCKET_CASH];
		share[BUCKET_CASH] = left[BUCKET_CASH];
		t = Min(over, left[BUCKET_EARNINGS] - share[BUCKET_EARNINGS]);
		share[BUCKET_EARNINGS] += t;
		over -= t;
		share[BUCKET_BONUS] += over;
		Assert(share[BUCKET_BONUS] <= left[BUCKET_BONUS]);
	}

	/* within each bucket, give back in reverse spending order */
	order = palloc(sizeof(int) * Max(rem->nlots, 1));
	for (int i = 0; i < rem->nlots; i++)
		order[i] = i;
	qsort_arg(order, rem->nlots, sizeof(int), spend_cmp, rem->lots);
	out = new_builder(rem->next_id);
	for (int k = rem->nlots - 1; k >= 0; k--)
	{
		WalletLot  *p = &rem->lots[order[k]];
		int64		give = Min(share[p->bucket], p->amount);

		if (give > 0)
		{
			copy_piece(out, rem, order[k], give);
			share[p->bucket] -= give;
		}
	}
	PG_RETURN_LOTSET_P(lotset_pack(out));
}

/*
 * wallet.lots_reverse(lots, pieces lotset, now) puts reversal pieces back
 * into the lots they came from and returns (lots, bonus, cash, earnings,
 * breakage, bonus_to_cash):
 *  - bonus first settles what its top-up owes; bonus its top-up already paid
 *    back through a refund clawback returns as that top-up's cash; bonus
 *    already expired is written off (breakage); the rest returns as bonus
 *    with its original expiry and scope;
 *  - cash regains its top-up's refund window (or joins the closed cash);
 *  - earnings rejoin the earnings lot.
 * bonus, cash and earnings are what went back into each bucket.
 */
Datum
wallet_lots_reverse(PG_FUNCTION_ARGS)
{
	LotBuilder *b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	LotBuilder *pieces = lotset_unpack(PG_GETARG_LOTSET_P(1));
	TimestampTz now = PG_GETARG_TIMESTAMPTZ(2);
	int64		back[WALLET_NBUCKETS] = {0, 0, 0};
	int64		breakage = 0,
				to_cash = 0;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	if (pieces->next_id > b->next_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reversal pieces do not belong to this wallet")));
	for (int k = 0; k < pieces->nlots; k++)
	{
		WalletLot  *p = &pieces->lots[k];
		int64		amt = p->amount;
		int			i;

		if (p->bucket == BUCKET_BONUS)
		{
			int			c = find_topup_cash(b, p->txn, false);

			/* owed is zero once the window has closed; clawed is kept (see compact) */
			if (c >= 0)
			{
				WalletLot  *cl = &b->lots[c];
				int64		settle = Min(amt, cl->owed);
				int64		conv = Min(amt - settle, cl->clawed);

				cl->owed -= settle;
				cl->clawed -= conv;
				cl->amount = checked_add(cl->amount, conv);
				to_cash = checked_add(to_cash, conv);
				back[BUCKET_CASH] = checked_add(back[BUCKET_CASH], conv);
				amt -= conv;
			}
			if (amt == 0)
				continue;
			if (expired(p, now))
			{
				breakage = checked_add(breakage, amt);
				continue;
			}
			i = find_lot(b, p->id);
			if (i < 0 || b->lots[i].bucket != BUCKET_BONUS)
				i = restore_piece(b, pieces, k);
		}
		else if (p->bucket == BUCKET_CASH)
		{
			i = -1;
			if (!TIMESTAMP_NOT_FINITE(p->until) && p->until > now)
			{
				i = find_lot(b, p->id);
				if (i >= 0 && b->lots[i].bucket != BUCKET_CASH)
					i = -1;
			}
			else
			{
				/* the window has closed: join the closed cash */
				for (int j = 0; j < b->nlots; j++)
					if (b->lots[j].bucket == BUCKET_CASH && !in_window(&b->lots[j], now) &&
						b->lots[j].held == 0)
						i = j;
			}
			if (i < 0)
				i = restore_piece(b, pieces, k);
		}
		else
		{
			i = -1;
			for (int j = 0; j < b->nlots; j++)
				if (b->lots[j].bucket == BUCKET_EARNINGS)
					i = j;
			if (i < 0)
				i = restore_piece(b, pieces, k);
		}
		if (b->lots[i].bucket != p->bucket)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("reversal piece for lot %d does not match its lot", p->id)));
		b->lots[i].amount = checked_add(b->lots[i].amount, amt);
		back[p->bucket] = checked_add(back[p->bucket], amt);
	}
	compact(b, now);
	values[0] = PointerGetDatum(lotset_pack(b));
	values[1] = Int64GetDatum(back[BUCKET_BONUS]);
	values[2] = Int64GetDatum(back[BUCKET_CASH]);
	values[3] = Int64GetDatum(back[BUCKET_EARNINGS]);
	values[4] = Int64GetDatum(breakage);
	values[5] = Int64GetDatum(to_cash);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/*
 * wallet.lots_refund_info(lots, topup_txn bigint, now) returns (found, cash,
 * owed, clawed, bonus_live, refundable_until, held) for a top-up still in its
 * refund window: cash is c and owed is u of the netting rule.
 */
Datum
wallet_lots_refund_info(PG_FUNCTION_ARGS)
{
	LotBuilder *ls = lotset_unpack(PG_GETARG_LOTSET_P(0));
	int64		txn = PG_GETARG_INT64(1);
	TimestampTz now = PG_GETARG_TIMESTAMPTZ(2);
	const WalletLot *cash = NULL;
	int64		bonus_live = 0;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	for (int i = 0; i < ls->nlots; i++)
	{
		const WalletLot *l = &ls->lots[i];

		if (l->txn != txn)
			continue;
		if (l->bucket == BUCKET_CASH && in_window(l, now))
			cash = l;
		else if (l->bucket == BUCKET_BONUS && !expired(l, now))
			bonus_live = checked_add(bonus_live, l->amount);
	}
	values[0] = BoolGetDatum(cash != NULL);
	values[1] = Int64GetDatum(cash ? cash->amount : 0);
	values[2] = Int64GetDatum(cash ? cash->owed : 0);
	values[3] = Int64GetDatum(cash ? cash->clawed : 0);
	values[4] = Int64GetDatum(bonus_live);
	values[5] = TimestampTzGetDatum(cash ? cash->until : 0);
	nulls[5] = (cash == NULL);
	values[6] = Int64GetDatum(cash ? cash->held : 0);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/*
 * wallet.lots_refund_hold(lots, topup_txn, take bigint, clawback bigint, now)
 * reserves a refund: take (amount + clawback) moves from the top-up's cash to
 * held, the clawback stops being owed, and the top-up's live bonus is held.
 * Returns (lots, bonus_held).
 */
Datum
wallet_lots_refund_hold(PG_FUNCTION_ARGS)
{
	LotBuilder *b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	int64		txn = PG_GETARG_INT64(1);
	int64		take = PG_GETARG_INT64(2);
	int64		clawback = PG_GETARG_INT64(3);
	TimestampTz now = PG_GETARG_TIMESTAMPTZ(4);
	int			c = find_topup_cash(b, txn, false);
	int64		bonus_held = 0;
	WalletLot  *cl;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (c < 0 || !in_window(&b->lots[c], now))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("top-up %lld is not refundable in this wallet", (long long) txn)));
	cl = &b->lots[c];
	if (take < 0 || clawback < 0 || clawback > take || take > cl->amount || clawback > cl->owed)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refund hold exceeds what the top-up has")));
	cl->amount -= take;
	cl->held += take;
	cl->owed -= clawback;
	cl->clawed += clawback;
	for (int i = 0; i < b->nlots; i++)
	{
		WalletLot  *l = &b->lots[i];

		if (l->bucket == BUCKET_BONUS && l->txn == txn && l->amount > 0 && !expired(l, now))
		{
			l->held += l->amount;
			bonus_held += l->amount;
			l->amount = 0;
		}
	}
	compact(b, now);
	values[0] = PointerGetDatum(lotset_pack(b));
	values[1] = Int64GetDatum(bonus_held);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/* release_or_settle ends a refund's hold: released gives it back, else final. */
static LotSet *
release_or_settle(LotBuilder *b, int64 txn, int64 take, int64 clawback, int64 bonus_held,
				  TimestampTz now, bool release)
{
	int			c = find_topup_cash(b, txn, true);
	int64		bonus = 0;

	if (take < 0 || clawback < 0 || clawback > take || bonus_held < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refund hold amounts out of range")));
	if (take > 0)
	{
		WalletLot  *cl;

		if (c < 0 || b->lots[c].held < take)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the hold of top-up %lld is not in the wallet", (long long) txn)));
		cl = &b->lots[c];
		cl->held -= take;
		if (release)
		{
			int64		conv = Min(clawback, cl->clawed);

			cl->amount = checked_add(cl->amount, take);
			cl->clawed -= conv;
			cl->owed += conv;
		}
	}
	for (int i = 0; i < b->nlots; i++)
	{
		WalletLot  *l = &b->lots[i];

		if (l->bucket == BUCKET_BONUS && l->txn == txn && l->held > 0)
		{
			bonus = checked_add(bonus, l->held);
			if (release)
				l->amount = checked_add(l->amount, l->held);
			l->held = 0;
		}
	}
	if (bonus != bonus_held)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("held bonus of top-up %lld is " INT64_FORMAT ", expected " INT64_FORMAT,
						(long long) txn, bonus, bonus_held)));
	compact(b, now);
	return lotset_pack(b);
}

/*
 * wallet.lots_refund_release(lots, topup_txn, take, clawback, bonus_held, now)
 * gives a rejected or failed refund's hold back.
 */
Datum
wallet_lots_refund_release(PG_FUNCTION_ARGS)
{
	PG_RETURN_LOTSET_P(release_or_settle(lotset_unpack(PG_GETARG_LOTSET_P(0)),
										 PG_GETARG_INT64(1), PG_GETARG_INT64(2),
										 PG_GETARG_INT64(3), PG_GETARG_INT64(4),
										 PG_GETARG_TIMESTAMPTZ(5), true));
}

/*
 * wallet.lots_refund_settle(lots, topup_txn, take, clawback, bonus_held, now)
 * makes a succeeded refund final: the held cash leaves, the held bonus is void.
 */
Datum
wallet_lots_refund_settle(PG_FUNCTION_ARGS)
{
	PG_RETURN_LOTSET_P(release_or_settle(lotset_unpack(PG_GETARG_LOTSET_P(0)),
										 PG_GETARG_INT64(1), PG_GETARG_INT64(2),
										 PG_GETARG_INT64(3), PG_GETARG_INT64(4),
										 PG_GETARG_TIMESTAMPTZ(5), false));
}

/*
 * wallet.lots_list(lots) returns the lots as rows (lot_id, bucket, amount,
 * held, source_txn, granted_at, until, scope text[], owed, clawed).
 */
Datum
wallet_lots_list(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LotBuilder *ls = lotset_unpack(PG_GETARG_LOTSET_P(0));

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < ls->nlots; i++)
	{
		const WalletLot *l = &ls->lots[i];
		Datum		values[10];
		bool		nulls[10] = {false, false, false, false, false, false, false, false, false, false};

		values[0] = Int32GetDatum(l->id);
		values[1] = CStringGetTextDatum(bucket_name(l->bucket));
		values[2] = Int64GetDatum(l->amount);
		values[3] = Int64GetDatum(l->held);
		values[4] = Int64GetDatum(l->txn);
		values[5] = TimestampTzGetDatum(l->granted);
		values[6] = TimestampTzGetDatum(l->until);
		nulls[6] = TIMESTAMP_NOT_FINITE(l->until);
		if (ls->scopes[i])
		{
			char	   *s = pstrdup(ls->scopes[i]);
			int			n = 1;
			Datum	   *elems;
			int			k = 0;
			char	   *tok;

			for (char *p = s; *p; p++)
				if (*p == ',')
					n++;
			elems = palloc(sizeof(Datum) * n);
			for (tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
				elems[k++] = CStringGetTextDatum(tok);
			values[7] = PointerGetDatum(construct_array(elems, k, TEXTOID, -1, false, TYPALIGN_INT));
		}
		else
			nulls[7] = true;
		values[8] = Int64GetDatum(l->owed);
		values[9] = Int64GetDatum(l->clawed);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* wallet.check_scene(scene text) returns scene, or refuses a malformed one (22023). */
Datum
wallet_check_scene(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	scene_arg(fcinfo, 0);
	PG_RETURN_DATUM(PG_GETARG_DATUM(0));
}
