/*
 * error_context.c
 *	  An error from an operation carries its SQLSTATE, message, detail and
 *	  hint, and none of the CONTEXT lines of the extension's own helpers
 *	  (DESIGN.md decision 8): the PL/pgSQL functions, SQL statements and SQL
 *	  functions the operation ran on its way to the error are internal.
 *	  CONTEXT lines of the caller's code (an application's function that
 *	  called the operation) stay.
 *
 *	  How: every operation is SECURITY DEFINER, so PostgreSQL calls it through
 *	  fmgr_security_definer, which calls fmgr_hook when the function starts,
 *	  ends, and when an error leaves it (FHET_START, FHET_END, FHET_ABORT).
 *	  At the start of a function of the extension's schemas the hook pushes an
 *	  error context callback, the boundary; an error raised inside runs every
 *	  callback from the innermost out, so the boundary's callback runs after
 *	  those of the extension's helpers and before those of the caller, and
 *	  marks that place in the CONTEXT text with a line of its own. When the
 *	  error leaves the function, the hook takes out that line and every line
 *	  before it and throws the error on (CopyErrorData, ReThrowError, as a
 *	  PG_CATCH block may). Warnings and notices are never marked.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "utils/elog.h"
#include "utils/lsyscache.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "wallet.h"

/* The line the boundary adds: control characters no CONTEXT line of PostgreSQL has. */
#define BOUNDARY_LINE "\x1f\x1e wallet operation \x1e\x1f"

/* A function's boundary, pushed at its start and popped when it ends or fails. */
typedef struct Boundary
{
	ErrorContextCallback cb;
	FmgrInfo   *flinfo;
	bool		ours;			/* a function of the extension: the callback is on the stack */
} Boundary;

#define MAX_BOUNDARIES 128
static Boundary boundaries[MAX_BOUNDARIES];
static int	depth;				/* may exceed MAX_BOUNDARIES: those levels are not tracked */

static fmgr_hook_type next_fmgr_hook;

/*
 * What *private holds for a FmgrInfo (kept for the query): whether the
 * function is the extension's, worked out at its first call.
 */
#define PRIVATE_UNKNOWN 0
#define PRIVATE_OTHER 1
#define PRIVATE_OURS 2

/*
 * The extension's schemas' oids, looked up once and again after any change
 * to pg_namespace (schemas_changed).
 */
static bool schemas_known;
static Oid	wallet_nsp;
static Oid	report_nsp;

static void
schemas_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) arg;
	(void) cacheid;
	(void) hashvalue;
	schemas_known = false;
}

/* is_ours tells whether a function lives in schema wallet or wallet_report. */
static bool
is_ours(Oid fn_oid)
{
	Oid			nsp = get_func_namespace(fn_oid);

	if (!schemas_known)
	{
		/* set first: a change seen during the look-ups clears it again */
		schemas_known = true;
		wallet_nsp = get_namespace_oid("wallet", true);
		report_nsp = get_namespace_oid("wallet_report", true);
	}
	return OidIsValid(nsp) && (nsp == wallet_nsp || nsp == report_nsp);
}

/* boundary_callback marks, in an error's CONTEXT, where the extension's lines end. */
static void
boundary_callback(void *arg)
{
	int			category = ERRCODE_TO_CATEGORY(geterrcode());

	(void) arg;
	/* successful completion, warning and no data are the classes of notices and warnings */
	if (category == ERRCODE_TO_CATEGORY(ERRCODE_SUCCESSFUL_COMPLETION) ||
		category == ERRCODE_TO_CATEGORY(ERRCODE_WARNING) ||
		category == ERRCODE_TO_CATEGORY(ERRCODE_NO_DATA))
		return;
	errcontext("%s", BOUNDARY_LINE);
}

/*
 * strip_context returns context without its lines up to the last boundary
 * line (NULL when none remain), or NULL in *found = false when it has none.
 */
static char *
strip_context(const char *context, bool *found)
{
	const char *last = NULL;
	const char *p = context;

	while (context != NULL && (p = strstr(p, BOUNDARY_LINE)) != NULL)
	{
		last = p;
		p += strlen(BOUNDARY_LINE);
	}
	*found = last != NULL;
	if (last == NULL)
		return NULL;
	last += strlen(BOUNDARY_LINE);
	if (*last == '\n')
		last++;
	return *last ? pstrdup(last) : NULL;
}

/*
 * rethrow_stripped throws the error in flight again without the extension's
 * CONTEXT lines, if it has a boundary line; else returns. Called in the
 * PG_CATCH block of fmgr_security_definer, in ErrorContext.
 */
static void
rethrow_stripped(void)
{
	MemoryContext old = MemoryContextSwitchTo(CurTransactionContext);
	ErrorData  *ed = CopyErrorData();
	bool		found;
	char	   *context = strip_context(ed->context, &found);

	if (!found || ed->elevel != ERROR)
	{
		FreeErrorData(ed);
		MemoryContextSwitchTo(old);
		return;
	}
	ed->context = context;
	FlushErrorState();
	ReThrowError(ed);
}

static void
boundary_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	/* another module's hook owns *private */
	bool		own_private = next_fmgr_hook == NULL;

	if (next_fmgr_hook)
		next_fmgr_hook(event, flinfo, private);
	if (event == FHET_START)
	{
		bool		ours;

		if (own_private && *private != PRIVATE_UNKNOWN)
			ours = *private == PRIVATE_OURS;
		else
		{
			ours = is_ours(flinfo->fn_oid);
			if (own_private)
				*private = ours ? PRIVATE_OURS : PRIVATE_OTHER;
		}
		if (depth < MAX_BOUNDARIES)
		{
			Boundary   *b = &boundaries[depth];

			b->flinfo = flinfo;
			b->ours = ours;
			if (ours)
			{
				b->cb.callback = boundary_callback;
				b->cb.arg = NULL;
				b->cb.previous = error_context_stack;
				error_context_stack = &b->cb;
			}
		}
		depth++;
		return;
	}
	/* FHET_END, FHET_ABORT: the function's own level, if it is tracked */
	if (depth == 0)
		return;					/* loaded while the function ran: its start was not seen */
	if (depth <= MAX_BOUNDARIES)
	{
		Boundary   *b = &boundaries[depth - 1];

		if (b->flinfo != flinfo)
			return;				/* not this function's level: leave the stack alone */
		depth--;
		if (b->ours && error_context_stack == &b->cb)
			error_context_stack = b->cb.previous;
		if (b->ours && event == FHET_ABORT)
			rethrow_stripped();
		return;
	}
	depth--;
}

/* error_context_init installs the hook (called by _PG_init). */
void
error_context_init(void)
{
	next_fmgr_hook = fmgr_hook;
	fmgr_hook = boundary_hook;
	CacheRegisterSyscacheCallback(NAMESPACEOID, schemas_changed, (Datum) 0);
}
