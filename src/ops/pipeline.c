/*
 * pipeline.c
 *	  The steps every operation shares: its argument checks, its start (SPI,
 *	  the plans) and end, the result row, and the call wrapper that compresses
 *	  its WAL and puts the caller's search path back.
 */
#include "ops/ops.h"

/*
 * check_text checks text argument argno as every text argument is checked
 * (check_text_arg, which wallet._text calls too); it returns the C string or
 * NULL.
 */
char *
check_text(FunctionCallInfo fcinfo, int argno, const char *argname, int maxlen, bool required)
{
	return check_text_arg(PG_ARGISNULL(argno) ? NULL : PG_GETARG_TEXT_PP(argno), argname, maxlen, required);
}

Datum
major(int64 minor, int exponent)
{
	return NumericGetDatum(minor_to_numeric(minor, exponent));
}

/* check_not_null refuses a NULL argument argno (22023, naming it). */
void
check_not_null(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be null", argname)));
}

/*
 * op_count_arg returns argument argno, a count named argname (a sweep's
 * batch_size, a batch's quantity): not null, at least 1 and at most max
 * (PG_INT32_MAX: no more than an int holds; 22023 otherwise).
 */
int32
op_count_arg(FunctionCallInfo fcinfo, int argno, const char *argname, int32 max)
{
	int32		n;

	check_not_null(fcinfo, argno, argname);
	n = PG_GETARG_INT32(argno);
	if (n < 1 || n > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 max == PG_INT32_MAX ? errmsg("%s must be at least 1", argname) :
				 errmsg("%s must be between 1 and %d", argname, max),
				 errdetail("Got %d.", n)));
	return n;
}

/*
 * op_start starts an operation whose arguments are checked: it connects to
 * SPI with the plans ready (and rules on the tables refused).
 */
void
op_start(void)
{
	direct_reset();
	SPI_connect();
	ensure_plans();
}

/*
 * op_begin starts an operation on a wallet: it refuses a NULL wallet_id
 * (argument 0), returns it, and starts the operation (op_start).
 */
int64
op_begin(FunctionCallInfo fcinfo)
{
	check_not_null(fcinfo, 0, "wallet_id");
	op_start();
	return PG_GETARG_INT64(0);
}

/*
 * op_int8_arg returns bigint argument argno, refusing NULL with argname (as
 * "spend_txn_id must not be null").
 */
int64
op_int8_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	check_not_null(fcinfo, argno, argname);
	return PG_GETARG_INT64(argno);
}

/* op_amount returns argument argno as minor units of the wallet's currency. */
int64
op_amount(FunctionCallInfo fcinfo, int argno, const WalletRow *w)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must not be null")));
	return numeric_to_minor(PG_GETARG_NUMERIC(argno), w->exponent, "amount");
}

/*
 * refuse_frozen refuses to move money out of frozen wallet w (WL002), its
 * freeze's reason in the detail and hint, if given, in the hint.
 */
void
refuse_frozen(const WalletRow *w, const char *hint)
{
	if (w->frozen)
		ereport(ERROR,
				(errcode(ERRCODE_WL('2')),
				 errmsg("wallet %lld is frozen", (long long) w->id),
				 w->frozen_reason ? errdetail_internal("%s", w->frozen_reason) : 0,
				 hint ? errhint("%s", hint) : 0));
}

/*
 * op_leave leaves SPI, whose memory goes with it: the result must be built
 * after it, in the caller's memory.
 */
void
op_leave(MemoryContext caller)
{
	SPI_finish();
	MemoryContextSwitchTo(caller);
}

/*
 * op_row forms the result row of the n columns of the given types, its row
 * type looked up here (see wallet_result_desc). That is a type of the schema,
 * which ALTER TYPE can change: columns dropped from it are left null, and a
 * type that no longer has these columns in this order is refused, never read
 * past the values or misread.
 */
Datum
op_row(FunctionCallInfo fcinfo, Datum *values, bool *nulls, const Oid *types, int n)
{
	TupleDesc	td = wallet_result_desc(fcinfo);
	Datum	   *v = values;
	bool	   *nl = nulls;
	int			j = 0;
	bool		same = true;

	if (td->natts != n)
	{
		v = palloc0(sizeof(Datum) * td->natts);
		nl = palloc(sizeof(bool) * td->natts);
	}
	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(td, i);

		if (att->attisdropped)
		{
			v[i] = (Datum) 0;
			nl[i] = true;
			continue;
		}
		if (j >= n || att->atttypid != types[j])
		{
			same = false;
			break;
		}
		v[i] = values[j];
		nl[i] = nulls[j];
		j++;
	}
	/* a column more, or another type, stops the loop; a column less leaves j short */
	if (!same || j != n)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the row type %s has been altered",
						format_type_extended(td->tdtypeid, -1, FORMAT_TYPE_FORCE_QUALIFY)),
				 errhint("Undo the ALTER TYPE: the operation returns the columns the extension made it with.")));
	return HeapTupleGetDatum(heap_form_tuple(td, v, nl));
}

/*
 * with_compressed_wal runs an operation with the full-page images of its WAL
 * compressed (lz4), as expire_bonus does for the sweep: a wallet row, a key
 * index leaf or a journal page touched for the first time after a checkpoint
 * is logged whole (8 kB), which in the benchmark made up a quarter to a half
 * of a spend's WAL, and every commit waits for WAL to reach the disk. Only
 * where the owner of the function (the role it runs as) may set
 * wal_compression, since that setting is reserved (compressed sizes can tell
 * about the data), and only for the call: the setting is put back however the
 * call ends.
 */
Datum
with_compressed_wal(PGFunction body, FunctionCallInfo fcinfo)
{
	int			saved = wal_compression;
	int		   *saved_slot = pin_slot;
	int			pinned = 0;
	Datum		result;

#ifdef USE_LZ4
	if (saved == WAL_COMPRESSION_NONE &&
		(superuser() || pg_parameter_aclcheck("wal_compression", GetUserId(), ACL_SET) == ACLCHECK_OK))
		wal_compression = WAL_COMPRESSION_LZ4;
#endif
	pin_slot = &pinned;
	PG_TRY();
	{
		result = body(fcinfo);
	}
	PG_FINALLY();
	{
		wal_compression = saved;
		pin_slot = saved_slot;
	}
	PG_END_TRY();
	/* the caller's search path again (an error leaves that to the abort) */
	if (pinned != 0)
		AtEOXact_GUC(true, pinned);
	return result;
}

/* a sweep's wallet, locked unless another transaction holds it */
static OpPlan wallet_skip_locked = OP_PLAN(
	"SELECT 1 FROM wallet.wallet WHERE wallet_id = $1 FOR UPDATE SKIP LOCKED",
	1, INT8OID);

/*
 * sweep_due runs a sweep's statement of what is due (due: its parameters are
 * the clock and the batch size) and returns the first column of its rows, the
 * ids to take in its order, *n of them, copied out of SPI's result so that the
 * statements run for each keep them. what names them in an error.
 */
int64 *
sweep_due(OpPlan *due, TimestampTz clk, int32 batch, const char *what, uint64 *n)
{
	Datum		args[2] = {TimestampTzGetDatum(clk), Int32GetDatum(batch)};
	int64	   *ids;

	if (run_plan(op_plan(due), args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not find the %s due", what);
	*n = SPI_processed;
	ids = palloc(sizeof(int64) * Max(*n, 1));
	for (uint64 i = 0; i < *n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	return ids;
}

/*
 * sweep_lock runs lock (SELECT ... WHERE key = $1 FOR UPDATE SKIP LOCKED) for
 * id: false when another transaction holds the row (a later run takes it).
 */
bool
sweep_lock(OpPlan *lock, int64 id)
{
	Datum		args[1] = {Int64GetDatum(id)};

	CHECK_FOR_INTERRUPTS();
	if (run_plan(op_plan(lock), args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock %lld", (long long) id);
	return SPI_processed > 0;
}

/* sweep_lock_wallet is sweep_lock of wallet wallet_id's row. */
bool
sweep_lock_wallet(int64 wallet_id)
{
	return sweep_lock(&wallet_skip_locked, wallet_id);
}

/* op_txn_row is the result row (txn_id, replayed) of the operations that return no more. */
Datum
op_txn_row(FunctionCallInfo fcinfo, int64 txn_id, bool replayed)
{
	static const Oid types[2] = {INT8OID, BOOLOID};
	Datum		values[2] = {Int64GetDatum(txn_id), BoolGetDatum(replayed)};
	bool		nulls[2] = {false, false};

	return op_row(fcinfo, values, nulls, types, lengthof(types));
}

/*
 * refuse_message_currency refuses (22023) message message_id of another shard,
 * in currency, when wallet w holds another currency (the relay then sends the
 * money back).
 */
void
refuse_message_currency(const WalletRow *w, const char *currency, int64 message_id)
{
	if (strcmp(w->currency, currency) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wallet %lld holds %s, not %s", (long long) w->id, w->currency, currency),
				 errdetail("Message %lld is in %s.", (long long) message_id, currency)));
}

/*
 * op_optimistic makes operation op as a spend is made: its rows read without
 * their locks and the key not looked up first; the write takes the key and
 * updates the wallet's row at the version read, so that a taken key (a
 * replay) or a row that moved on (a lost race, read again) writes nothing.
 * What make cannot decide without the locks (a refusal, which must not hide
 * a replay; anything to write first) it leaves to a try under them
 * (OP_NEED_LOCK), where the key is looked up first; after OPTIMISTIC_TRIES
 * lost races the rows are locked too; with lock_first, from the first try.
 * Returns NULL once made, or the stored result of the operation the key names
 * (WL003 if its arguments differ).
 */
Jsonb *
op_optimistic(OpOptimistic *op)
{
	bool		must_lock = op->lock_first;

	for (int attempt = 0;; attempt++)
	{
		bool		lock = must_lock || attempt >= OPTIMISTIC_TRIES;
		Jsonb	   *prior = NULL;

		op->read(op, lock, attempt);
		/* under the lock, and on a 0.1 schema (no key table to write first) */
		if (lock || !OidIsValid(plans.key_rel))
			prior = find_replay(op->w, op->key, op->kind, op->req);
		if (prior != NULL)
			return prior;
		switch (op->make(op, lock))
		{
			case OP_MADE:
				return NULL;
			case OP_NEED_LOCK:
				must_lock = true;
				continue;
			case OP_NOT_WRITTEN:
				break;
		}
		prior = after_no_write(op->w, op->key, op->kind, op->req, op->txn_id);
		if (prior != NULL)
			return prior;
		/* a lost race: read again */
	}
}
