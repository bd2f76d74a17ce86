------------------------------------------------------------------------------
-- Wallets
------------------------------------------------------------------------------
CREATE FUNCTION wallet.open(owner text, currency text DEFAULT 'CNY') RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  e int;
  wid bigint;
BEGIN
  PERFORM wallet._text(open.owner, 'owner', 256, true);
  PERFORM wallet._text(open.currency, 'currency', 3, true);
  PERFORM wallet._refuse_rules();
  SELECT c.exponent INTO e FROM wallet.currency c WHERE c.code = open.currency;
  IF NOT FOUND THEN
    PERFORM wallet._fail('22023', format('unknown currency "%s"', open.currency),
                         hint => 'Currencies are listed in wallet.currency.');
  END IF;
  SELECT w.wallet_id INTO wid FROM wallet.wallet w
   WHERE w.owner = open.owner AND w.currency = open.currency;
  IF wid IS NOT NULL THEN
    RETURN wid;
  END IF;
  -- read again under a key-share lock: the exponent cannot change until this wallet has
  -- committed (wallet._currency_check waits for it, then sees the wallet)
  SELECT c.exponent INTO e FROM wallet.currency c WHERE c.code = open.currency FOR KEY SHARE;
  INSERT INTO wallet.wallet AS w (owner, currency, exponent, created_at)
  VALUES (open.owner, open.currency, e, wallet.clock())
  ON CONFLICT ON CONSTRAINT wallet_owner_currency_key DO NOTHING
  RETURNING w.wallet_id INTO wid;
  IF wid IS NOT NULL THEN
    -- a new wallet gets the coupons issued on registration
    PERFORM wallet._auto_issue(wid, 'open', NULL, NULL);
    RETURN wid;
  END IF;
  IF wid IS NULL THEN
    SELECT w.wallet_id INTO wid FROM wallet.wallet w
     WHERE w.owner = open.owner AND w.currency = open.currency;
  END IF;
  RETURN wid;
END $$;

CREATE FUNCTION wallet._balance(wid bigint, scene text,
  OUT wallet_id bigint, OUT currency text, OUT cash numeric, OUT bonus numeric, OUT earnings numeric,
  OUT held numeric, OUT available numeric, OUT withdrawable numeric, OUT frozen boolean,
  OUT debt numeric)
  RETURNS SETOF record
  LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  w wallet.wallet;
  t record;
  pend bigint;
  owed bigint;
  pend_bonus bigint;
  owed_bonus bigint;
BEGIN
  IF _balance.wid IS NULL THEN PERFORM wallet._fail('22023', 'wallet_id must not be null'); END IF;
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = _balance.wid;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('wallet %s does not exist', _balance.wid));
  END IF;
  PERFORM wallet._text(_balance.scene, 'scene', 64);
  t := wallet.lots_totals(w.lots, _balance.scene, wallet.clock());
  pend := wallet._pending(w.wallet_id);
  -- payee credits not rolled up yet repay the debt first (as the roll-up will): that part
  -- is neither earnings nor available
  owed := wallet.debt_repaid(w.debt, pend);
  -- reward points not rolled up yet are bonus usable everywhere (unless expired), after the debt too
  pend_bonus := wallet._pending_bonus(w.wallet_id, wallet.clock());
  owed_bonus := wallet.debt_repaid(w.debt - owed, pend_bonus);
  RETURN QUERY SELECT w.wallet_id, w.currency,
    wallet.to_major(t.cash, w.exponent), wallet.to_major(t.bonus + pend_bonus - owed_bonus, w.exponent),
    wallet.to_major(t.earnings + pend - owed, w.exponent), wallet.to_major(t.held, w.exponent),
    wallet.to_major(t.cash + t.bonus + pend_bonus - owed_bonus + t.earnings + pend - owed, w.exponent),
    wallet.to_major(CASE WHEN w.debt > owed + owed_bonus THEN 0 ELSE t.earnings + pend - owed END, w.exponent),
    w.frozen, wallet.to_major(w.debt - owed - owed_bonus, w.exponent);
END $$;

CREATE FUNCTION wallet.balance(wallet_id bigint, scene text DEFAULT NULL)
  RETURNS TABLE (wallet_id bigint, currency text, cash numeric, bonus numeric, earnings numeric,
                 held numeric, available numeric, withdrawable numeric, frozen boolean, debt numeric)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp
  AS $$ SELECT * FROM wallet._balance($1, $2) $$;

CREATE FUNCTION wallet.lots(wallet_id bigint)
  RETURNS TABLE (lot_id int, bucket text, amount numeric, source_txn bigint, granted_at timestamptz,
                 expires_at timestamptz, scope text[], held numeric, refundable_until timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  w wallet.wallet;
  clk timestamptz := wallet.clock();
BEGIN
  IF lots.wallet_id IS NULL THEN PERFORM wallet._fail('22023', 'wallet_id must not be null'); END IF;
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = lots.wallet_id;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('wallet %s does not exist', lots.wallet_id));
  END IF;
  RETURN QUERY
    SELECT l.lot_id, l.bucket, wallet.to_major(l.amount, w.exponent), l.source_txn, l.granted_at,
           CASE WHEN l.bucket = 'bonus' THEN l.until END, l.scope,
           wallet.to_major(l.held, w.exponent),
           CASE WHEN l.bucket = 'cash' AND l.until > clk THEN l.until END
      FROM wallet.lots_list(w.lots) l
     WHERE (l.amount > 0 OR l.held > 0)
       AND NOT (l.bucket = 'bonus' AND coalesce(l.until <= clk, false) AND l.held = 0)
     ORDER BY l.lot_id;
END $$;

CREATE FUNCTION wallet.freeze(wallet_id bigint, reason text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  w wallet.wallet := wallet._lock($1);
BEGIN
  PERFORM wallet._text($2, 'reason', 1000, true);
  UPDATE wallet.wallet x SET frozen = true, frozen_reason = $2, version = x.version + 1
   WHERE x.wallet_id = w.wallet_id;
  INSERT INTO wallet.txn (wallet_id, kind, currency, created_at, request)
  VALUES (w.wallet_id, 'freeze', w.currency, wallet.clock(),
          jsonb_build_object('reason', $2, 'by', session_user));
END $$;

CREATE FUNCTION wallet.unfreeze(wallet_id bigint) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  w wallet.wallet := wallet._lock($1);
BEGIN
  UPDATE wallet.wallet x SET frozen = false, frozen_reason = NULL, version = x.version + 1
   WHERE x.wallet_id = w.wallet_id;
  INSERT INTO wallet.txn (wallet_id, kind, currency, created_at, request)
  VALUES (w.wallet_id, 'unfreeze', w.currency, wallet.clock(), jsonb_build_object('by', session_user));
END $$;

