/*
 * write.c
 *	  The write step of an operation: the key, the wallet row under its version
 *	  check and the journal row, written directly (direct_write.c) or by the
 *	  statement prepared for it; and the two-statement form (save_wallet, then
 *	  insert_txn) where something must run between them.
 */
#include "store/store.h"

/* save_wallet writes the lots back if the row is still at w->version. */
bool
save_wallet(WalletRow *w, LotBuilder *b)
{
	TimestampTz next = engine_next_expiry(b);
	Datum		args[5] = {Int64GetDatum(w->id), PointerGetDatum(lotset_pack(b)),
		TimestampTzGetDatum(next), Int64GetDatum(w->version),
	w->usage_dirty ? PointerGetDatum(usage_encode(w->usage)) : (Datum) 0};
	char		nulls[5] = {' ', ' ', next == WALLET_NO_TIME ? 'n' : ' ', ' ', w->usage_dirty ? ' ' : 'n'};

	if (run_plan(plans.update_wallet, args, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update wallet %lld", (long long) w->id);
	return SPI_processed == 1;
}

/* insert_txn appends one journal row. */
void
insert_txn(int64 txn_id, WalletRow *w, const char *kind, int64 amount, TimestampTz at,
		   const char *key, int64 ref_txn, Jsonb *request, Jsonb *result, Datum postings,
		   LotSet *pieces)
{
	Datum		args[12] = {Int64GetDatum(txn_id), Int64GetDatum(w->id), CStringGetTextDatum(kind),
		Int64GetDatum(amount), CStringGetTextDatum(w->currency), TimestampTzGetDatum(at),
		CStringGetTextDatum(key), JsonbPGetDatum(request), JsonbPGetDatum(result),
	postings, PointerGetDatum(pieces), Int64GetDatum(ref_txn)};
	char		nulls[12] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', pieces ? ' ' : 'n',
	ref_txn == NO_REF_TXN ? 'n' : ' '};

	if (run_plan(plans.insert_txn, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not append to the journal");
}

/*
 * write_op takes the idempotency key, writes the lots back if the row is still
 * at w->version and appends the journal row, in one statement; false (nothing
 * written) when the key was taken or the race was lost (after_no_write tells
 * which). Without a key (key NULL: a review, a settlement, a release that a
 * group payment makes), the wallet row and a journal row without a key; the
 * statements are then save_wallet and insert_txn_keyless.
 */
bool
write_op(WalletRow *w, LotBuilder *b, int64 txn_id, const char *kind, int64 amount, TimestampTz at,
		 const char *key, int64 ref_txn, Jsonb *request, Jsonb *result, Datum postings,
		 LotSet *pieces)
{
	TimestampTz next = engine_next_expiry(b);
	Datum		lots = PointerGetDatum(lotset_pack(b));

	switch (write_direct(w, lots, next, txn_id, kind, amount, at, key, ref_txn, request, result, postings,
						 pieces))
	{
		case DW_WROTE:
			return true;
		case DW_NOTHING:
			return false;
		case DW_UNSUPPORTED:
			break;
	}
	if (key == NULL)
	{
		if (!save_wallet(w, b))
			return false;
		insert_txn_keyless(txn_id, w, kind, amount, at, ref_txn, request, result, postings, pieces);
		return true;
	}
	/* the statement's parameters are built only when the statement writes */
	{
		Datum		args[16] = {Int64GetDatum(w->id), lots, TimestampTzGetDatum(next), Int64GetDatum(w->version),
			Int64GetDatum(txn_id), CStringGetTextDatum(kind), Int64GetDatum(amount),
			CStringGetTextDatum(w->currency), TimestampTzGetDatum(at), CStringGetTextDatum(key),
			JsonbPGetDatum(request), JsonbPGetDatum(result), postings, PointerGetDatum(pieces),
		Int64GetDatum(ref_txn), w->usage_dirty ? PointerGetDatum(usage_encode(w->usage)) : (Datum) 0};
		char		nulls[17] = {' ', ' ', next == WALLET_NO_TIME ? 'n' : ' ', ' ', ' ', ' ', ' ', ' ', ' ',
		' ', ' ', ' ', ' ', pieces ? ' ' : 'n', ref_txn == NO_REF_TXN ? 'n' : ' ', w->usage_dirty ? ' ' : 'n', '\0'};

		if (run_plan(plans.write, args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not write wallet %lld", (long long) w->id);
		return SPI_processed == 1;
	}
}

/*
 * journal_op appends a journal row without a key for locked wallet w, whose
 * row does not change (an approval: no money moves), directly or by the
 * statement (insert_txn_keyless).
 */
void
journal_op(WalletRow *w, int64 txn_id, const char *kind, int64 amount, TimestampTz at, int64 ref_txn,
		   Jsonb *request, Jsonb *result, Datum postings)
{
	if (write_direct(w, (Datum) 0, WALLET_NO_TIME, txn_id, kind, amount, at, NULL, ref_txn, request, result, postings,
					 NULL) == DW_WROTE)
		return;
	insert_txn_keyless(txn_id, w, kind, amount, at, ref_txn, request, result, postings, NULL);
}

/* A journal row without a key: what an operation writes for another wallet or on its own behalf. */
static OpPlan keyless_row = OP_PLAN(
	"INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, ref_txn, request, result, "
	"postings, pieces) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
	11, INT8OID, INT8OID, TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, INT8OID, JSONBOID, JSONBOID, OP_POSTINGS,
	OP_LOTSET);

/*
 * insert_txn_keyless appends one journal row without an idempotency key
 * (the wallet's row is written apart: save_wallet): the releases of an
 * expired hold, the captures of a group payment's holds.
 */
void
insert_txn_keyless(int64 txn_id, const WalletRow *w, const char *kind, int64 amount, TimestampTz at,
				   int64 ref_txn, Jsonb *request, Jsonb *result, Datum postings, LotSet *pieces)
{
	Datum		args[11] = {Int64GetDatum(txn_id), Int64GetDatum(w->id), CStringGetTextDatum(kind),
		Int64GetDatum(amount), CStringGetTextDatum(w->currency), TimestampTzGetDatum(at),
		Int64GetDatum(ref_txn), JsonbPGetDatum(request), JsonbPGetDatum(result), postings,
	PointerGetDatum(pieces)};
	char		nulls[11] = {' ', ' ', ' ', ' ', ' ', ' ', ref_txn == NO_REF_TXN ? 'n' : ' ', ' ', ' ', ' ',
	pieces ? ' ' : 'n'};

	if (run_plan(op_plan(&keyless_row), args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not append to the journal");
}

/*
 * change_by_statement changes the row version at *tid by plan, whose $1 is
 * that tid and $2 on the n values (nulls): the statement a direct change
 * (update_direct) leaves the write to. what and id name the row in the error
 * if it is not there.
 */
void
change_by_statement(OpPlan *plan, const ItemPointerData *tid, int n, const Datum *values, const bool *nulls,
					const char *what, int64 id)
{
	Datum	   *args = palloc(sizeof(Datum) * (n + 1));
	char	   *cnulls = palloc(n + 2);

	args[0] = PointerGetDatum(tid);
	cnulls[0] = ' ';
	for (int i = 0; i < n; i++)
	{
		args[i + 1] = values[i];
		cnulls[i + 1] = nulls[i] ? 'n' : ' ';
	}
	cnulls[n + 1] = '\0';
	if (run_plan(op_plan(plan), args, cnulls, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not change %s " INT64_FORMAT, what, id);
}
