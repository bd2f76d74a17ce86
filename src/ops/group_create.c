/*
 * group_create.c
 *	  wallet.group_pay: a payee asks several wallets for their shares of one
 *	  order (a split bill, CONTRACT.md section 14). Nothing is reserved yet:
 *	  each participant agrees with join_group_pay. Journaled on the payee's
 *	  wallet (its key) without postings. A participant may live on another
 *	  shard than the payee (CONTRACT.md section 23): it joins there.
 */
#include "ops/group.h"

#include "utils/array.h"

PG_FUNCTION_INFO_V1(wallet_group_pay);

#define GROUP_MAX_PARTICIPANTS 1000

static OpPlan group_row = OP_PLAN(
	"INSERT INTO wallet.group_pay (group_id, payee, currency, amount, status, expires_at, created_at, order_ref, "
	"create_txn) VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8)",
	8, INT8OID, INT8OID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, INT8OID);
static OpPlan member_rows = OP_PLAN(
	"INSERT INTO wallet.group_pay_member (group_id, wallet_id, share) "
	"SELECT $1, w, s FROM unnest($2::bigint[], $3::bigint[]) AS u(w, s)",
	3, INT8OID, INT8ARRAYOID, INT8ARRAYOID);

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * wallet.group_pay(payee, wallet_ids, amounts, idempotency_key, ttl,
 * order_ref) returns the group's id.
 */
static Datum
group_pay_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 3, "idempotency_key", 200, true);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	WalletRow	payee;
	Datum	   *ids;
	Datum	   *amts;
	bool	   *idnulls;
	bool	   *amtnulls;
	int			n;
	int			na;
	int64	   *wallet_ids;
	int64	   *shares;
	int64		total = 0;
	Interval   *ttl;
	char	   *order_ref;
	Jsonb	   *req;
	Jsonb	   *prior;
	JB			jb;
	int64		group_id;

	check_not_null(fcinfo, 0, "payee");
	check_not_null(fcinfo, 1, "wallet_ids");
	check_not_null(fcinfo, 2, "amounts");
	ttl = hold_ttl(fcinfo, 4);
	order_ref = check_text(fcinfo, 5, "order_ref", 200, false);
	op_start();
	read_wallet(PG_GETARG_INT64(0), true, false, &payee);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), INT8OID, 8, true, TYPALIGN_DOUBLE, &ids, &idnulls, &n);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), NUMERICOID, -1, false, TYPALIGN_INT, &amts, &amtnulls, &na);
	if (n != na)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wallet_ids and amounts must have as many elements"),
				 errdetail("Got %d wallet ids and %d amounts.", n, na)));
	if (n < 1 || n > GROUP_MAX_PARTICIPANTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a group payment has 1 to %d participants", GROUP_MAX_PARTICIPANTS),
				 errdetail("Got %d.", n)));
	wallet_ids = palloc(sizeof(int64) * n);
	shares = palloc(sizeof(int64) * n);
	for (int i = 0; i < n; i++)
	{
		if (idnulls[i] || amtnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("wallet_ids and amounts must not contain NULL")));
		wallet_ids[i] = DatumGetInt64(ids[i]);
		shares[i] = numeric_to_minor(DatumGetNumeric(amts[i]), payee.exponent, "amounts");
		total = checked_add(total, shares[i]);
		if (total > WALLET_MAX_MINOR)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the amounts of a group payment add up to more than 10^15 minor units")));
	}
	jb_begin(&jb);
	jb_int_array(&jb, "wallet_ids", wallet_ids, n);
	jb_int_array(&jb, "amounts", shares, n);
	jb_text(&jb, "ttl", ttl_text(ttl));
	jb_text_if(&jb, true, "order_ref", order_ref);
	req = jb_end(&jb);
	prior = find_replay(&payee, key, "group_pay", req);
	if (prior != NULL)
		group_id = jsonb_int(prior, "group_id");
	else
	{
		int64	   *sorted = palloc(sizeof(int64) * n);
		int64		txn_id;
		Postings	legs;
		TimestampTz expires = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
																	  TimestampTzGetDatum(clk),
																	  IntervalPGetDatum(ttl)));

		memcpy(sorted, wallet_ids, sizeof(int64) * n);
		qsort(sorted, n, sizeof(int64), cmp_int64);
		for (int i = 0; i < n; i++)
		{
			WalletRow	m;

			if (i > 0 && sorted[i] == sorted[i - 1])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("wallet %lld is a participant twice", (long long) sorted[i])));
			if (sorted[i] == payee.id)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the payee cannot be a participant")));
			/* a participant of another shard is checked there, when it joins (group_share.c) */
			if (!shard_local(sorted[i]))
				continue;
			read_wallet(sorted[i], false, false, &m);
			if (strcmp(m.currency, payee.currency) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("every participant must hold the payee's currency"),
						 errdetail("Wallet %lld holds %s, payee %lld holds %s.", (long long) m.id, m.currency,
								   (long long) payee.id, payee.currency)));
		}
		group_id = nextval_internal(plans.group_seq, false);
		txn_id = nextval_internal(plans.txn_seq, false);
		jb_begin(&jb);
		jb_int(&jb, "txn_id", txn_id);
		jb_int(&jb, "group_id", group_id);
		postings_init(&legs);
		insert_txn(txn_id, &payee, "group_pay", total, clk, key, NO_REF_TXN, req, jb_end(&jb),
				   legs_of(&legs, "group_pay"), NULL);
		{
			Datum		args[8] = {Int64GetDatum(group_id), Int64GetDatum(payee.id),
				CStringGetTextDatum(payee.currency), Int64GetDatum(total), TimestampTzGetDatum(expires),
				TimestampTzGetDatum(clk), order_ref ? CStringGetTextDatum(order_ref) : (Datum) 0,
			Int64GetDatum(txn_id)};
			char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', order_ref ? ' ' : 'n', ' '};

			if (run_plan(op_plan(&group_row), args, nulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not record group payment %lld", (long long) group_id);
		}
		{
			Datum	   *wd = palloc(sizeof(Datum) * n);
			Datum	   *sd = palloc(sizeof(Datum) * n);
			Datum		args[3];

			for (int i = 0; i < n; i++)
			{
				wd[i] = Int64GetDatum(wallet_ids[i]);
				sd[i] = Int64GetDatum(shares[i]);
			}
			args[0] = Int64GetDatum(group_id);
			args[1] = PointerGetDatum(construct_array(wd, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
			args[2] = PointerGetDatum(construct_array(sd, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
			if (run_plan(op_plan(&member_rows), args, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not record the participants of group payment %lld", (long long) group_id);
		}
	}
	op_leave(caller);
	PG_RETURN_INT64(group_id);
}

Datum
wallet_group_pay(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(group_pay_body, fcinfo);
}
