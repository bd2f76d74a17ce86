/*
 * lots.c
 *	  A lot set's small rules and the functions that build, total and list it:
 *	  expiry and refund windows of a lot, scenes and scopes, compaction, adding
 *	  lots, the next expiry, totals, the negative check, the list.
 */
#include "engine/engine.h"

PG_FUNCTION_INFO_V1(wallet_lots_empty);
PG_FUNCTION_INFO_V1(wallet_lots_add);
PG_FUNCTION_INFO_V1(wallet_lots_negative);
PG_FUNCTION_INFO_V1(wallet_lots_totals);
PG_FUNCTION_INFO_V1(wallet_lots_books);
PG_FUNCTION_INFO_V1(wallet_lots_list);
PG_FUNCTION_INFO_V1(wallet_check_scene);

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
char *
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
int
find_lot(LotBuilder *b, int32 id)
{
	for (int i = 0; i < b->nlots; i++)
		if (b->lots[i].id == id)
			return i;
	return -1;
}

/* find_topup_cash returns the index of top-up txn's cash lot, or -1. */
int
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
 * engine_earnings is what a wallet's lots hold in earnings, not held: all a
 * transfer, a withdrawal or an exchange of earnings may take (never bonus,
 * never cash).
 */
int64
engine_earnings(const LotBuilder *b)
{
	int64		sum = 0;

	for (int i = 0; i < b->nlots; i++)
		if (b->lots[i].bucket == BUCKET_EARNINGS)
			sum = checked_add(sum, b->lots[i].amount);
	return sum;
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
 * earnings, held, bonus_stored, next_expiry) as the wallet's owner sees them
 * now: bonus counts what is usable in scene; held what open refunds and
 * holds reserve, and a hold past its expiry reserves nothing (its pieces
 * count where they go back: engine_reserved); bonus_stored counts every bonus
 * lot, expired or not (the books hold it until the sweep writes it off);
 * next_expiry is the soonest expiry of live bonus, NULL if none.
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
	if (b->nres > 0)
	{
		int64		open;
		int64		back[WALLET_NBUCKETS];
		int64		stored;

		engine_reserved(b, scene, now, &open, back, &stored);
		held = checked_add(held, open);
		cash = checked_add(cash, back[BUCKET_CASH]);
		bonus = checked_add(bonus, back[BUCKET_BONUS]);
		earnings = checked_add(earnings, back[BUCKET_EARNINGS]);
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
 * wallet.lots_books(lots) returns (cash, bonus, earnings, held) as the
 * journal has them: every lot, expired bonus included, and every
 * reservation in held, its hold expired or not, until the operation that
 * ends it is journaled. Reconciliation compares them with the postings.
 */
Datum
wallet_lots_books(PG_FUNCTION_ARGS)
{
	LotBuilder *b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	int64		sum[WALLET_NBUCKETS] = {0, 0, 0};
	int64		held = 0;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	for (int i = 0; i < b->nlots; i++)
	{
		sum[b->lots[i].bucket] = checked_add(sum[b->lots[i].bucket], b->lots[i].amount);
		held = checked_add(held, b->lots[i].held);
	}
	for (int i = 0; i < b->nres; i++)
		held = checked_add(held, b->res[i].lot.amount);
	values[0] = Int64GetDatum(sum[BUCKET_CASH]);
	values[1] = Int64GetDatum(sum[BUCKET_BONUS]);
	values[2] = Int64GetDatum(sum[BUCKET_EARNINGS]);
	values[3] = Int64GetDatum(held);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
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
