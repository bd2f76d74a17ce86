/*
 * shard.c
 *	  The shard this database is (wallet.shard_config, CONTRACT.md section 23)
 *	  and the outbox of money bound for wallets of other shards: the only
 *	  places the single-node code knows about shards.
 *	  The configuration is kept per backend and read again on the invalidation
 *	  its trigger sends (configure_shard writes it once, before the first
 *	  wallet, and a restore writes it back the same).
 */
#include "ops/ops.h"

#include "catalog/namespace.h"
#include "storage/proc.h"
#include "utils/inval.h"
#include "commands/sequence.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

static OpPlan shard_conf = OP_PLAN(
	"SELECT shard, shards FROM wallet.shard_config", 0);
static OpPlan outbox_add = OP_PLAN(
	"INSERT INTO wallet.outbox (from_wallet, from_txn, to_wallet, currency, amount, kind, created_at) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING message_id",
	7, INT8OID, INT8OID, INT8OID, TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID);
static OpPlan outbox_add_group = OP_PLAN(
	"INSERT INTO wallet.outbox (from_wallet, from_txn, to_wallet, currency, amount, kind, created_at, group_id, "
	"hold_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING message_id",
	9, INT8OID, INT8OID, INT8OID, TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, INT8OID, INT8OID);

/*
 * The shard this database is, kept per backend across transactions: the row
 * changes only when configure_shard writes it (before the first wallet) or a
 * restore writes it back, and its statement trigger (wallet._config_changed)
 * then sends the relcache invalidation that makes every backend read it
 * again. Transactions that see one snapshot throughout read it and keep
 * nothing, as the configuration cache does (store/config.c).
 */
static bool shard_known;
static int	shard_no;
static int	shard_count = 1;
static Oid	shard_rel;

static void
shard_forget(Datum arg, Oid relid)
{
	(void) arg;
	if (!OidIsValid(relid) || relid == shard_rel)
		shard_known = false;
}

/* shard_init registers the callback that forgets the shard (called by _PG_init). */
void
shard_init(void)
{
	CacheRegisterRelcacheCallback(shard_forget, (Datum) 0);
}

/*
 * shard_local returns whether wallet (or any id) id lives in this database:
 * always on a lone database; on shard s of n when id & (n - 1) = s.
 */
bool
shard_local(int64 id)
{
	AcceptInvalidationMessages();
	if (!shard_known || IsolationUsesXactSnapshot())
	{
		Oid			rel = get_relname_relid("shard_config", get_namespace_oid("wallet", false));
		bool		isnull;

		shard_no = 0;
		shard_count = 1;
		/* a schema older than section 23 (0.1 before its update) has no shards */
		if (!OidIsValid(rel))
			return true;
		shard_rel = rel;
		shard_known = true;
		if (run_plan(op_plan(&shard_conf), NULL, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read wallet.shard_config");
		if (SPI_processed == 1)
		{
			shard_no = DatumGetInt32(getcol(1, &isnull));
			shard_count = DatumGetInt32(getcol(2, &isnull));
		}
		/* a transaction with a snapshot of its own reads it again next time */
		if (IsolationUsesXactSnapshot())
			shard_known = false;
	}
	return shard_count <= 1 || (id & (int64) (shard_count - 1)) == shard_no;
}

/* shard_total returns how many shards this database's cluster has: 1 on a lone database. */
int
shard_total(void)
{
	(void) shard_local(0);
	return shard_count;
}

/*
 * outbox_send records amt (minor units of currency) for wallet to of another
 * shard, sent by transaction txn of wallet from, in this transaction: the
 * relay applies it there exactly once. Returns the message id.
 */
int64
outbox_send(int64 from, int64 txn, int64 to, const char *currency, int64 amt, const char *kind,
			TimestampTz clk)
{
	Datum		args[7] = {Int64GetDatum(from), Int64GetDatum(txn), Int64GetDatum(to),
		CStringGetTextDatum(currency), Int64GetDatum(amt), CStringGetTextDatum(kind),
	TimestampTzGetDatum(clk)};
	bool		isnull;

	if (run_plan(op_plan(&outbox_add), args, NULL, false, 1) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not write to wallet.outbox");
	return DatumGetInt64(getcol(1, &isnull));
}

/*
 * outbox_send_group records a group payment's message (kind group_join,
 * group_capture or group_release) about hold hold_id of group group_id, a
 * share of amt: no money moves with it (the hold stays where it is), so it
 * counts in neither shard_transit nor incoming. Returns the message id.
 */
int64
outbox_send_group(int64 from, int64 txn, int64 to, const char *currency, int64 amt, const char *kind,
				  int64 group_id, int64 hold_id, TimestampTz clk)
{
	Datum		args[9] = {Int64GetDatum(from), Int64GetDatum(txn), Int64GetDatum(to),
		CStringGetTextDatum(currency), Int64GetDatum(amt), CStringGetTextDatum(kind),
	TimestampTzGetDatum(clk), Int64GetDatum(group_id), Int64GetDatum(hold_id)};
	bool		isnull;

	if (run_plan(op_plan(&outbox_add_group), args, NULL, false, 1) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not write to wallet.outbox");
	return DatumGetInt64(getcol(1, &isnull));
}

/*
 * wallet._sequence_step(seq regclass, increment int) makes sequence seq count
 * in steps of increment (ALTER SEQUENCE ... INCREMENT BY, run as a parse tree:
 * no statement text is built). For the shard configuration's trigger.
 */
PG_FUNCTION_INFO_V1(wallet_sequence_step);
Datum
wallet_sequence_step(PG_FUNCTION_ARGS)
{
	Oid			seq;
	int32		step;
	AlterSeqStmt *stmt;
	ParseState *pstate;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("seq and increment must not be null")));
	seq = PG_GETARG_OID(0);
	step = PG_GETARG_INT32(1);
	if (step < 1 || step > 1024)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("increment must be from 1 to 1024")));
	if (get_rel_relkind(seq) != RELKIND_SEQUENCE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%u is not a sequence", seq)));
	stmt = makeNode(AlterSeqStmt);
	stmt->sequence = makeRangeVar(get_namespace_name(get_rel_namespace(seq)), get_rel_name(seq), -1);
	stmt->options = list_make1(makeDefElem("increment", (Node *) makeInteger(step), -1));
	stmt->for_identity = false;
	stmt->missing_ok = false;
	pstate = make_parsestate(NULL);
	(void) AlterSequence(pstate, stmt);
	free_parsestate(pstate);
	PG_RETURN_VOID();
}
