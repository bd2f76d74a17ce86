#!/usr/bin/env python3
"""Calling the wallet API from Python with psycopg 3 (Debian: python3-psycopg).

    WALLET_APP_DSN='host=... dbname=shop user=checkout' \
    WALLET_READER_DSN='host=... dbname=shop user=reports' python3 examples/python/wallet_example.py

WALLET_APP_DSN logs in as a member of wallet_app (it runs the operations), WALLET_READER_DSN as a
member of wallet_reader (it reads the journal views). EXAMPLE_RUN names this run: owners and
idempotency keys carry it, so two runs never share a key (default: a random one). What it shows,
one step a paragraph below: amounts as Decimal, ids kept from results, errors told apart by
SQLSTATE, a retry with the same idempotency key, balances, and the journal as wallet_reader.
"""
import os
import uuid
from decimal import Decimal

import psycopg

APP_DSN = os.environ.get('WALLET_APP_DSN', '')
READER_DSN = os.environ.get('WALLET_READER_DSN', APP_DSN)
RUN = os.environ.get('EXAMPLE_RUN') or uuid.uuid4().hex[:12]

# The SQLSTATEs of the contract an application handles (CONTRACT section 12).
INSUFFICIENT_FUNDS = 'WL001'
FROZEN = 'WL002'
KEY_REUSED = 'WL003'
NOT_FOUND = 'WL006'
BAD_ARGUMENT = '22023'


def one(conn, sql, params=()):
    """Runs one call in its own transaction and returns its first row as a dict."""
    with conn.transaction():
        cur = conn.execute(sql, params)
        names = [c.name for c in cur.description]
        row = cur.fetchone()
        return dict(zip(names, row)) if row is not None else None


def main():
    with psycopg.connect(APP_DSN, autocommit=True) as app, psycopg.connect(READER_DSN, autocommit=True) as reader:
        # Wallets: open is idempotent on (owner, currency); keep the id it returns.
        alice = one(app, 'SELECT wallet.open(%s, %s) AS id', (f'py-{RUN}-alice', 'CNY'))['id']
        shop = one(app, 'SELECT wallet.open(%s, %s) AS id', (f'py-{RUN}-shop', 'CNY'))['id']
        print('opened two wallets:', type(alice).__name__, 'ids')

        # Amounts go in and come out as Decimal (numeric), never float.
        top = one(app, 'SELECT * FROM wallet.top_up(%s, %s, %s, method => %s)',
                  (alice, Decimal('100.00'), f'{RUN}-topup-1', 'card'))
        print('top-up: bonus', top['bonus'], type(top['bonus']).__name__, 'replayed', top['replayed'])

        # The idempotency key is the application's: made once per payment (stored with the order),
        # reused for every retry. A retry after a lost reply returns the first result, replayed.
        key = f'{RUN}-order-1001'
        first = one(app, 'SELECT * FROM wallet.spend(%s, %s, %s, scene => %s, payee => %s)',
                    (alice, Decimal('30.50'), key, 'food', shop))
        again = one(app, 'SELECT * FROM wallet.spend(%s, %s, %s, scene => %s, payee => %s)',
                    (alice, Decimal('30.50'), key, 'food', shop))
        print('spend: charged', first['charged'], 'cash', first['cash_used'], 'replayed', first['replayed'])
        print('retry: same txn', again['txn_id'] == first['txn_id'], 'replayed', again['replayed'])
        spend_txn = first['txn_id']  # kept: a later reversal names it

        # Errors: catch psycopg.Error and look at its SQLSTATE; the message is lower-case prose,
        # the detail says the numbers. Nothing changed when an operation fails.
        try:
            one(app, 'SELECT * FROM wallet.spend(%s, %s, %s)', (alice, Decimal('1000'), f'{RUN}-order-1002'))
        except psycopg.Error as e:
            if e.sqlstate != INSUFFICIENT_FUNDS:
                raise
            print('WL001:', e.diag.message_primary, '|', e.diag.message_detail)
        try:
            one(app, 'SELECT * FROM wallet.spend(%s, %s, %s, scene => %s, payee => %s)',
                (alice, Decimal('31'), key, 'food', shop))
        except psycopg.Error as e:
            if e.sqlstate != KEY_REUSED:
                raise
            print('WL003:', e.diag.message_primary)
        try:
            one(app, 'SELECT * FROM wallet.top_up(%s, %s, %s)', (alice, Decimal('0.001'), f'{RUN}-topup-2'))
        except psycopg.Error as e:
            if e.sqlstate != BAD_ARGUMENT:
                raise
            print('22023:', e.diag.message_primary)

        # A partial reversal of the kept spend, then the balances.
        rev = one(app, 'SELECT * FROM wallet.reverse_spend(%s, %s, %s)', (spend_txn, f'{RUN}-reverse-1', Decimal('10')))
        print('reversal: cash back', rev['cash_returned'])
        for who, wid in (('alice', alice), ('shop', shop)):
            b = one(app, 'SELECT cash, bonus, earnings, held, available FROM wallet.balance(%s)', (wid,))
            print(f'balance {who}: cash {b["cash"]} bonus {b["bonus"]} earnings {b["earnings"]} '
                  f'held {b["held"]} available {b["available"]}')

        # The journal, as wallet_reader (for reports and audits): the wallet's transactions in
        # order, amounts in major units through wallet.postings.
        with reader.cursor() as cur:
            cur.execute("""
                SELECT t.kind, t.amount, t.idempotency_key = %s AS retried_key,
                       (SELECT sum(p.amount) FROM wallet.postings p
                         WHERE p.txn_id = t.txn_id AND p.account = 'wallet' AND p.wallet_id = t.wallet_id) AS change
                  FROM wallet.transactions t WHERE t.wallet_id = %s ORDER BY t.txn_id""", (key, alice))
            for kind, amount, retried_key, change in cur:
                print(f'journal: {kind} amount {amount} change {change}' + (' (the retried key)' if retried_key else ''))

        # The customer's statement, as wallet_app: newest first, in pages of two joined by keyset
        # (before_txn: the last txn_id of the page before); bucket columns are this wallet's changes.
        before = None
        while True:
            rows = app.execute(
                'SELECT txn_id, kind, amount, cash, available_after, counterparty = %s AS with_shop '
                'FROM wallet.statement(%s, before_txn => %s, max_rows => 2)', (shop, alice, before)).fetchall()
            if not rows:
                break
            for _, kind, amount, cash, after, with_shop in rows:
                print(f'statement: {kind} amount {amount} cash {cash} available after {after}'
                      + (' (with the shop)' if with_shop else ''))
            before = rows[-1][0]
            print('statement: next page' if len(rows) == 2 else 'statement: end')


if __name__ == '__main__':
    main()
