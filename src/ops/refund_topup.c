/*
 * refund_topup.c
 *	  A top-up as its refunds see it, shared by refund_quote and
 *	  request_refund: the reason argument, the top-up's journal row, the
 *	  netting of section 6 over the wallet's lots and the top-up's coupons
 *	  (engine/refund.c), and the fee rate.
 */
#include "ops/refund.h"

/*
 * refund_reason checks the reason argument argno: 'user' or 'platform'
 * (22023 otherwise, showing at most 50 characters of it). Returns true for
 * 'platform'.
 */
bool
refund_reason(FunctionCallInfo fcinfo, int argno)
{
	char	   *r = PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));

	if (r != NULL && strcmp(r, "user") == 0)
		return false;
	if (r != NULL && strcmp(r, "platform") == 0)
		return true;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("reason must be 'user' or 'platform'"),
			 errdetail("Got %s.",
					   r == NULL ? "NULL" : quote_literal_cstr(pnstrdup(r, pg_mbcharcliplen(r, strlen(r), 50))))));
	return false;				/* keep the compiler quiet */
}

/* refund_topup reads top-up txn_id, or raises WL006. */
void
refund_topup(int64 txn_id, bool read_only, TopUpRow *t)
{
	if (!read_topup(txn_id, read_only, t))
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("top-up %lld does not exist", (long long) txn_id)));
}

/* topup_member returns member key of a top-up's journal result, or NULL. */
static JsonbValue *
topup_member(const TopUpRow *t, const char *key)
{
	return jsonb_member(t->result, key);
}

/*
 * topup_refundable_until returns the end of the top-up's refund window as
 * its journal row recorded it (text), or NULL.
 */
char *
topup_refundable_until(const TopUpRow *t)
{
	JsonbValue *v = topup_member(t, "refundable_until");

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * refund_netting is the netting of a refund of top-up t at clk over the
 * wallet's lots b and the top-up's coupons (engine_refund_info and
 * engine_refund_netting). Returns the number of coupons a refund takes (none
 * once the window has closed), listed in *coupons.
 */
int
refund_netting(const TopUpRow *t, const LotBuilder *b, TimestampTz clk, bool read_only,
			   RefundNetting *n, TopUpCoupon **coupons)
{
	int			ncoupons = 0;
	int64		coupon_owed = 0;
	int			coupons_live = 0;

	*coupons = NULL;
	engine_refund_info(b, t->txn_id, clk, n);
	if (n->in_window)
		ncoupons = topup_coupons(t, clk, read_only, coupons);
	for (int i = 0; i < ncoupons; i++)
	{
		if ((*coupons)[i].void_it)
			coupons_live++;
		else
			coupon_owed = checked_add(coupon_owed, (*coupons)[i].discount);
	}
	engine_refund_netting(n, coupon_owed, coupons_live);
	return ncoupons;
}

/*
 * refund_fee_rate is the fee rate of a refund of top-up t
 * (engine_refund_fee_rate): the currency's, plus the campaign rule's the
 * top-up recorded.
 */
Numeric
refund_fee_rate(const TopUpRow *t, const CurrencyConf *conf, bool platform)
{
	JsonbValue *v;
	Numeric		campaign = NULL;

	if (platform)
		return engine_refund_fee_rate(true, NULL, NULL);
	v = topup_member(t, "campaign_fee_rate");
	if (v != NULL && v->type == jbvNumeric)
		campaign = v->val.numeric;
	else if (v != NULL && v->type == jbvString)
		campaign = DatumGetNumeric(DirectFunctionCall3(numeric_in,
													   CStringGetDatum(pnstrdup(v->val.string.val,
																				v->val.string.len)),
													   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	return engine_refund_fee_rate(false, conf->refund_fee_rate, campaign);
}
