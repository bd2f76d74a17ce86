------------------------------------------------------------------------------
-- Reporting by week and month, and the views of the books by day (schema wallet_report)
------------------------------------------------------------------------------
-- Every family of report has a _daily, a _weekly (ISO weeks, Monday to Sunday) and a _monthly
-- view; the weekly and monthly ones add up the daily one's days (in the session's TimeZone), so
-- each reads the same roll-ups (src/sql/reports_rollup.sql) or tables as its daily view, never a
-- scan of the journal. The balances, payees and wallets by day read the per-wallet roll-ups
-- (rollup_balance, rollup_payee, rollup_active) and the journal rows not rolled up yet.

CREATE VIEW wallet_report.withdrawals_daily AS
  SELECT (x.requested_at AT TIME ZONE current_setting('TimeZone'))::date AS day, w.currency, x.status,
         count(*) AS count, count(*) FILTER (WHERE x.automatic) AS automatic,
         wallet.to_major(sum(x.amount)::bigint, c.exponent) AS amount,
         wallet.to_major(sum(x.fee)::bigint, c.exponent) AS fee,
         wallet.to_major(sum(x.net)::bigint, c.exponent) AS net
    FROM wallet.withdrawal x
    JOIN wallet.wallet w ON w.wallet_id = x.wallet_id
    JOIN wallet.currency c ON c.code = w.currency
   GROUP BY 1, 2, 3, c.exponent;
COMMENT ON VIEW wallet_report.withdrawals_daily IS
  'withdrawal requests per day requested (in the session''s TimeZone), currency and current status';
COMMENT ON COLUMN wallet_report.withdrawals_daily.day IS 'calendar day of the request in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.withdrawals_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.withdrawals_daily.status IS 'current status: pending, approved, rejected, succeeded, failed, returned';
COMMENT ON COLUMN wallet_report.withdrawals_daily.count IS 'number of withdrawal requests';
COMMENT ON COLUMN wallet_report.withdrawals_daily.automatic IS 'of which requested by auto_withdraw';
COMMENT ON COLUMN wallet_report.withdrawals_daily.amount IS 'earnings asked out (fee included), major units';
COMMENT ON COLUMN wallet_report.withdrawals_daily.fee IS 'withdrawal fees, major units';
COMMENT ON COLUMN wallet_report.withdrawals_daily.net IS 'amount less fee: what is (to be) paid out, major units';

-- _card_intake_days: per day of submission (the session's TimeZone), currency and card type, the
-- sums the card intake views are made of (minor units): cards submitted, verified, invalid and
-- duplicate; the face value declared of the cards checked (verified or invalid) and verified
-- (least(declared, actual)); rate x verified face; what was paid; the intakes paid and their
-- seconds from submission to payment.
CREATE VIEW wallet._card_intake_days AS
  SELECT (k.submitted_at AT TIME ZONE current_setting('TimeZone'))::date AS day, k.currency, k.card_type,
         c.exponent,
         sum(s.submitted)::bigint AS submitted, sum(s.verified)::bigint AS verified,
         sum(s.invalid)::bigint AS invalid, sum(s.duplicate)::bigint AS duplicate,
         sum(s.face_checked)::bigint AS face_checked, sum(s.face_verified)::bigint AS face_verified,
         sum(s.rate_face) AS rate_face, sum(k.paid)::bigint AS paid,
         count(k.paid_at) AS intakes_paid,
         coalesce(sum(extract(epoch FROM k.paid_at - k.submitted_at)), 0) AS seconds_to_pay
    FROM wallet.card_intake k
    JOIN wallet.currency c ON c.code = k.currency
    CROSS JOIN LATERAL (
      SELECT count(*) AS submitted,
             count(*) FILTER (WHERE i.status = 'verified') AS verified,
             count(*) FILTER (WHERE i.status = 'invalid') AS invalid,
             count(*) FILTER (WHERE i.status = 'duplicate') AS duplicate,
             coalesce(sum(i.face_value) FILTER (WHERE i.status IN ('verified', 'invalid')), 0) AS face_checked,
             coalesce(sum(least(i.face_value, i.actual_face)) FILTER (WHERE i.status = 'verified'), 0) AS face_verified,
             coalesce(sum(i.rate * least(i.face_value, i.actual_face)) FILTER (WHERE i.status = 'verified'), 0)
               AS rate_face
        FROM wallet.card_item i WHERE i.intake_id = k.intake_id) s
   GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW wallet._card_intake_days IS 'internal: the sums of the card intake views per day, currency and card type';

CREATE VIEW wallet_report.card_intake_daily AS
  SELECT d.day AS day, d.currency, d.card_type,
         sum(d.submitted)::bigint AS submitted, sum(d.verified)::bigint AS verified,
         sum(d.invalid)::bigint AS invalid, sum(d.duplicate)::bigint AS duplicate,
         wallet.to_major(sum(d.face_checked)::bigint, d.exponent) AS face_declared,
         wallet.to_major(sum(d.face_verified)::bigint, d.exponent) AS face_verified,
         wallet.to_major(sum(d.paid)::bigint, d.exponent) AS paid,
         round(sum(d.rate_face) / nullif(sum(d.face_verified), 0), 4) AS avg_rate,
         round(1 - sum(d.face_verified)::numeric / nullif(sum(d.face_checked), 0), 4) AS loss_rate,
         round(sum(d.seconds_to_pay) / nullif(sum(d.intakes_paid), 0) / 3600, 2) AS avg_hours_to_pay,
         round(sum(d.verified)::numeric / nullif(sum(d.submitted) - sum(d.duplicate), 0), 4) AS conversion
    FROM wallet._card_intake_days d
   GROUP BY 1, 2, 3, d.exponent;
COMMENT ON VIEW wallet_report.card_intake_daily IS
  'card intake per day of submission, currency and card type: cards, face values, payouts, average rate, '
  'loss rate, hours to pay and conversion';
COMMENT ON COLUMN wallet_report.card_intake_daily.day IS 'calendar day of submission in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.card_intake_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.card_intake_daily.card_type IS 'card type (wallet.card_type)';
COMMENT ON COLUMN wallet_report.card_intake_daily.submitted IS 'cards submitted';
COMMENT ON COLUMN wallet_report.card_intake_daily.verified IS 'cards found valid';
COMMENT ON COLUMN wallet_report.card_intake_daily.invalid IS 'cards found invalid (paid nothing)';
COMMENT ON COLUMN wallet_report.card_intake_daily.duplicate IS 'cards already in an intake not rejected (never paid)';
COMMENT ON COLUMN wallet_report.card_intake_daily.face_declared IS 'face value declared of the cards checked (verified or invalid), major units';
COMMENT ON COLUMN wallet_report.card_intake_daily.face_verified IS 'face value found on the verified cards (at most what was declared), major units';
COMMENT ON COLUMN wallet_report.card_intake_daily.paid IS 'paid to the wallets by the intakes (settled), major units';
COMMENT ON COLUMN wallet_report.card_intake_daily.avg_rate IS 'rate paid on the verified face value, weighted by it (4 decimals)';
COMMENT ON COLUMN wallet_report.card_intake_daily.loss_rate IS '1 - verified / declared face value of the cards checked: invalid cards and short balances (4 decimals)';
COMMENT ON COLUMN wallet_report.card_intake_daily.avg_hours_to_pay IS 'average hours from submission to payment of the intakes paid (2 decimals)';
COMMENT ON COLUMN wallet_report.card_intake_daily.conversion IS 'verified cards of those not duplicates (4 decimals)';

CREATE VIEW wallet_report.card_intake_weekly AS
  SELECT date_trunc('week', d.day::timestamp)::date AS week, d.currency, d.card_type,
         sum(d.submitted)::bigint AS submitted, sum(d.verified)::bigint AS verified,
         sum(d.invalid)::bigint AS invalid, sum(d.duplicate)::bigint AS duplicate,
         wallet.to_major(sum(d.face_checked)::bigint, d.exponent) AS face_declared,
         wallet.to_major(sum(d.face_verified)::bigint, d.exponent) AS face_verified,
         wallet.to_major(sum(d.paid)::bigint, d.exponent) AS paid,
         round(sum(d.rate_face) / nullif(sum(d.face_verified), 0), 4) AS avg_rate,
         round(1 - sum(d.face_verified)::numeric / nullif(sum(d.face_checked), 0), 4) AS loss_rate,
         round(sum(d.seconds_to_pay) / nullif(sum(d.intakes_paid), 0) / 3600, 2) AS avg_hours_to_pay,
         round(sum(d.verified)::numeric / nullif(sum(d.submitted) - sum(d.duplicate), 0), 4) AS conversion
    FROM wallet._card_intake_days d
   GROUP BY 1, 2, 3, d.exponent;
COMMENT ON VIEW wallet_report.card_intake_weekly IS
  'card intake per ISO week of submission, currency and card type: cards, face values, payouts, average rate, '
  'loss rate, hours to pay and conversion';
COMMENT ON COLUMN wallet_report.card_intake_weekly.week IS 'the Monday that starts the ISO week (ISO 8601) of submission, of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.card_intake_weekly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.card_intake_weekly.card_type IS 'card type (wallet.card_type)';
COMMENT ON COLUMN wallet_report.card_intake_weekly.submitted IS 'cards submitted';
COMMENT ON COLUMN wallet_report.card_intake_weekly.verified IS 'cards found valid';
COMMENT ON COLUMN wallet_report.card_intake_weekly.invalid IS 'cards found invalid (paid nothing)';
COMMENT ON COLUMN wallet_report.card_intake_weekly.duplicate IS 'cards already in an intake not rejected (never paid)';
COMMENT ON COLUMN wallet_report.card_intake_weekly.face_declared IS 'face value declared of the cards checked (verified or invalid), major units';
COMMENT ON COLUMN wallet_report.card_intake_weekly.face_verified IS 'face value found on the verified cards (at most what was declared), major units';
COMMENT ON COLUMN wallet_report.card_intake_weekly.paid IS 'paid to the wallets by the intakes (settled), major units';
COMMENT ON COLUMN wallet_report.card_intake_weekly.avg_rate IS 'rate paid on the verified face value, weighted by it (4 decimals)';
COMMENT ON COLUMN wallet_report.card_intake_weekly.loss_rate IS '1 - verified / declared face value of the cards checked: invalid cards and short balances (4 decimals)';
COMMENT ON COLUMN wallet_report.card_intake_weekly.avg_hours_to_pay IS 'average hours from submission to payment of the intakes paid (2 decimals)';
COMMENT ON COLUMN wallet_report.card_intake_weekly.conversion IS 'verified cards of those not duplicates (4 decimals)';

CREATE VIEW wallet_report.card_intake_monthly AS
  SELECT date_trunc('month', d.day::timestamp)::date AS month, d.currency, d.card_type,
         sum(d.submitted)::bigint AS submitted, sum(d.verified)::bigint AS verified,
         sum(d.invalid)::bigint AS invalid, sum(d.duplicate)::bigint AS duplicate,
         wallet.to_major(sum(d.face_checked)::bigint, d.exponent) AS face_declared,
         wallet.to_major(sum(d.face_verified)::bigint, d.exponent) AS face_verified,
         wallet.to_major(sum(d.paid)::bigint, d.exponent) AS paid,
         round(sum(d.rate_face) / nullif(sum(d.face_verified), 0), 4) AS avg_rate,
         round(1 - sum(d.face_verified)::numeric / nullif(sum(d.face_checked), 0), 4) AS loss_rate,
         round(sum(d.seconds_to_pay) / nullif(sum(d.intakes_paid), 0) / 3600, 2) AS avg_hours_to_pay,
         round(sum(d.verified)::numeric / nullif(sum(d.submitted) - sum(d.duplicate), 0), 4) AS conversion
    FROM wallet._card_intake_days d
   GROUP BY 1, 2, 3, d.exponent;
COMMENT ON VIEW wallet_report.card_intake_monthly IS
  'card intake per calendar month of submission, currency and card type: cards, face values, payouts, average rate, '
  'loss rate, hours to pay and conversion';
COMMENT ON COLUMN wallet_report.card_intake_monthly.month IS 'the first day of the calendar month of submission, of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.card_intake_monthly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.card_intake_monthly.card_type IS 'card type (wallet.card_type)';
COMMENT ON COLUMN wallet_report.card_intake_monthly.submitted IS 'cards submitted';
COMMENT ON COLUMN wallet_report.card_intake_monthly.verified IS 'cards found valid';
COMMENT ON COLUMN wallet_report.card_intake_monthly.invalid IS 'cards found invalid (paid nothing)';
COMMENT ON COLUMN wallet_report.card_intake_monthly.duplicate IS 'cards already in an intake not rejected (never paid)';
COMMENT ON COLUMN wallet_report.card_intake_monthly.face_declared IS 'face value declared of the cards checked (verified or invalid), major units';
COMMENT ON COLUMN wallet_report.card_intake_monthly.face_verified IS 'face value found on the verified cards (at most what was declared), major units';
COMMENT ON COLUMN wallet_report.card_intake_monthly.paid IS 'paid to the wallets by the intakes (settled), major units';
COMMENT ON COLUMN wallet_report.card_intake_monthly.avg_rate IS 'rate paid on the verified face value, weighted by it (4 decimals)';
COMMENT ON COLUMN wallet_report.card_intake_monthly.loss_rate IS '1 - verified / declared face value of the cards checked: invalid cards and short balances (4 decimals)';
COMMENT ON COLUMN wallet_report.card_intake_monthly.avg_hours_to_pay IS 'average hours from submission to payment of the intakes paid (2 decimals)';
COMMENT ON COLUMN wallet_report.card_intake_monthly.conversion IS 'verified cards of those not duplicates (4 decimals)';

CREATE VIEW wallet_report.topups_weekly AS
  SELECT date_trunc('week', d.day::timestamp)::date AS week, d.currency, d.method,
         sum(d.count)::bigint AS count, sum(d.amount) AS amount, sum(d.bonus) AS bonus
    FROM wallet_report.topups_daily d
   GROUP BY 1, 2, 3;
COMMENT ON VIEW wallet_report.topups_weekly IS 'top-ups per ISO week (Monday to Sunday), currency and method (sums of topups_daily)';
COMMENT ON COLUMN wallet_report.topups_weekly.week IS 'the Monday that starts the ISO week (ISO 8601), of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.topups_weekly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.topups_weekly.method IS 'payment method passed to top_up (NULL when none)';
COMMENT ON COLUMN wallet_report.topups_weekly.count IS 'number of top-ups (replays not counted)';
COMMENT ON COLUMN wallet_report.topups_weekly.amount IS 'cash topped up, major units';
COMMENT ON COLUMN wallet_report.topups_weekly.bonus IS 'bonus granted with those top-ups, major units';

CREATE VIEW wallet_report.topups_monthly AS
  SELECT date_trunc('month', d.day::timestamp)::date AS month, d.currency, d.method,
         sum(d.count)::bigint AS count, sum(d.amount) AS amount, sum(d.bonus) AS bonus
    FROM wallet_report.topups_daily d
   GROUP BY 1, 2, 3;
COMMENT ON VIEW wallet_report.topups_monthly IS 'top-ups per calendar month, currency and method (sums of topups_daily)';
COMMENT ON COLUMN wallet_report.topups_monthly.month IS 'the first day of the calendar month, of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.topups_monthly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.topups_monthly.method IS 'payment method passed to top_up (NULL when none)';
COMMENT ON COLUMN wallet_report.topups_monthly.count IS 'number of top-ups (replays not counted)';
COMMENT ON COLUMN wallet_report.topups_monthly.amount IS 'cash topped up, major units';
COMMENT ON COLUMN wallet_report.topups_monthly.bonus IS 'bonus granted with those top-ups, major units';

CREATE VIEW wallet_report.spending_weekly AS
  SELECT date_trunc('week', d.day::timestamp)::date AS week, d.currency, d.scene,
         sum(d.count)::bigint AS count, sum(d.charged) AS charged, sum(d.bonus_used) AS bonus_used,
         sum(d.cash_used) AS cash_used, sum(d.earnings_used) AS earnings_used,
         sum(d.coupon_discount) AS coupon_discount, sum(d.reversals)::bigint AS reversals,
         sum(d.reversed) AS reversed
    FROM wallet_report.spending_daily d
   GROUP BY 1, 2, 3;
COMMENT ON VIEW wallet_report.spending_weekly IS 'spends per ISO week (Monday to Sunday), currency and scene, and the reversals made in it of spends of the scene (sums of spending_daily)';
COMMENT ON COLUMN wallet_report.spending_weekly.week IS 'the Monday that starts the ISO week (ISO 8601), of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.spending_weekly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.spending_weekly.scene IS 'scene of the spend (NULL when none)';
COMMENT ON COLUMN wallet_report.spending_weekly.count IS 'number of spends';
COMMENT ON COLUMN wallet_report.spending_weekly.charged IS 'charged to wallets (order amount less coupon discount and shortfall), major units';
COMMENT ON COLUMN wallet_report.spending_weekly.bonus_used IS 'bonus used by the spends, major units';
COMMENT ON COLUMN wallet_report.spending_weekly.cash_used IS 'cash used by the spends, major units';
COMMENT ON COLUMN wallet_report.spending_weekly.earnings_used IS 'earnings used by the spends, major units';
COMMENT ON COLUMN wallet_report.spending_weekly.coupon_discount IS 'coupon discounts given on the spends, major units';
COMMENT ON COLUMN wallet_report.spending_weekly.reversals IS 'number of reversals made in the period (of spends of this scene)';
COMMENT ON COLUMN wallet_report.spending_weekly.reversed IS 'amount reversed in the period, major units';

CREATE VIEW wallet_report.spending_monthly AS
  SELECT date_trunc('month', d.day::timestamp)::date AS month, d.currency, d.scene,
         sum(d.count)::bigint AS count, sum(d.charged) AS charged, sum(d.bonus_used) AS bonus_used,
         sum(d.cash_used) AS cash_used, sum(d.earnings_used) AS earnings_used,
         sum(d.coupon_discount) AS coupon_discount, sum(d.reversals)::bigint AS reversals,
         sum(d.reversed) AS reversed
    FROM wallet_report.spending_daily d
   GROUP BY 1, 2, 3;
COMMENT ON VIEW wallet_report.spending_monthly IS 'spends per calendar month, currency and scene, and the reversals made in it of spends of the scene (sums of spending_daily)';
COMMENT ON COLUMN wallet_report.spending_monthly.month IS 'the first day of the calendar month, of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.spending_monthly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.spending_monthly.scene IS 'scene of the spend (NULL when none)';
COMMENT ON COLUMN wallet_report.spending_monthly.count IS 'number of spends';
COMMENT ON COLUMN wallet_report.spending_monthly.charged IS 'charged to wallets (order amount less coupon discount and shortfall), major units';
COMMENT ON COLUMN wallet_report.spending_monthly.bonus_used IS 'bonus used by the spends, major units';
COMMENT ON COLUMN wallet_report.spending_monthly.cash_used IS 'cash used by the spends, major units';
COMMENT ON COLUMN wallet_report.spending_monthly.earnings_used IS 'earnings used by the spends, major units';
COMMENT ON COLUMN wallet_report.spending_monthly.coupon_discount IS 'coupon discounts given on the spends, major units';
COMMENT ON COLUMN wallet_report.spending_monthly.reversals IS 'number of reversals made in the period (of spends of this scene)';
COMMENT ON COLUMN wallet_report.spending_monthly.reversed IS 'amount reversed in the period, major units';

CREATE VIEW wallet_report.transfers_weekly AS
  SELECT date_trunc('week', d.day::timestamp)::date AS week, d.currency, d.kind,
         sum(d.count)::bigint AS count, sum(d.amount) AS amount, sum(d.fees) AS fees
    FROM wallet_report.transfers_daily d
   GROUP BY 1, 2, 3;
COMMENT ON VIEW wallet_report.transfers_weekly IS 'transfers between wallets per ISO week (Monday to Sunday), currency and kind (sums of transfers_daily)';
COMMENT ON COLUMN wallet_report.transfers_weekly.week IS 'the Monday that starts the ISO week (ISO 8601), of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.transfers_weekly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.transfers_weekly.kind IS 'kind passed to transfer (p2p, donation, gift, ...)';
COMMENT ON COLUMN wallet_report.transfers_weekly.count IS 'number of transfers (replays not counted)';
COMMENT ON COLUMN wallet_report.transfers_weekly.amount IS 'earnings moved to the receivers, major units';
COMMENT ON COLUMN wallet_report.transfers_weekly.fees IS 'transfer fees charged to the senders on top (fee_income), major units';

CREATE VIEW wallet_report.transfers_monthly AS
  SELECT date_trunc('month', d.day::timestamp)::date AS month, d.currency, d.kind,
         sum(d.count)::bigint AS count, sum(d.amount) AS amount, sum(d.fees) AS fees
    FROM wallet_report.transfers_daily d
   GROUP BY 1, 2, 3;
COMMENT ON VIEW wallet_report.transfers_monthly IS 'transfers between wallets per calendar month, currency and kind (sums of transfers_daily)';
COMMENT ON COLUMN wallet_report.transfers_monthly.month IS 'the first day of the calendar month, of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.transfers_monthly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.transfers_monthly.kind IS 'kind passed to transfer (p2p, donation, gift, ...)';
COMMENT ON COLUMN wallet_report.transfers_monthly.count IS 'number of transfers (replays not counted)';
COMMENT ON COLUMN wallet_report.transfers_monthly.amount IS 'earnings moved to the receivers, major units';
COMMENT ON COLUMN wallet_report.transfers_monthly.fees IS 'transfer fees charged to the senders on top (fee_income), major units';

CREATE VIEW wallet_report.bonus_weekly AS
  SELECT date_trunc('week', d.day::timestamp)::date AS week, d.currency,
         sum(d.granted) AS granted, sum(d.spent) AS spent, sum(d.returned) AS returned,
         sum(d.expired) AS expired, sum(d.voided) AS voided, sum(d.clawed_back) AS clawed_back
    FROM wallet_report.bonus_daily d
   GROUP BY 1, 2;
COMMENT ON VIEW wallet_report.bonus_weekly IS 'bonus movements per ISO week (Monday to Sunday) and currency, from the journal''s postings (sums of bonus_daily)';
COMMENT ON COLUMN wallet_report.bonus_weekly.week IS 'the Monday that starts the ISO week (ISO 8601), of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.bonus_weekly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.bonus_weekly.granted IS 'bonus granted by top-ups (bonus_expense legs of top_up), major units';
COMMENT ON COLUMN wallet_report.bonus_weekly.spent IS 'bonus used by spends (wallet bonus legs of spend), major units';
COMMENT ON COLUMN wallet_report.bonus_weekly.returned IS 'bonus given back to wallets by reversals (wallet bonus legs of reverse_spend), major units';
COMMENT ON COLUMN wallet_report.bonus_weekly.expired IS 'breakage: bonus written off on expiry, by expire_bonus or by a reversal past the expiry (breakage legs), major units';
COMMENT ON COLUMN wallet_report.bonus_weekly.voided IS 'unspent bonus cancelled by settled refunds of its top-up, major units';
COMMENT ON COLUMN wallet_report.bonus_weekly.clawed_back IS 'cash kept by settled refunds for bonus already spent, major units';

CREATE VIEW wallet_report.bonus_monthly AS
  SELECT date_trunc('month', d.day::timestamp)::date AS month, d.currency,
         sum(d.granted) AS granted, sum(d.spent) AS spent, sum(d.returned) AS returned,
         sum(d.expired) AS expired, sum(d.voided) AS voided, sum(d.clawed_back) AS clawed_back
    FROM wallet_report.bonus_daily d
   GROUP BY 1, 2;
COMMENT ON VIEW wallet_report.bonus_monthly IS 'bonus movements per calendar month and currency, from the journal''s postings (sums of bonus_daily)';
COMMENT ON COLUMN wallet_report.bonus_monthly.month IS 'the first day of the calendar month, of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.bonus_monthly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.bonus_monthly.granted IS 'bonus granted by top-ups (bonus_expense legs of top_up), major units';
COMMENT ON COLUMN wallet_report.bonus_monthly.spent IS 'bonus used by spends (wallet bonus legs of spend), major units';
COMMENT ON COLUMN wallet_report.bonus_monthly.returned IS 'bonus given back to wallets by reversals (wallet bonus legs of reverse_spend), major units';
COMMENT ON COLUMN wallet_report.bonus_monthly.expired IS 'breakage: bonus written off on expiry, by expire_bonus or by a reversal past the expiry (breakage legs), major units';
COMMENT ON COLUMN wallet_report.bonus_monthly.voided IS 'unspent bonus cancelled by settled refunds of its top-up, major units';
COMMENT ON COLUMN wallet_report.bonus_monthly.clawed_back IS 'cash kept by settled refunds for bonus already spent, major units';

CREATE VIEW wallet_report.refunds_weekly AS
  SELECT date_trunc('week', d.day::timestamp)::date AS week, d.currency, d.reason, d.status,
         sum(d.count)::bigint AS count, sum(d.amount) AS amount, sum(d.fee) AS fee, sum(d.net) AS net,
         sum(d.bonus_clawback) AS bonus_clawback, sum(d.bonus_void) AS bonus_void
    FROM wallet_report.refunds_daily d
   GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW wallet_report.refunds_weekly IS 'refund requests per ISO week (Monday to Sunday) requested, currency, reason and current status (sums of refunds_daily)';
COMMENT ON COLUMN wallet_report.refunds_weekly.week IS 'the Monday that starts the ISO week (ISO 8601), of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.refunds_weekly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.refunds_weekly.reason IS 'user or platform';
COMMENT ON COLUMN wallet_report.refunds_weekly.status IS 'current status: pending, approved, rejected, succeeded, failed';
COMMENT ON COLUMN wallet_report.refunds_weekly.count IS 'number of refund requests';
COMMENT ON COLUMN wallet_report.refunds_weekly.amount IS 'cash asked back, major units';
COMMENT ON COLUMN wallet_report.refunds_weekly.fee IS 'refund fees, major units';
COMMENT ON COLUMN wallet_report.refunds_weekly.net IS 'amount less fee: what is (to be) paid out, major units';
COMMENT ON COLUMN wallet_report.refunds_weekly.bonus_clawback IS 'cash kept for bonus already spent, major units';
COMMENT ON COLUMN wallet_report.refunds_weekly.bonus_void IS 'unspent bonus cancelled, major units';

CREATE VIEW wallet_report.refunds_monthly AS
  SELECT date_trunc('month', d.day::timestamp)::date AS month, d.currency, d.reason, d.status,
         sum(d.count)::bigint AS count, sum(d.amount) AS amount, sum(d.fee) AS fee, sum(d.net) AS net,
         sum(d.bonus_clawback) AS bonus_clawback, sum(d.bonus_void) AS bonus_void
    FROM wallet_report.refunds_daily d
   GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW wallet_report.refunds_monthly IS 'refund requests per calendar month requested, currency, reason and current status (sums of refunds_daily)';
COMMENT ON COLUMN wallet_report.refunds_monthly.month IS 'the first day of the calendar month, of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.refunds_monthly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.refunds_monthly.reason IS 'user or platform';
COMMENT ON COLUMN wallet_report.refunds_monthly.status IS 'current status: pending, approved, rejected, succeeded, failed';
COMMENT ON COLUMN wallet_report.refunds_monthly.count IS 'number of refund requests';
COMMENT ON COLUMN wallet_report.refunds_monthly.amount IS 'cash asked back, major units';
COMMENT ON COLUMN wallet_report.refunds_monthly.fee IS 'refund fees, major units';
COMMENT ON COLUMN wallet_report.refunds_monthly.net IS 'amount less fee: what is (to be) paid out, major units';
COMMENT ON COLUMN wallet_report.refunds_monthly.bonus_clawback IS 'cash kept for bonus already spent, major units';
COMMENT ON COLUMN wallet_report.refunds_monthly.bonus_void IS 'unspent bonus cancelled, major units';

CREATE VIEW wallet_report.withdrawals_weekly AS
  SELECT date_trunc('week', d.day::timestamp)::date AS week, d.currency, d.status,
         sum(d.count)::bigint AS count, sum(d.automatic)::bigint AS automatic, sum(d.amount) AS amount,
         sum(d.fee) AS fee, sum(d.net) AS net
    FROM wallet_report.withdrawals_daily d
   GROUP BY 1, 2, 3;
COMMENT ON VIEW wallet_report.withdrawals_weekly IS 'withdrawal requests per ISO week (Monday to Sunday) requested, currency and current status (sums of withdrawals_daily)';
COMMENT ON COLUMN wallet_report.withdrawals_weekly.week IS 'the Monday that starts the ISO week (ISO 8601), of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.withdrawals_weekly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.withdrawals_weekly.status IS 'current status: pending, approved, rejected, succeeded, failed, returned';
COMMENT ON COLUMN wallet_report.withdrawals_weekly.count IS 'number of withdrawal requests';
COMMENT ON COLUMN wallet_report.withdrawals_weekly.automatic IS 'of which requested by auto_withdraw';
COMMENT ON COLUMN wallet_report.withdrawals_weekly.amount IS 'earnings asked out (fee included), major units';
COMMENT ON COLUMN wallet_report.withdrawals_weekly.fee IS 'withdrawal fees, major units';
COMMENT ON COLUMN wallet_report.withdrawals_weekly.net IS 'amount less fee: what is (to be) paid out, major units';

CREATE VIEW wallet_report.withdrawals_monthly AS
  SELECT date_trunc('month', d.day::timestamp)::date AS month, d.currency, d.status,
         sum(d.count)::bigint AS count, sum(d.automatic)::bigint AS automatic, sum(d.amount) AS amount,
         sum(d.fee) AS fee, sum(d.net) AS net
    FROM wallet_report.withdrawals_daily d
   GROUP BY 1, 2, 3;
COMMENT ON VIEW wallet_report.withdrawals_monthly IS 'withdrawal requests per calendar month requested, currency and current status (sums of withdrawals_daily)';
COMMENT ON COLUMN wallet_report.withdrawals_monthly.month IS 'the first day of the calendar month, of days in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.withdrawals_monthly.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.withdrawals_monthly.status IS 'current status: pending, approved, rejected, succeeded, failed, returned';
COMMENT ON COLUMN wallet_report.withdrawals_monthly.count IS 'number of withdrawal requests';
COMMENT ON COLUMN wallet_report.withdrawals_monthly.automatic IS 'of which requested by auto_withdraw';
COMMENT ON COLUMN wallet_report.withdrawals_monthly.amount IS 'earnings asked out (fee included), major units';
COMMENT ON COLUMN wallet_report.withdrawals_monthly.fee IS 'withdrawal fees, major units';
COMMENT ON COLUMN wallet_report.withdrawals_monthly.net IS 'amount less fee: what is (to be) paid out, major units';

-- liability_daily: the wallets' books at the end of each day (in the session's TimeZone) on which
-- something changed, per currency: every change the journal's legs made up to then (the roll-up's
-- slots and the rows not rolled up yet, added up in day order) and the wallets opened by then.
CREATE VIEW wallet_report.liability_daily AS
  WITH moves AS (
    SELECT r.slot, r.currency, r.cash, r.bonus, r.earnings, r.held, r.debt, 0 AS opened
      FROM wallet.rollup_balance r
    UNION ALL
    SELECT f.slot, f.currency, f.cash, f.bonus, f.earnings, f.held, f.debt, 0
      FROM wallet._report_wallet_tail f
     WHERE f.cash <> 0 OR f.bonus <> 0 OR f.earnings <> 0 OR f.held <> 0 OR f.debt <> 0
    UNION ALL
    SELECT w.created_at, w.currency, 0, 0, 0, 0, 0, 1 FROM wallet.wallet w),
  days AS (
    SELECT (m.slot AT TIME ZONE current_setting('TimeZone'))::date AS day, m.currency,
           sum(m.cash) AS cash, sum(m.bonus) AS bonus, sum(m.earnings) AS earnings, sum(m.held) AS held,
           sum(m.debt) AS debt, sum(m.opened) AS opened
      FROM moves m GROUP BY 1, 2)
  SELECT d.day, d.currency,
         (sum(d.opened) OVER w)::bigint AS wallets,
         wallet.to_major((sum(d.cash) OVER w)::bigint, c.exponent) AS cash,
         wallet.to_major((sum(d.bonus) OVER w)::bigint, c.exponent) AS bonus,
         wallet.to_major((sum(d.earnings) OVER w)::bigint, c.exponent) AS earnings,
         wallet.to_major((sum(d.held) OVER w)::bigint, c.exponent) AS held,
         wallet.to_major((sum(d.debt) OVER w)::bigint, c.exponent) AS debt,
         wallet.to_major((sum(d.cash + d.bonus + d.earnings + d.held) OVER w)::bigint, c.exponent) AS total
    FROM days d JOIN wallet.currency c ON c.code = d.currency
  WINDOW w AS (PARTITION BY d.currency ORDER BY d.day);
COMMENT ON VIEW wallet_report.liability_daily IS
  'what the wallets held at the end of each day (in the session''s TimeZone) on which something changed, per currency';
COMMENT ON COLUMN wallet_report.liability_daily.day IS 'calendar day in the session''s TimeZone (its end)';
COMMENT ON COLUMN wallet_report.liability_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.liability_daily.wallets IS 'number of wallets opened by the end of the day';
COMMENT ON COLUMN wallet_report.liability_daily.cash IS 'cash held by wallets (not held for refunds), major units';
COMMENT ON COLUMN wallet_report.liability_daily.bonus IS 'bonus on the books (expired bonus until written off), major units';
COMMENT ON COLUMN wallet_report.liability_daily.earnings IS 'earnings, payee credits included, major units';
COMMENT ON COLUMN wallet_report.liability_daily.held IS 'money held for pending refunds, withdrawals and open holds, major units';
COMMENT ON COLUMN wallet_report.liability_daily.debt IS 'what payees owe for reversals beyond their earnings (payee_receivable), major units';
COMMENT ON COLUMN wallet_report.liability_daily.total IS 'cash + bonus + earnings + held, major units';

-- payees_daily: per day (in the session's TimeZone), currency and payee, the sales it was paid
-- for and what reversals took back. gross - reversed = commission + net.
CREATE VIEW wallet_report.payees_daily AS
  WITH s AS (
    SELECT r.slot, r.currency, r.payee, r.sales, r.gross, r.reversed, r.commission, r.net FROM wallet.rollup_payee r
    UNION ALL
    SELECT f.slot, f.currency, f.wallet_id, f.sales, f.gross, f.reversed, f.commission, f.net
      FROM wallet._report_wallet_tail f WHERE f.payee)
  SELECT (s.slot AT TIME ZONE current_setting('TimeZone'))::date AS day, s.currency, s.payee,
         sum(s.sales)::bigint AS sales,
         wallet.to_major(sum(s.gross)::bigint, c.exponent) AS gross,
         wallet.to_major(sum(s.reversed)::bigint, c.exponent) AS reversed,
         wallet.to_major(sum(s.commission)::bigint, c.exponent) AS commission,
         wallet.to_major(sum(s.net)::bigint, c.exponent) AS net
    FROM s JOIN wallet.currency c ON c.code = s.currency
   GROUP BY 1, 2, 3, c.exponent;
COMMENT ON VIEW wallet_report.payees_daily IS
  'what each payee was paid per day (in the session''s TimeZone) and currency: sales, reversals, commission';
COMMENT ON COLUMN wallet_report.payees_daily.day IS 'calendar day in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.payees_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.payees_daily.payee IS 'the payee''s wallet id';
COMMENT ON COLUMN wallet_report.payees_daily.sales IS 'number of spends, captures and split payments that paid the payee (its part)';
COMMENT ON COLUMN wallet_report.payees_daily.gross IS 'what customers paid the payee (its part of what was charged), major units';
COMMENT ON COLUMN wallet_report.payees_daily.reversed IS 'what reversals made that day took back of it, major units';
COMMENT ON COLUMN wallet_report.payees_daily.commission IS 'commission kept by the platform, net of reversals, major units';
COMMENT ON COLUMN wallet_report.payees_daily.net IS 'what the payee received, net of reversals (its debt included), major units';

-- wallets_daily: per day (in the session's TimeZone) and currency, the wallets opened and the
-- wallets active (that made a transaction of their own; the sweeps' and debt repayments' rows do not count).
CREATE VIEW wallet_report.wallets_daily AS
  WITH a AS (
    SELECT r.slot, r.currency, r.wallet_id FROM wallet.rollup_active r
    UNION ALL
    SELECT f.slot, f.currency, f.wallet_id FROM wallet._report_wallet_tail f WHERE f.active),
  act AS (
    SELECT (a.slot AT TIME ZONE current_setting('TimeZone'))::date AS day, a.currency,
           count(DISTINCT a.wallet_id) AS active_wallets
      FROM a GROUP BY 1, 2),
  opened AS (
    SELECT (w.created_at AT TIME ZONE current_setting('TimeZone'))::date AS day, w.currency,
           count(*) AS new_wallets
      FROM wallet.wallet w GROUP BY 1, 2)
  SELECT day, currency, coalesce(o.new_wallets, 0) AS new_wallets, coalesce(x.active_wallets, 0) AS active_wallets
    FROM opened o FULL JOIN act x USING (day, currency);
COMMENT ON VIEW wallet_report.wallets_daily IS 'wallets opened and wallets active per day (in the session''s TimeZone) and currency';
COMMENT ON COLUMN wallet_report.wallets_daily.day IS 'calendar day in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.wallets_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.wallets_daily.new_wallets IS 'wallets opened that day';
COMMENT ON COLUMN wallet_report.wallets_daily.active_wallets IS
  'wallets that made at least one transaction of their own that day (the expiry sweeps'' and debt repayments'' rows do not count)';
