------------------------------------------------------------------------------
-- Internal helpers (not granted to anyone)
------------------------------------------------------------------------------

-- _fail raises one of the contract's errors.
CREATE FUNCTION wallet._fail(code text, msg text, detail text DEFAULT NULL, hint text DEFAULT NULL)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF detail IS NULL AND hint IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg;
  ELSIF hint IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, DETAIL = detail;
  ELSIF detail IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, HINT = hint;
  END IF;
  RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, DETAIL = detail, HINT = hint;
END $$;

-- _text checks a text argument: not NULL nor empty when required, at most maxlen characters,
-- no control characters (C0, DEL, C1 and the bidirectional overrides and isolates). The one
-- definition, in C: top_up and spend check their text arguments with the same code.
CREATE FUNCTION wallet._text(val text, argname text, maxlen int DEFAULT 200, required boolean DEFAULT false)
  RETURNS text AS 'MODULE_PATHNAME', 'wallet_text_check' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- _policy returns a currency's policy, with the defaults where it has no row.
CREATE FUNCTION wallet._policy(cur text) RETURNS wallet.policy
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT p FROM wallet.policy p WHERE p.currency = cur),
    ROW(cur, '30 days', 0, 0, 3, '3 days', 0, NULL, 0, 0, NULL, 0, 0,
        0, 0, 0, 0, NULL, NULL, 0, NULL, NULL, 0, 'UTC', '30 minutes', 50000, NULL)::wallet.policy)
$$;

-- _refuse_rules raises WL008 while a table the operations write has a rule (see "Rules on the
-- extension's tables" below): the check top_up and spend make, for the operations in SQL.
CREATE FUNCTION wallet._refuse_rules() RETURNS void
  AS 'MODULE_PATHNAME', 'wallet_refuse_rules' LANGUAGE C VOLATILE;

-- _lock locks and returns a wallet row, or raises WL006; every operation that writes a
-- wallet locks it here, after refusing rules on the tables it writes.
CREATE FUNCTION wallet._lock(wid bigint) RETURNS wallet.wallet
  LANGUAGE plpgsql AS $$
DECLARE
  w wallet.wallet;
BEGIN
  IF wid IS NULL THEN PERFORM wallet._fail('22023', 'wallet_id must not be null'); END IF;
  PERFORM wallet._refuse_rules();
  SELECT * INTO w FROM wallet.wallet WHERE wallet_id = wid FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('wallet %s does not exist', wid));
  END IF;
  RETURN w;
END $$;

-- _save writes a wallet's lots back.
CREATE FUNCTION wallet._save(wid bigint, ls wallet.lotset) RETURNS void
  LANGUAGE sql AS $$
  UPDATE wallet.wallet
     SET lots = ls,
         next_expiry = (wallet.lots_totals(ls, NULL, wallet.clock())).next_expiry,
         version = version + 1
   WHERE wallet_id = wid
$$;

-- _pending returns the payee credits to earnings not yet rolled up into a wallet. PL/pgSQL, so
-- that the lookup is planned for the wallet asked about: a generic plan would scan the
-- table whenever one payee holds most of the pending credits.
CREATE FUNCTION wallet._pending(wid bigint) RETURNS bigint
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT coalesce(sum(c.amount), 0)::bigint FROM wallet.payee_credit c
           WHERE c.wallet_id = wid AND c.bucket = 'earnings');
END $$;

-- _pending_bonus returns the bonus credits (reward points) not yet rolled up into a wallet and
-- not expired at clk: usable in every scene, as their lots will be.
CREATE FUNCTION wallet._pending_bonus(wid bigint, clk timestamptz) RETURNS bigint
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT coalesce(sum(c.amount), 0)::bigint FROM wallet.payee_credit c
           WHERE c.wallet_id = wid AND c.bucket = 'bonus' AND (c.expires_at IS NULL OR c.expires_at > clk));
END $$;

-- Credits to a wallet and a payee's debt are C (src/ops/credit.c), for the operations still in
-- SQL (adjust, rollup_credits) and spend's roll-up. The caller holds the wallet's row lock.
-- _credit adds a credit of amt to a wallet's earnings (ls: its lots, returned with the credit)
-- and repays its debt first: the part wallet.debt_repaid gives goes to payee_receivable in a
-- journal transaction of its own (kind repay_debt, ref_txn: the transaction that credited) and
-- only the rest becomes earnings. Every path that credits a wallet calls it: CONTRACT.md
-- section 5. The credit itself is posted by the crediting transaction.
CREATE FUNCTION wallet._credit(wid bigint, ls wallet.lotset, amt bigint, txn bigint, clk timestamptz)
  RETURNS wallet.lotset AS 'MODULE_PATHNAME', 'wallet_credit' LANGUAGE C VOLATILE;

-- _rollup moves a wallet's pending payee credits into its earnings (a debt repaid first).
CREATE FUNCTION wallet._rollup(wid bigint, ls wallet.lotset, clk timestamptz) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_rollup' LANGUAGE C VOLATILE;

-- _rollup_wallet locks a wallet, rolls up its pending payee credits and writes its row (spend,
-- when the wallet's lots alone are short).
CREATE FUNCTION wallet._rollup_wallet(wid bigint) RETURNS void
  AS 'MODULE_PATHNAME', 'wallet_rollup_wallet' LANGUAGE C VOLATILE;

