/*
 * partitions.c
 *	  The DDL of the journal's monthly partitions (create, attach, detach,
 *	  lock), built from a month alone so that no SQL text comes from a caller.
 */
#include "postgres.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(wallet_journal_partition_ddl);

/*
 * wallet._journal_partition_ddl(action text, month date): runs one statement on
 * the journal partition of a month, wallet.txn_YYYY_MM holding [first of the month,
 * first of the next) in UTC. The statement is built here from the month alone (the
 * action picks one of a fixed set), so no SQL text comes from a caller:
 *   create  CREATE TABLE wallet.txn_YYYY_MM (LIKE wallet.txn INCLUDING DEFAULTS), with the
 *           journal's indexes (primary key, ref_txn, and (wallet_id, txn_id) for statements;
 *           the partitioned table has none: see src/sql/tables.sql) and its
 *           TRUNCATE guard (statement triggers are not inherited)
 *   attach  ALTER TABLE wallet.txn ATTACH PARTITION ... FOR VALUES FROM ... TO ...
 *   detach  ALTER TABLE wallet.txn DETACH PARTITION ...
 *   lock    LOCK TABLE ... IN SHARE MODE (no row is added while it is summed)
 */
Datum
wallet_journal_partition_ddl(PG_FUNCTION_ARGS)
{
	char	   *action;
	DateADT		month;
	int			y,
				m,
				d,
				ny,
				nm;
	char		name[32];
	char	   *sql;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("action and month must not be null")));
	action = text_to_cstring(PG_GETARG_TEXT_PP(0));
	month = PG_GETARG_DATEADT(1);
	if (DATE_NOT_FINITE(month))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("month must be finite")));
	j2date(month + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	if (y < 1 || y > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("month must be in the years 1 to 9999"),
				 errdetail("Got year %d.", y)));
	ny = (m == 12) ? y + 1 : y;
	nm = (m == 12) ? 1 : m + 1;
	snprintf(name, sizeof(name), "txn_%04d_%02d", y, m);

	if (strcmp(action, "create") == 0)
		sql = psprintf("CREATE TABLE wallet.%s (LIKE wallet.txn INCLUDING DEFAULTS); "
					   "ALTER TABLE wallet.%s ADD CONSTRAINT %s_pkey PRIMARY KEY (txn_id, created_at); "
					   "CREATE INDEX %s_ref_txn_idx ON wallet.%s (ref_txn) WHERE ref_txn IS NOT NULL; "
					   "CREATE INDEX %s_wallet_idx ON wallet.%s (wallet_id, txn_id); "
					   "CREATE TRIGGER txn_no_truncate BEFORE TRUNCATE ON wallet.%s "
					   "FOR EACH STATEMENT EXECUTE FUNCTION wallet._journal_append_only()",
					   name, name, name, name, name, name, name, name);
	else if (strcmp(action, "attach") == 0)
		sql = psprintf("ALTER TABLE wallet.txn ATTACH PARTITION wallet.%s FOR VALUES "
					   "FROM ('%04d-%02d-01 00:00:00+00') TO ('%04d-%02d-01 00:00:00+00')",
					   name, y, m, ny, nm);
	else if (strcmp(action, "detach") == 0)
		sql = psprintf("ALTER TABLE wallet.txn DETACH PARTITION wallet.%s", name);
	else if (strcmp(action, "lock") == 0)
		sql = psprintf("LOCK TABLE wallet.%s IN SHARE MODE", name);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown journal partition action \"%s\"", action)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "could not run: %s", sql);
	SPI_finish();
	PG_RETURN_VOID();
}
