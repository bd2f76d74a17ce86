------------------------------------------------------------------------------
-- Reporting: the BI views (schema wallet_report), amounts in major units
------------------------------------------------------------------------------
CREATE VIEW wallet_report.topups_daily AS
  WITH s AS (
    SELECT r.slot, r.currency, r.method, r.topups, r.amount, r.bonus FROM wallet.rollup_topup r
    UNION ALL
    SELECT f.slot, f.currency, f.dim, 1, f.amount, f.granted FROM wallet._report_tail f WHERE f.kind = 'top_up')
  SELECT (s.slot AT TIME ZONE current_setting('TimeZone'))::date AS day, s.currency,
         nullif(s.method, '') AS method, sum(s.topups)::bigint AS count,
         wallet.to_major(sum(s.amount)::bigint, c.exponent) AS amount,
         wallet.to_major(sum(s.bonus)::bigint, c.exponent) AS bonus
    FROM s JOIN wallet.currency c ON c.code = s.currency
   GROUP BY 1, 2, 3, c.exponent;
COMMENT ON VIEW wallet_report.topups_daily IS 'top-ups per day (in the session''s TimeZone), currency and method';
COMMENT ON COLUMN wallet_report.topups_daily.day IS 'calendar day in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.topups_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.topups_daily.method IS 'payment method passed to top_up (NULL when none)';
COMMENT ON COLUMN wallet_report.topups_daily.count IS 'number of top-ups (replays not counted)';
COMMENT ON COLUMN wallet_report.topups_daily.amount IS 'cash topped up, major units';
COMMENT ON COLUMN wallet_report.topups_daily.bonus IS 'bonus granted with those top-ups, major units';

CREATE VIEW wallet_report.spending_daily AS
  WITH s AS (
    SELECT r.slot, r.currency, r.scene, r.spends, r.charged, r.bonus_used, r.cash_used, r.earnings_used,
           r.coupon_discount, r.reversals, r.reversed
      FROM wallet.rollup_spend r
    UNION ALL
    SELECT f.slot, f.currency, f.dim, (f.kind = 'spend')::int, CASE WHEN f.kind = 'spend' THEN f.amount ELSE 0 END,
           f.bonus_used, f.cash_used, f.earnings_used, CASE WHEN f.kind = 'spend' THEN f.discount ELSE 0 END,
           (f.kind = 'reverse_spend')::int, CASE WHEN f.kind = 'reverse_spend' THEN f.amount ELSE 0 END
      FROM wallet._report_tail f WHERE f.kind IN ('spend', 'reverse_spend'))
  SELECT (s.slot AT TIME ZONE current_setting('TimeZone'))::date AS day, s.currency,
         nullif(s.scene, '') AS scene, sum(s.spends)::bigint AS count,
         wallet.to_major(sum(s.charged)::bigint, c.exponent) AS charged,
         wallet.to_major(sum(s.bonus_used)::bigint, c.exponent) AS bonus_used,
         wallet.to_major(sum(s.cash_used)::bigint, c.exponent) AS cash_used,
         wallet.to_major(sum(s.earnings_used)::bigint, c.exponent) AS earnings_used,
         wallet.to_major(sum(s.coupon_discount)::bigint, c.exponent) AS coupon_discount,
         sum(s.reversals)::bigint AS reversals,
         wallet.to_major(sum(s.reversed)::bigint, c.exponent) AS reversed
    FROM s JOIN wallet.currency c ON c.code = s.currency
   GROUP BY 1, 2, 3, c.exponent;
COMMENT ON VIEW wallet_report.spending_daily IS
  'spends per day (in the session''s TimeZone), currency and scene, and the reversals made that day of spends of the scene';
COMMENT ON COLUMN wallet_report.spending_daily.day IS 'calendar day in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.spending_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.spending_daily.scene IS 'scene of the spend (NULL when none)';
COMMENT ON COLUMN wallet_report.spending_daily.count IS 'number of spends';
COMMENT ON COLUMN wallet_report.spending_daily.charged IS 'charged to wallets (order amount less coupon discount and shortfall), major units';
COMMENT ON COLUMN wallet_report.spending_daily.bonus_used IS 'bonus used by the spends, major units';
COMMENT ON COLUMN wallet_report.spending_daily.cash_used IS 'cash used by the spends, major units';
COMMENT ON COLUMN wallet_report.spending_daily.earnings_used IS 'earnings used by the spends, major units';
COMMENT ON COLUMN wallet_report.spending_daily.coupon_discount IS 'coupon discounts given on the spends, major units';
COMMENT ON COLUMN wallet_report.spending_daily.reversals IS 'number of reversals made that day (of spends of this scene)';
COMMENT ON COLUMN wallet_report.spending_daily.reversed IS 'amount reversed that day, major units';

CREATE VIEW wallet_report.transfers_daily AS
  WITH s AS (
    SELECT r.slot, r.currency, r.kind, r.transfers, r.amount, r.fees FROM wallet.rollup_transfer r
    UNION ALL
    SELECT f.slot, f.currency, f.dim, 1, f.amount, f.fee FROM wallet._report_tail f WHERE f.kind = 'transfer')
  SELECT (s.slot AT TIME ZONE current_setting('TimeZone'))::date AS day, s.currency, s.kind,
         sum(s.transfers)::bigint AS count,
         wallet.to_major(sum(s.amount)::bigint, c.exponent) AS amount,
         wallet.to_major(sum(s.fees)::bigint, c.exponent) AS fees
    FROM s JOIN wallet.currency c ON c.code = s.currency
   GROUP BY 1, 2, 3, c.exponent;
COMMENT ON VIEW wallet_report.transfers_daily IS 'transfers between wallets per day (in the session''s TimeZone), currency and kind';
COMMENT ON COLUMN wallet_report.transfers_daily.day IS 'calendar day in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.transfers_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.transfers_daily.kind IS 'kind passed to transfer (p2p, donation, gift, ...)';
COMMENT ON COLUMN wallet_report.transfers_daily.count IS 'number of transfers (replays not counted)';
COMMENT ON COLUMN wallet_report.transfers_daily.amount IS 'earnings moved to the receivers, major units';
COMMENT ON COLUMN wallet_report.transfers_daily.fees IS 'transfer fees charged to the senders on top (fee_income), major units';

CREATE VIEW wallet_report.bonus_daily AS
  WITH s AS (
    SELECT r.slot, r.currency, r.granted, r.spent, r.returned, r.expired, r.voided, r.clawed_back
      FROM wallet.rollup_bonus r
    UNION ALL
    SELECT f.slot, f.currency, f.granted, f.spent, f.returned, f.expired, f.voided, f.clawed_back
      FROM wallet._report_tail f
     WHERE f.granted <> 0 OR f.spent <> 0 OR f.returned <> 0 OR f.expired <> 0 OR f.voided <> 0
        OR f.clawed_back <> 0)
  SELECT (s.slot AT TIME ZONE current_setting('TimeZone'))::date AS day, s.currency,
         wallet.to_major(sum(s.granted)::bigint, c.exponent) AS granted,
         wallet.to_major(sum(s.spent)::bigint, c.exponent) AS spent,
         wallet.to_major(sum(s.returned)::bigint, c.exponent) AS returned,
         wallet.to_major(sum(s.expired)::bigint, c.exponent) AS expired,
         wallet.to_major(sum(s.voided)::bigint, c.exponent) AS voided,
         wallet.to_major(sum(s.clawed_back)::bigint, c.exponent) AS clawed_back
    FROM s JOIN wallet.currency c ON c.code = s.currency
   GROUP BY 1, 2, c.exponent;
COMMENT ON VIEW wallet_report.bonus_daily IS 'bonus movements per day (in the session''s TimeZone) and currency, from the journal''s postings';
COMMENT ON COLUMN wallet_report.bonus_daily.day IS 'calendar day in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.bonus_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.bonus_daily.granted IS 'bonus granted by top-ups (bonus_expense legs of top_up), major units';
COMMENT ON COLUMN wallet_report.bonus_daily.spent IS 'bonus used by spends (wallet bonus legs of spend), major units';
COMMENT ON COLUMN wallet_report.bonus_daily.returned IS 'bonus given back to wallets by reversals (wallet bonus legs of reverse_spend), major units';
COMMENT ON COLUMN wallet_report.bonus_daily.expired IS 'breakage: bonus written off on expiry, by expire_bonus or by a reversal past the expiry (breakage legs), major units';
COMMENT ON COLUMN wallet_report.bonus_daily.voided IS 'unspent bonus cancelled by settled refunds of its top-up, major units';
COMMENT ON COLUMN wallet_report.bonus_daily.clawed_back IS 'cash kept by settled refunds for bonus already spent, major units';

CREATE VIEW wallet_report.refunds_daily AS
  SELECT (r.requested_at AT TIME ZONE current_setting('TimeZone'))::date AS day, w.currency, r.reason, r.status,
         count(*) AS count,
         wallet.to_major(sum(r.amount)::bigint, c.exponent) AS amount,
         wallet.to_major(sum(r.fee)::bigint, c.exponent) AS fee,
         wallet.to_major(sum(r.net)::bigint, c.exponent) AS net,
         wallet.to_major(sum(r.clawback)::bigint, c.exponent) AS bonus_clawback,
         wallet.to_major(sum(r.bonus_void)::bigint, c.exponent) AS bonus_void
    FROM wallet.refund r
    JOIN wallet.wallet w ON w.wallet_id = r.wallet_id
    JOIN wallet.currency c ON c.code = w.currency
   GROUP BY 1, 2, 3, 4, c.exponent;
COMMENT ON VIEW wallet_report.refunds_daily IS 'refund requests per day requested (in the session''s TimeZone), currency, reason and current status';
COMMENT ON COLUMN wallet_report.refunds_daily.day IS 'calendar day of the request in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.refunds_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.refunds_daily.reason IS 'user or platform';
COMMENT ON COLUMN wallet_report.refunds_daily.status IS 'current status: pending, approved, rejected, succeeded, failed';
COMMENT ON COLUMN wallet_report.refunds_daily.count IS 'number of refund requests';
COMMENT ON COLUMN wallet_report.refunds_daily.amount IS 'cash asked back, major units';
COMMENT ON COLUMN wallet_report.refunds_daily.fee IS 'refund fees, major units';
COMMENT ON COLUMN wallet_report.refunds_daily.net IS 'amount less fee: what is (to be) paid out, major units';
COMMENT ON COLUMN wallet_report.refunds_daily.bonus_clawback IS 'cash kept for bonus already spent, major units';
COMMENT ON COLUMN wallet_report.refunds_daily.bonus_void IS 'unspent bonus cancelled, major units';

CREATE VIEW wallet_report.coupons AS
  SELECT s.template_id, s.currency, s.kind, t.value, t.max_discount, t.valid_from, t.valid_until,
         t.total_limit, s.issued, s.redeemed, s.expired, s.outstanding, s.total_discount
    FROM wallet.coupon_stats s JOIN wallet.coupon_template t ON t.template_id = s.template_id;
COMMENT ON VIEW wallet_report.coupons IS 'per coupon template, now: its terms and issued, redeemed, expired, outstanding coupons';
COMMENT ON COLUMN wallet_report.coupons.template_id IS 'coupon template';
COMMENT ON COLUMN wallet_report.coupons.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.coupons.kind IS 'amount (money off) or percent (percent off)';
COMMENT ON COLUMN wallet_report.coupons.value IS 'money off in major units for kind amount, percent off for kind percent';
COMMENT ON COLUMN wallet_report.coupons.max_discount IS 'cap of a percent discount, major units (NULL: none)';
COMMENT ON COLUMN wallet_report.coupons.valid_from IS 'template valid from (NULL: always)';
COMMENT ON COLUMN wallet_report.coupons.valid_until IS 'template valid until (NULL: no end)';
COMMENT ON COLUMN wallet_report.coupons.total_limit IS 'most coupons the template may issue (NULL: no limit)';
COMMENT ON COLUMN wallet_report.coupons.issued IS 'coupons issued';
COMMENT ON COLUMN wallet_report.coupons.redeemed IS 'coupons used by a spend (a fully reversed spend gives its coupon back)';
COMMENT ON COLUMN wallet_report.coupons.expired IS 'coupons unused past their validity';
COMMENT ON COLUMN wallet_report.coupons.outstanding IS 'coupons unused and still valid';
COMMENT ON COLUMN wallet_report.coupons.total_discount IS 'discount given by the redeemed coupons, major units';

CREATE VIEW wallet_report.liability AS
  WITH per_wallet AS (
    SELECT w.currency,
           coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'cash'), 0) AS cash,
           coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'bonus'), 0) AS bonus,
           coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'bonus' AND l.until <= wallet.clock()), 0)
             AS bonus_expired,
           coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'earnings'), 0) AS earnings,
           coalesce(sum(l.held), 0) AS held
      FROM wallet.wallet w LEFT JOIN LATERAL wallet.lots_list(w.lots) l ON true
     GROUP BY w.wallet_id, w.currency),
  -- credits not rolled up yet: a payee's to earnings, reward points to bonus
  pending AS (
    SELECT w.currency, coalesce(sum(p.amount) FILTER (WHERE p.bucket = 'earnings'), 0) AS amount,
           coalesce(sum(p.amount) FILTER (WHERE p.bucket = 'bonus'), 0) AS bonus,
           coalesce(sum(p.amount) FILTER (WHERE p.bucket = 'bonus' AND p.expires_at <= wallet.clock()), 0)
             AS bonus_expired
      FROM wallet.payee_credit p JOIN wallet.wallet w ON w.wallet_id = p.wallet_id GROUP BY w.currency),
  tot AS (
    SELECT pw.currency, count(*) AS wallets, sum(pw.cash) AS cash, sum(pw.bonus) AS bonus,
           sum(pw.bonus_expired) AS bonus_expired, sum(pw.earnings) AS earnings, sum(pw.held) AS held
      FROM per_wallet pw GROUP BY pw.currency)
  SELECT t.currency, t.wallets,
         wallet.to_major(t.cash::bigint, c.exponent) AS cash,
         wallet.to_major((t.bonus + coalesce(p.bonus, 0))::bigint, c.exponent) AS bonus,
         wallet.to_major((t.bonus_expired + coalesce(p.bonus_expired, 0))::bigint, c.exponent) AS bonus_expired,
         wallet.to_major((t.earnings + coalesce(p.amount, 0))::bigint, c.exponent) AS earnings,
         wallet.to_major(t.held::bigint, c.exponent) AS held,
         wallet.to_major((t.cash + t.bonus + t.earnings + coalesce(p.amount, 0) + coalesce(p.bonus, 0) + t.held)::bigint,
                         c.exponent)
           AS total,
         wallet.clock() AS as_of
    FROM tot t
    JOIN wallet.currency c ON c.code = t.currency
    LEFT JOIN pending p ON p.currency = t.currency;
COMMENT ON VIEW wallet_report.liability IS 'what the wallets hold now, per currency (equals the journal''s wallet legs)';
COMMENT ON COLUMN wallet_report.liability.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.liability.wallets IS 'number of wallets';
COMMENT ON COLUMN wallet_report.liability.cash IS 'cash held by wallets (not held for refunds), major units';
COMMENT ON COLUMN wallet_report.liability.bonus IS 'bonus on the books, major units (includes bonus_expired)';
COMMENT ON COLUMN wallet_report.liability.bonus_expired IS 'bonus past its expiry and not yet written off by expire_bonus, major units';
COMMENT ON COLUMN wallet_report.liability.earnings IS 'earnings, including payee credits not yet rolled up, major units';
COMMENT ON COLUMN wallet_report.liability.held IS 'money held for pending and approved refunds, major units';
COMMENT ON COLUMN wallet_report.liability.total IS 'cash + bonus + earnings + held, major units';
COMMENT ON COLUMN wallet_report.liability.as_of IS 'the wallet clock when read';

