/*
 * rules.c
 *	  Rules (CREATE RULE) on the tables the C operations write are refused:
 *	  the direct write skips the rewriter, and the operations' statements
 *	  (INSERT ... ON CONFLICT) cannot run under a rule, so a rule would be
 *	  skipped by a warm backend and break a fresh one. Every C operation calls
 *	  refuse_rules first, in every backend, before it prepares or writes
 *	  anything (the SQL operations through wallet._refuse_rules); the event
 *	  trigger wallet._refuse_rule refuses the rule itself.
 *
 *	  Invariant: rules_checked is true only while no table of rule_tables had
 *	  a rule when it was last looked at and no relcache invalidation of one of
 *	  them (or of every relation) has arrived since.
 */
#include "wallet.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_rewrite.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "rewrite/prs2lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(wallet_refuse_rule);
PG_FUNCTION_INFO_V1(wallet_refuse_rules);

/* The tables the C operations write, directly or by their statements. */
static const char *const rule_tables[] = {"wallet", "txn", "txn_key", "payee_credit", "txn_party"};

static Oid	rule_table_oids[lengthof(rule_tables)];
static bool rules_checked;

static void
rules_forget(Datum arg, Oid relid)
{
	(void) arg;
	if (!OidIsValid(relid))
	{
		rules_checked = false;
		return;
	}
	for (int i = 0; i < (int) lengthof(rule_tables); i++)
		if (rule_table_oids[i] == relid)
			rules_checked = false;
}

/* rules_init registers the callback that forgets the answer (called by _PG_init). */
void
rules_init(void)
{
	CacheRegisterRelcacheCallback(rules_forget, (Datum) 0);
}

/* rule_name returns the name of rule ruleid (pg_rewrite has no syscache by oid). */
static char *
rule_name(Oid ruleid)
{
	Relation	r = table_open(RewriteRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *name = NULL;

	ScanKeyInit(&key, Anum_pg_rewrite_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ruleid));
	scan = systable_beginscan(r, RewriteOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		name = pstrdup(NameStr(((Form_pg_rewrite) GETSTRUCT(tup))->rulename));
	systable_endscan(scan);
	table_close(r, AccessShareLock);
	return name ? name : psprintf("%u", ruleid);
}

/* refuse_rule_on raises WL008 for rule ruleid on table wallet.relname. */
static void
refuse_rule_on(const char *relname, Oid ruleid)
{
	char	   *name = rule_name(ruleid);

	ereport(ERROR,
			(errcode(ERRCODE_WL('8')),
			 errmsg("rules on wallet.%s are not supported", relname),
			 errdetail("Table wallet.%s has rule \"%s\"; the wallet operations write the table as if it had none, "
					   "so they refuse to run while it is there.", relname, name),
			 errhint("Drop the rule (DROP RULE %s ON wallet.%s); a trigger on another table, or a view, "
					 "can do what it did.", quote_identifier(name), relname)));
}

/*
 * refuse_rules raises WL008 when a table the operations write has a rule.
 * Checked once, then again only after a relcache invalidation of one of the
 * tables (creating or dropping a rule sends one to every backend).
 */
void
refuse_rules(void)
{
	Oid			nsp;

	if (rules_checked)
		return;
	/* set first: an invalidation that arrives while the tables are read clears it again */
	rules_checked = true;
	nsp = get_namespace_oid("wallet", false);
	for (int i = 0; i < (int) lengthof(rule_tables); i++)
	{
		Oid			relid = get_relname_relid(rule_tables[i], nsp);
		Relation	rel;
		Oid			ruleid = InvalidOid;

		rule_table_oids[i] = relid;
		if (!OidIsValid(relid))
			continue;
		rel = table_open(relid, AccessShareLock);
		if (rel->rd_rules != NULL && rel->rd_rules->numLocks > 0)
			ruleid = rel->rd_rules->rules[0]->ruleId;
		table_close(rel, AccessShareLock);
		if (OidIsValid(ruleid))
		{
			rules_checked = false;
			refuse_rule_on(rule_tables[i], ruleid);
		}
	}
}

/* wallet._refuse_rules() returns void: refuse_rules for the operations in SQL. */
Datum
wallet_refuse_rules(PG_FUNCTION_ARGS)
{
	refuse_rules();
	PG_RETURN_VOID();
}

/*
 * wallet._refuse_rule(), an event trigger on CREATE RULE: refuses a rule on
 * any table of the wallet schema (WL008), for every operation, C or SQL.
 */
Datum
wallet_refuse_rule(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Oid			nsp;
	RuleStmt   *stmt;
	Oid			relid;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("wallet._refuse_rule() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (trigdata->parsetree == NULL || !IsA(trigdata->parsetree, RuleStmt))
		PG_RETURN_VOID();
	stmt = (RuleStmt *) trigdata->parsetree;
	nsp = get_namespace_oid("wallet", true);
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (OidIsValid(nsp) && OidIsValid(relid) && get_rel_namespace(relid) == nsp &&
		get_rel_relkind(relid) != RELKIND_VIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("rules on wallet.%s are not supported", get_rel_name(relid)),
				 errdetail("The wallet operations write the extension's tables as if they had no rules."),
				 errhint("A trigger on another table, or a view, can do what the rule would.")));
	PG_RETURN_VOID();
}
