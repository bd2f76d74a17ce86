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

Datum
wallet_audit_refund(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	const char *status;
	bool		isnull;
	Datum		id;
	Datum		args[6];

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		elog(ERROR, "wallet._audit_refund must be an AFTER UPDATE row trigger");
	desc = RelationGetDescr(td->tg_relation);
	status = text_col(td->tg_newtuple, desc, "status");
	args[0] = TimestampTzGetDatum(wallet_clock());
	args[1] = CStringGetTextDatum(GetUserNameFromId(GetSessionUserId(), false));
	args[2] = CStringGetTextDatum(status != NULL && (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0)
								  ? "refund_settle" : "refund_review");
	id = col(td->tg_newtuple, desc, "refund_id", &isnull);
	if (isnull)
		elog(ERROR, "a refund without refund_id");
	args[3] = CStringGetTextDatum(psprintf("refund:" INT64_FORMAT, DatumGetInt64(id)));
	args[4] = JsonbPGetDatum(refund_state(td->tg_trigtuple, desc, false));
	args[5] = JsonbPGetDatum(refund_state(td->tg_newtuple, desc, true));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to SPI");
	if (run_plan(op_plan(&audit_insert), args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the change of a refund in wallet.audit");
	SPI_finish();
	return PointerGetDatum(NULL);
}
