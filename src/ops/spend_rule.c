/*
 * spend_rule.c
 *	  The refusal of a payment that breaks a spend rule of its currency
 *	  (engine_spend_rule, CONTRACT.md section 15): WL008, the rule's name
 *	  first in the detail, and what would go through in the hint.
 */
#include "ops/ops.h"

static char *
amount_text(int64 minor, int exponent)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, major(minor, exponent)));
}

void
spend_rule_refuse(const char *rule, const WalletRow *w, const SpendRules *conf, int64 available)
{
	if (rule == NULL)
		return;
	if (strcmp(rule, "min_balance_use") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("the payment uses too little of the balance"),
				 errdetail("min_balance_use: a payment from wallet %lld uses at least %s of its balance, "
						   "or the whole order, or all it has (%s).", (long long) w->id,
						   amount_text(conf->min_balance_use, w->exponent), amount_text(available, w->exponent)),
				 errhint("Raise max_charge, or leave it out.")));
	ereport(ERROR,
			(errcode(ERRCODE_WL('8')),
			 errmsg("the payment must use all of the balance"),
			 errdetail("use_all_below: wallet %lld has %s available, below %s: a payment that uses it uses all of it.",
					   (long long) w->id, amount_text(available, w->exponent),
					   amount_text(conf->use_all_below, w->exponent)),
			 errhint("Charge at least %s to the wallet (with allow_partial or max_charge for the rest), "
					 "or pay without it.", amount_text(available, w->exponent))));
}

/*
 * spend_rules_weigh says whether the spend rules r weigh what a wallet has
 * (either is set): a payment under them decides under the row lock, with the
 * wallet's payee credits rolled up first.
 */
bool
spend_rules_weigh(const SpendRules *r)
{
	return r->min_balance_use > 0 || r->use_all_below > 0;
}
