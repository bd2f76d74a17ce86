/*
 * audit.c
 *	  wallet._audit_refund, the trigger that records a refund's review and
 *	  settlement in wallet.audit: every change of a refund's status or
 *	  reviewer, made by review_refund, settle_refund or by hand.
 *
 *	  It runs after the row changed, in the statement's transaction, and
 *	  writes one row: at = the wallet clock, actor = the session user, action
 *	  refund_settle (the new status is succeeded or failed) or refund_review,
 *	  object refund:<id>, old {status, reviewer, review_note} and new the same
 *	  and gateway_ref. The statement is qualified and its values are
 *	  parameters, so a caller's search_path cannot redirect it.
 */
#include "store/store.h"

#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(wallet_audit_refund);

static OpPlan audit_insert = {
	.sql = "INSERT INTO wallet.audit (at, actor, action, object, old, new) VALUES ($1, $2, $3, $4, $5, $6)",
	.nargs = 6,
	.types = {TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID}
};

/* col returns column name of tup (isnull set), a column the table must have. */
static Datum
col(HeapTuple tup, TupleDesc td, const char *name, bool *isnull)
{
	int			att = SPI_fnumber(td, name);

	if (att <= 0)
		elog(ERROR, "wallet.refund has no column \"%s\"", name);
	return heap_getattr(tup, att, td, isnull);
}

/* text_col returns text column name of tup as a C string, or NULL. */
static const char *
text_col(HeapTuple tup, TupleDesc td, const char *name)
{
	bool		isnull;
	Datum		d = col(tup, td, name, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* refund_state builds {status, reviewer, review_note[, gateway_ref]} of a refund row. */
static Jsonb *
refund_state(HeapTuple tup, TupleDesc td, bool gateway)
{
	JB			jb;

	jb_begin(&jb);
	jb_text(&jb, "status", text_col(tup, td, "status"));
	jb_text(&jb, "reviewer", text_col(tup, td, "reviewer"));
	jb_text(&jb, "review_note", text_col(tup, td, "review_note"));
	if (gateway)
		jb_text(&jb, "gateway_ref", text_col(tup, td, "gateway_ref"));
	return jb_end(&jb);
}

/*
 * audit_record appends one row to wallet.audit: at the wallet clock, by the
 * session user, action on object, old and new (NULL: none), directly where
 * the statement's outcome is the same.
 */
void
audit_record(const char *action, const char *object, Jsonb *old, Jsonb *new)
{
	static const char *const names[6] = {"at", "actor", "action", "object", "old", "new"};
	Datum		args[6];
	bool		nulls[6] = {false, false, false, false, old == NULL, new == NULL};
	char		n[6] = {' ', ' ', ' ', ' ', old == NULL ? 'n' : ' ', new == NULL ? 'n' : ' '};

	args[0] = TimestampTzGetDatum(wallet_clock());
	args[1] = CStringGetTextDatum(GetUserNameFromId(GetSessionUserId(), false));
	args[2] = CStringGetTextDatum(action);
	args[3] = CStringGetTextDatum(object);
	args[4] = old ? JsonbPGetDatum(old) : (Datum) 0;
	args[5] = new ? JsonbPGetDatum(new) : (Datum) 0;
	if (insert_direct("audit", 6, names, args, nulls))
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to SPI");
	if (run_plan(op_plan(&audit_insert), args, n, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record %s of %s in wallet.audit", action, object);
	SPI_finish();
}

/*
 * refund_audit_row records the change of a refund's row from oldtup to newtup
 * (rows of wallet.refund, described by desc) in wallet.audit: what the
 * trigger writes, and what a direct change of the row (refund_change_direct)
 * writes in the trigger's stead.
 */
void
refund_audit_row(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc)
{
	const char *status = text_col(newtup, desc, "status");
	bool		isnull;
	Datum		id = col(newtup, desc, "refund_id", &isnull);

	if (isnull)
		elog(ERROR, "a refund without refund_id");
	audit_record(status != NULL && (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0)
				 ? "refund_settle" : "refund_review",
				 psprintf("refund:" INT64_FORMAT, DatumGetInt64(id)),
				 refund_state(oldtup, desc, false), refund_state(newtup, desc, true));
}

/*
 * refund_audit_due: would the trigger fire for this change? Its WHEN clause:
 * the status or the reviewer changed.
 */
bool
refund_audit_due(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc)
{
	static const char *const watched[] = {"status", "reviewer"};

	for (int i = 0; i < (int) lengthof(watched); i++)
	{
		const char *a = text_col(oldtup, desc, watched[i]);
		const char *b = text_col(newtup, desc, watched[i]);

		if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
			return true;
	}
	return false;
}

/*
 * refund_audit_trigger: is t wallet.refund's own audit trigger, as the
 * extension creates it (audit_review: AFTER UPDATE OF status, reviewer, FOR
 * EACH ROW, enabled, calling wallet._audit_refund)? A direct change of a
 * refund writes its audit row itself (refund_change_direct), so this trigger
 * does not keep the change from being direct (direct_ok); any other trigger
 * does.
 */
bool
refund_audit_trigger(Relation rel, const Trigger *t)
{
	char	   *fn;
	bool		own;

	if (RelationGetRelid(rel) != rel_of("refund") || strcmp(t->tgname, "audit_review") != 0 ||
		t->tgenabled != TRIGGER_FIRES_ON_ORIGIN || !TRIGGER_FOR_ROW(t->tgtype) || !TRIGGER_FOR_AFTER(t->tgtype) ||
		!TRIGGER_FOR_UPDATE(t->tgtype) || TRIGGER_FOR_INSERT(t->tgtype) || TRIGGER_FOR_DELETE(t->tgtype) ||
		t->tgnargs != 0 || t->tgqual == NULL || get_func_namespace(t->tgfoid) != plans.nsp)
		return false;
	fn = get_func_name(t->tgfoid);
	own = fn != NULL && strcmp(fn, "_audit_refund") == 0;
	if (fn != NULL)
		pfree(fn);
	return own;
}

Datum
wallet_audit_refund(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		elog(ERROR, "wallet._audit_refund must be an AFTER UPDATE row trigger");
	refund_audit_row(td->tg_trigtuple, td->tg_newtuple, RelationGetDescr(td->tg_relation));
	return PointerGetDatum(NULL);
}
