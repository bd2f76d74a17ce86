#!/usr/bin/env node
// Calling the wallet API from Node.js with pg (npm: pg; make deps installs it into ./node_modules).
//
//   WALLET_APP_DSN=postgresql://checkout@host/shop WALLET_READER_DSN=postgresql://reports@host/shop \
//     node examples/node/wallet_example.js
//
// WALLET_APP_DSN logs in as a member of wallet_app (the operations), WALLET_READER_DSN as a member
// of wallet_reader (the journal views); empty, pg reads libpq's PGHOST, PGPORT, PGDATABASE,
// PGUSER. EXAMPLE_RUN names this run (owners and idempotency keys carry it; default: random).
// The same steps as examples/python/wallet_example.py: amounts as strings, ids kept as strings,
// errors by SQLSTATE (err.code), a retry with the same key, balances, the journal as wallet_reader.
'use strict';
const crypto = require('crypto');
const { Client } = require('pg');

// pg returns numeric (amounts) and bigint (ids) as strings by default: keep them so. A JavaScript
// number cannot hold every bigint nor every amount exactly; pass amounts as strings too.
const RUN = process.env.EXAMPLE_RUN || crypto.randomBytes(6).toString('hex');
const INSUFFICIENT_FUNDS = 'WL001';
const KEY_REUSED = 'WL003';
const BAD_ARGUMENT = '22023';

// one runs one call (its own transaction: autocommit) and returns its first row.
async function one(client, sql, params = []) {
  const res = await client.query(sql, params);
  return res.rows[0];
}

// expect runs a call that must fail with the SQLSTATE code, and returns the error.
async function expectError(code, client, sql, params) {
  try {
    await client.query(sql, params);
  } catch (err) {
    if (err.code !== code) throw err;
    return err;
  }
  throw new Error(`expected SQLSTATE ${code}`);
}

async function main() {
  const app = new Client(process.env.WALLET_APP_DSN || undefined);
  const reader = new Client(process.env.WALLET_READER_DSN || process.env.WALLET_APP_DSN || undefined);
  await app.connect();
  await reader.connect();
  try {
    const alice = (await one(app, 'SELECT wallet.open($1, $2) AS id', [`node-${RUN}-alice`, 'CNY'])).id;
    const shop = (await one(app, 'SELECT wallet.open($1, $2) AS id', [`node-${RUN}-shop`, 'CNY'])).id;
    console.log('opened two wallets:', typeof alice, 'ids');

    const top = await one(app, 'SELECT * FROM wallet.top_up($1, $2, $3, method => $4)',
                          [alice, '100.00', `${RUN}-topup-1`, 'card']);
    console.log('top-up: bonus', top.bonus, typeof top.bonus, 'replayed', top.replayed);

    // The key is made once per payment and reused for every retry: a retry returns the first result.
    const key = `${RUN}-order-1001`;
    const spendSql = 'SELECT * FROM wallet.spend($1, $2, $3, scene => $4, payee => $5)';
    const first = await one(app, spendSql, [alice, '30.50', key, 'food', shop]);
    const again = await one(app, spendSql, [alice, '30.50', key, 'food', shop]);
    console.log('spend: charged', first.charged, 'cash', first.cash_used, 'replayed', first.replayed);
    console.log('retry: same txn', again.txn_id === first.txn_id, 'replayed', again.replayed);
    const spendTxn = first.txn_id; // kept: a later reversal names it

    let err = await expectError(INSUFFICIENT_FUNDS, app, 'SELECT * FROM wallet.spend($1, $2, $3)',
                                [alice, '1000', `${RUN}-order-1002`]);
    console.log('WL001:', err.message, '|', err.detail);
    err = await expectError(KEY_REUSED, app, spendSql, [alice, '31', key, 'food', shop]);
    console.log('WL003:', err.message);
    err = await expectError(BAD_ARGUMENT, app, 'SELECT * FROM wallet.top_up($1, $2, $3)',
                            [alice, '0.001', `${RUN}-topup-2`]);
    console.log('22023:', err.message);

    const rev = await one(app, 'SELECT * FROM wallet.reverse_spend($1, $2, $3)', [spendTxn, `${RUN}-reverse-1`, '10']);
    console.log('reversal: cash back', rev.cash_returned);
    for (const [who, id] of [['alice', alice], ['shop', shop]]) {
      const b = await one(app, 'SELECT cash, bonus, earnings, held, available FROM wallet.balance($1)', [id]);
      console.log(`balance ${who}: cash ${b.cash} bonus ${b.bonus} earnings ${b.earnings} held ${b.held} available ${b.available}`);
    }

    // The journal as wallet_reader (for reports and audits).
    const res = await reader.query(`
      SELECT t.kind, t.amount, t.idempotency_key = $1 AS retried_key,
             (SELECT sum(p.amount) FROM wallet.postings p
               WHERE p.txn_id = t.txn_id AND p.account = 'wallet' AND p.wallet_id = t.wallet_id) AS change
        FROM wallet.transactions t WHERE t.wallet_id = $2 ORDER BY t.txn_id`, [key, alice]);
    for (const r of res.rows) {
      console.log(`journal: ${r.kind} amount ${r.amount} change ${r.change}` + (r.retried_key ? ' (the retried key)' : ''));
    }

    // The customer's statement, as wallet_app: newest first, in pages of two joined by keyset
    // (before_txn: the last txn_id of the page before); bucket columns are this wallet's changes.
    let before = null;
    for (;;) {
      const page = await app.query(
        `SELECT txn_id, kind, amount, cash, available_after, counterparty = $1 AS with_shop
           FROM wallet.statement($2, before_txn => $3, max_rows => 2)`, [shop, alice, before]);
      if (page.rows.length === 0) break;
      for (const r of page.rows) {
        console.log(`statement: ${r.kind} amount ${r.amount} cash ${r.cash} available after ${r.available_after}` +
          (r.with_shop ? ' (with the shop)' : ''));
      }
      before = page.rows[page.rows.length - 1].txn_id;
      console.log(page.rows.length === 2 ? 'statement: next page' : 'statement: end');
    }
  } finally {
    await app.end();
    await reader.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
