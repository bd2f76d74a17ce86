/*
 * wallet.c
 *	  The module: its magic block and _PG_init, which defines the settings and
 *	  registers every cache invalidation callback, in one place.
 */
#include "store/store.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * _PG_init runs once per backend when the library is loaded: the setting
 * wallet.now, then the callbacks that forget what each cache of src/store/
 * remembers (the schema's plans and relations, the currency configuration,
 * the answers of direct_ok, whether the written tables have rules, their compiled CHECK constraints, the IndexInfos of their indexes),
 * and the hook that keeps the extension's own CONTEXT lines out of its errors.
 */
void
_PG_init(void)
{
	clock_init();
	plans_init();
	config_init();
	shard_init();
	direct_ok_init();
	rules_init();
	checks_init();
	indexes_init();
	error_context_init();
}
