------------------------------------------------------------------------------
-- Pure functions: money, clock and the engine (no table access)
------------------------------------------------------------------------------
CREATE FUNCTION wallet.clock() RETURNS timestamptz
  AS 'MODULE_PATHNAME', 'wallet_clock_sql' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION wallet.clock() IS 'the wallet clock: transaction timestamp, or the superuser-only setting wallet.now';

CREATE FUNCTION wallet.to_minor(amount numeric, exponent int, argname text DEFAULT 'amount') RETURNS bigint
  AS 'MODULE_PATHNAME', 'wallet_to_minor' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet.to_major(minor bigint, exponent int) RETURNS numeric
  AS 'MODULE_PATHNAME', 'wallet_to_major' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.rate_amount(amount bigint, rate numeric) RETURNS bigint
  AS 'MODULE_PATHNAME', 'wallet_rate_amount' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.bonus_amount(amount bigint, fixed bigint, rate numeric, cap bigint) RETURNS bigint
  AS 'MODULE_PATHNAME', 'wallet_bonus_amount' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet.bonus_pick(amount bigint, grp text[], min_amount bigint[], fixed bigint[],
                                  rate numeric[], cap bigint[])
  RETURNS TABLE (idx int, bonus bigint)
  AS 'MODULE_PATHNAME', 'wallet_bonus_pick' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 2;
CREATE FUNCTION wallet.check_scene(scene text) RETURNS text
  AS 'MODULE_PATHNAME', 'wallet_check_scene' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION wallet.lots_empty() RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_lots_empty' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet.lots_add(ls wallet.lotset, bucket text, amount bigint, txn bigint,
                                at timestamptz, until timestamptz, scope text[]) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_lots_add' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet.lots_spend(ls wallet.lotset, amount bigint, scene text, now timestamptz,
                                  OUT lots wallet.lotset, OUT taken wallet.lotset, OUT bonus bigint,
                                  OUT cash bigint, OUT earnings bigint, OUT shortfall bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_spend' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet.lots_totals(ls wallet.lotset, scene text, now timestamptz,
                                   OUT cash bigint, OUT bonus bigint, OUT earnings bigint, OUT held bigint,
                                   OUT bonus_stored bigint, OUT next_expiry timestamptz)
  AS 'MODULE_PATHNAME', 'wallet_lots_totals' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet.lots_books(ls wallet.lotset,
                                  OUT cash bigint, OUT bonus bigint, OUT earnings bigint, OUT held bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_books' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_negative(ls wallet.lotset) RETURNS boolean
  AS 'MODULE_PATHNAME', 'wallet_lots_negative' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_expire(ls wallet.lotset, now timestamptz,
                                   OUT lots wallet.lotset, OUT expired bigint, OUT lots_expired int)
  AS 'MODULE_PATHNAME', 'wallet_lots_expire' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_take(ls wallet.lotset, bucket text, amount bigint, now timestamptz,
                                 every_scope boolean DEFAULT false,
                                 OUT lots wallet.lotset, OUT taken bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_take' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- debt_repaid: the part of a credit (minor units) that repays a debt; every credit to a
-- wallet in debt repays the debt first (src/engine.c, engine_debt_repaid).
CREATE FUNCTION wallet.debt_repaid(debt bigint, credit bigint) RETURNS bigint
  AS 'MODULE_PATHNAME', 'wallet_debt_repaid' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- _refuse_in_debt: WL008 when a wallet in debt asks to take money out (withdraw, transfer,
-- exchange out); the check every such operation calls (src/ops.c, refuse_in_debt).
CREATE FUNCTION wallet._refuse_in_debt(wallet_id bigint, debt bigint, exponent int, operation text)
  RETURNS void AS 'MODULE_PATHNAME', 'wallet_refuse_in_debt' LANGUAGE C STABLE;
CREATE FUNCTION wallet.lots_minus(a wallet.lotset, b wallet.lotset) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_lots_minus' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.reversal_split(remaining wallet.lotset, given_bonus bigint, given_cash bigint,
                                      given_earnings bigint, amount bigint) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_reversal_split' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_reverse(ls wallet.lotset, pieces wallet.lotset, now timestamptz,
                                    OUT lots wallet.lotset, OUT bonus bigint, OUT cash bigint,
                                    OUT earnings bigint, OUT breakage bigint, OUT bonus_to_cash bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_reverse' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_refund_info(ls wallet.lotset, topup_txn bigint, now timestamptz,
                                        OUT found boolean, OUT cash bigint, OUT owed bigint, OUT clawed bigint,
                                        OUT bonus_live bigint, OUT refundable_until timestamptz, OUT held bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_refund_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_refund_hold(ls wallet.lotset, topup_txn bigint, take bigint, clawback bigint,
                                        now timestamptz, OUT lots wallet.lotset, OUT bonus_held bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_refund_hold' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_refund_release(ls wallet.lotset, topup_txn bigint, take bigint, clawback bigint,
                                           bonus_held bigint, now timestamptz) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_lots_refund_release' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_refund_settle(ls wallet.lotset, topup_txn bigint, take bigint, clawback bigint,
                                          bonus_held bigint, now timestamptz) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_lots_refund_settle' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_list(ls wallet.lotset)
  RETURNS TABLE (lot_id int, bucket text, amount bigint, held bigint, source_txn bigint,
                 granted_at timestamptz, until timestamptz, scope text[], owed bigint, clawed bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_list' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 8;

-- _legs keeps the non-zero legs of a posting list.
CREATE FUNCTION wallet._legs(VARIADIC legs wallet.posting[]) RETURNS wallet.posting[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT coalesce(array_agg(p ORDER BY o), '{}') FROM unnest(legs) WITH ORDINALITY AS u(account, wallet_id, bucket, amount, o)
        CROSS JOIN LATERAL (SELECT ROW(u.account, u.wallet_id, u.bucket, u.amount)::wallet.posting) AS x(p)
        WHERE u.amount <> 0 $$;

