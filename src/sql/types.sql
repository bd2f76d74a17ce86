------------------------------------------------------------------------------
-- The lot set type
------------------------------------------------------------------------------
CREATE TYPE wallet.lotset;

CREATE FUNCTION wallet.lotset_in(cstring) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lotset_out(wallet.lotset) RETURNS cstring
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lotset_recv(internal) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lotset_send(wallet.lotset) RETURNS bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE wallet.lotset (
  INPUT = wallet.lotset_in,
  OUTPUT = wallet.lotset_out,
  RECEIVE = wallet.lotset_recv,
  SEND = wallet.lotset_send,
  INTERNALLENGTH = VARIABLE,
  ALIGNMENT = double,
  STORAGE = extended
);
COMMENT ON TYPE wallet.lotset IS 'a wallet''s live lots (cash, bonus, earnings) with their netting counters';

-- One journal leg. amount is in minor units, positive into a wallet.
CREATE TYPE wallet.posting AS (account text, wallet_id bigint, bucket text, amount bigint);

