/*
 * risk_flag.c
 *	  The one writer of wallet.risk_flag: a flag is recorded (a refund request
 *	  beyond the currency's limit, CONTRACT.md section 6; a payee's debt past
 *	  policy.payee_debt_flag, section 5), the wallet's flags of the last 30
 *	  days are counted, and the wallet is frozen at once, in the same
 *	  transaction, when they reach its currency's policy.flags_to_freeze
 *	  (section 20; NULL: never).
 */
#include "store/store.h"

/* At most this many flags are named in the freeze's reason; the rest are counted. */
#define FLAGS_NAMED 20

static OpPlan flag_insert = OP_PLAN(
	"INSERT INTO wallet.risk_flag (wallet_id, kind, detail, created_at) VALUES ($1, $2, $3, $4) "
	"RETURNING flag_id",
	4, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID);

/*
 * The wallet's setting and state, and its flags of the 30 days up to the
 * clock (after clk - 30 days, as refunds_requested counts requests, and at or
 * before clk), the first FLAGS_NAMED of them named in the order they came.
 */
static OpPlan flags_read = OP_PLAN(
	"SELECT (wallet._policy(w.currency)).flags_to_freeze, w.frozen, f.n, f.kinds "
	"FROM wallet.wallet w, LATERAL ("
	"  SELECT count(*)::int AS n, string_agg(k.kind, ', ' ORDER BY k.created_at, k.flag_id) "
	"           FILTER (WHERE k.rn <= " CppAsString2(FLAGS_NAMED) ") AS kinds "
	"    FROM (SELECT r.kind, r.created_at, r.flag_id, "
	"                 row_number() OVER (ORDER BY r.created_at, r.flag_id) AS rn "
	"            FROM wallet.risk_flag r "
	"           WHERE r.wallet_id = w.wallet_id AND r.created_at > $2 - interval '30 days' "
	"             AND r.created_at <= $2) k) f "
	"WHERE w.wallet_id = $1",
	2, INT8OID, TIMESTAMPTZOID);

/*
 * The freeze, as wallet.freeze writes it: the row (version bumped, so that an
 * operation that read the row without its lock loses its race and reads the
 * freeze) and a journal row of kind freeze. The audit trigger on frozen
 * records it in wallet.audit.
 */
static OpPlan freeze_row = OP_PLAN(
	"WITH u AS (UPDATE wallet.wallet x SET frozen = true, frozen_reason = $2, version = x.version + 1 "
	"           WHERE x.wallet_id = $1 AND NOT x.frozen RETURNING x.wallet_id, x.currency) "
	"INSERT INTO wallet.txn (wallet_id, kind, currency, created_at, request) "
	"SELECT u.wallet_id, 'freeze', u.currency, $3, "
	"       jsonb_build_object('reason', $2::text, 'by', session_user, 'rule', 'flags_to_freeze', "
	"                          'flag_id', $4::bigint) FROM u",
	4, INT8OID, TEXTOID, TIMESTAMPTZOID, INT8OID);

/*
 * flag_wallet records a risk flag of kind with detail on wallet wallet_id at
 * clk and freezes the wallet when its flags of the last 30 days reach its
 * currency's flags_to_freeze; the reason names them ("3 risk flags in 30
 * days: refund_limit, refund_limit, payee_debt"). A wallet frozen already
 * keeps its freeze and reason.
 *
 * Locks: the caller holds the wallet's row lock (request_refund locked the
 * wallet it flags; add_debt's update of the debt locked the payee, which the
 * reversal had locked already, with its other wallets, in wallet-id order).
 * The freeze's update so waits for no lock this transaction does not hold and
 * cannot deadlock, and the count it decides on cannot miss a flag of a
 * concurrent operation on the same wallet: that one waits for the row lock
 * and counts this flag after it commits.
 */
void
flag_wallet(int64 wallet_id, const char *kind, const char *detail, TimestampTz clk)
{
	Datum		args[4] = {Int64GetDatum(wallet_id), CStringGetTextDatum(kind), CStringGetTextDatum(detail),
	TimestampTzGetDatum(clk)};
	bool		isnull;
	int64		flag_id;
	Datum		d;
	int32		threshold;
	int32		n;
	char	   *reason;

	if (run_plan(op_plan(&flag_insert), args, NULL, false, 1) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not flag wallet %lld", (long long) wallet_id);
	flag_id = DatumGetInt64(getcol(1, &isnull));

	args[1] = TimestampTzGetDatum(clk);
	if (run_plan(op_plan(&flags_read), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("wallet %lld does not exist", (long long) wallet_id)));
	d = getcol(1, &isnull);
	if (isnull || DatumGetBool(getcol(2, &isnull)))
		return;					/* the currency never freezes, or the wallet is frozen already */
	threshold = DatumGetInt32(d);
	n = DatumGetInt32(getcol(3, &isnull));
	if (n < threshold)
		return;
	reason = psprintf("%d risk flags in 30 days: %s%s", n, TextDatumGetCString(getcol(4, &isnull)),
					  n > FLAGS_NAMED ? ", ..." : "");

	args[1] = CStringGetTextDatum(reason);
	args[2] = TimestampTzGetDatum(clk);
	args[3] = Int64GetDatum(flag_id);
	if (run_plan(op_plan(&freeze_row), args, NULL, false, 0) != SPI_OK_INSERT || SPI_processed != 1)
		elog(ERROR, "could not freeze wallet %lld", (long long) wallet_id);
}
