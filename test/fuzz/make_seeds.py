#!/usr/bin/env python3
"""Write the hand-made seed inputs of the fuzz targets into test/fuzz/corpus/<target>/seed-*.

Valid and malformed lot sets (text and binary), amounts, and a few engine
stories. Run once when changing the seeds; `run.sh merge` keeps them (they
are small and each covers something) unless libFuzzer finds them redundant.
"""
import datetime
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

TEXT = {
    "empty": "next=1",
    "one-cash": "next=2; (1 cash 100 txn=1 at=2026-01-01T00:00:00Z)",
    "topup-bonus-owed": "next=3; (1 cash 10000 txn=7 at=2026-01-01T00:00:00Z until=2026-01-31T00:00:00Z owed=500); "
    "(2 bonus 500 txn=7 at=2026-01-01T00:00:00Z until=2026-01-08T12:30:00.500000Z scope=game,mall)",
    "refund-held": "next=4; (1 cash 7000 held=3000 txn=7 at=2026-01-01T00:00:00Z until=2026-01-31T00:00:00Z clawed=500); "
    "(2 bonus 0 held=500 txn=7 at=2026-01-01T00:00:00Z until=2026-01-08T12:30:00.5Z scope=game,mall); "
    "(3 earnings 2500 txn=9 at=2026-01-02T08:00:00Z)",
    "unordered-spaces": "next=9;(5 earnings 300 txn=4 at=2026-01-02T00:00:00Z) ;  "
    "(2 bonus 150 txn=3 at=2026-01-01T00:00:00Z until=2026-01-08T00:00:00.25Z scope=game)",
    "extremes": "next=2147483647; (2147483646 bonus 1000000000000000000 txn=9223372036854775807 "
    "at=9999-12-31T23:59:59.999999Z until=0001-01-01T00:00:00Z)",
    "all-fields-zero": "next=3;\t(1 cash 5 held=0 txn=2 at=2026-01-01T00:00:00Z until=2026-01-01T00:00:00.1Z owed=0 clawed=0)",
    "leap-day": "next=2; (1 cash 100 txn=1 at=2024-02-29T23:59:59.000001Z)",
    "scene-chars": "next=2; (1 bonus 1 txn=1 at=2026-01-01T00:00:00Z scope=a:b.c-d_e)",
    "long-scope": "next=2; (1 bonus 1 txn=1 at=2026-01-01T00:00:00Z scope=" + ",".join(["s" * 64] * 63) + ")",
    "shared-scopes": "next=6; " + "; ".join(
        "(%d bonus %d txn=%d at=2026-01-01T00:00:00Z until=2026-02-0%dT00:00:00Z scope=%s)"
        % (i, i * 10, i, i, "game,mall" if i % 2 else "shop") for i in range(1, 6)),
    "duplicate-field": "next=2; (1 cash 1 txn=1 txn=2 at=2026-01-01T00:00:00Z at=2026-01-02T00:00:00Z)",
    "newlines": "next=3\n;\n(1 cash 1 txn=1 at=2026-01-01T00:00:00Z)\r\n; (2 earnings 2 txn=1 at=2026-01-01T00:00:00Z)\n",
    # malformed
    "bad-bucket": "next=2; (1 gold 100 txn=1 at=2026-01-01T00:00:00Z)",
    "no-txn": "next=2; (1 cash 100 at=2026-01-01T00:00:00Z)",
    "no-at": "next=2; (1 cash 100 txn=1)",
    "negative-amount": "next=2; (1 cash -100 txn=1 at=2026-01-01T00:00:00Z)",
    "negative-held": "next=2; (1 cash 100 held=-1 txn=1 at=2026-01-01T00:00:00Z)",
    "id-not-below-next": "next=2; (2 cash 100 txn=1 at=2026-01-01T00:00:00Z)",
    "id-zero": "next=2; (0 cash 100 txn=1 at=2026-01-01T00:00:00Z)",
    "duplicate-id": "next=3; (1 cash 100 txn=1 at=2026-01-01T00:00:00Z); (1 bonus 5 txn=1 at=2026-01-01T00:00:00Z)",
    "feb-30": "next=2; (1 cash 100 txn=1 at=2026-02-30T00:00:00Z)",
    "space-not-T": "next=2; (1 cash 100 txn=1 at=2026-01-01 00:00:00)",
    "no-Z": "next=2; (1 cash 100 txn=1 at=2026-01-01T00:00:00)",
    "seven-decimals": "next=2; (1 cash 100 txn=1 at=2026-01-01T00:00:00.1234567Z)",
    "hour-24": "next=2; (1 cash 100 txn=1 at=2026-01-01T24:00:00Z)",
    "year-0": "next=2; (1 cash 100 txn=1 at=0000-01-01T00:00:00Z)",
    "empty-scene": "next=2; (1 bonus 1 txn=1 at=2026-01-01T00:00:00Z scope=a,,b)",
    "scope-on-cash": "next=2; (1 cash 1 txn=1 at=2026-01-01T00:00:00Z scope=game)",
    "owed-on-bonus": "next=2; (1 bonus 1 txn=1 at=2026-01-01T00:00:00Z owed=1)",
    "scene-65": "next=2; (1 bonus 1 txn=1 at=2026-01-01T00:00:00Z scope=" + "s" * 65 + ")",
    "scope-too-long": "next=2; (1 bonus 1 txn=1 at=2026-01-01T00:00:00Z scope=" + ",".join(["s" * 64] * 64) + ")",
    "non-ascii-scope": "next=2; (1 bonus 1 txn=1 at=2026-01-01T00:00:00Z scope=\u00e9t\u00e9)",
    "next-huge": "next=99999999999999999999",
    "next-above-int32": "next=4294967297; (5 cash 1 txn=1 at=2026-01-01T00:00:00Z)",
    "next-negative": "next=-5",
    "amount-int64-max": "next=3; (1 earnings 9223372036854775807 txn=1 at=2026-01-01T00:00:00Z)",
    "amount-overflow": "next=3; (1 earnings 9223372036854775808 txn=1 at=2026-01-01T00:00:00Z)",
    "trailing": "next=2; (1 bonus 1 txn=1 at=2026-01-01T00:00:00Z scope=x) trailing",
    "unclosed": "next=2; (1 cash 1 txn=1 at=2026-01-01T00:00:00Z",
    "unknown-field": "next=2; (1 cash 1 txn=1 at=2026-01-01T00:00:00Z colour=red)",
    "word-too-long": "next=2; (1 cashcashcashcashcash 1 txn=1 at=2026-01-01T00:00:00Z)",
    "spaced-out": "next = 2 ; ( 1 cash 1 txn = 1 at = 2026 - 01 - 01 T 00 : 00 : 00Z )",
    "only-semicolon": "next=1;",
    "blank": "   ",
}

DAY = 86400 * 10**6
EPOCH = datetime.datetime(2000, 1, 1)
NOEND = 2**63 - 1
NOBEGIN = -2**63


def ts(s):
    """Microseconds since 2000-01-01 UTC of an ISO time without zone."""
    d = datetime.datetime.fromisoformat(s) - EPOCH
    return (d.days * 86400 + d.seconds) * 10**6 + d.microseconds


def lot(id, bucket, amount, txn, granted, until=NOEND, held=0, owed=0, clawed=0, scope=None, slen=None):
    b = struct.pack(">iB", id, bucket) + struct.pack(">7q", amount, held, txn, granted, until, owed, clawed)
    if scope is None:
        return b + struct.pack(">i", -1 if slen is None else slen)
    return b + struct.pack(">i", len(scope) if slen is None else slen) + scope


def lotset(next_id, lots, n=None):
    return struct.pack(">ii", next_id, len(lots) if n is None else n) + b"".join(lots)


T = ts("2026-01-01T00:00:00")
BINARY = {
    "empty": lotset(1, []),
    "one-cash": lotset(2, [lot(1, 0, 100, 1, T)]),
    "topup-bonus": lotset(3, [lot(1, 0, 10000, 7, T, T + 30 * DAY, owed=500),
                              lot(2, 1, 500, 7, T, T + 7 * DAY + 500000, scope=b"game,mall")]),
    "refund-held": lotset(4, [lot(1, 0, 7000, 7, T, T + 30 * DAY, held=3000, clawed=500),
                              lot(2, 1, 0, 7, T, T + 7 * DAY, held=500, scope=b"game,mall"),
                              lot(3, 2, 2500, 9, T + DAY)]),
    "unordered": lotset(9, [lot(5, 2, 300, 4, T), lot(2, 1, 150, 3, T, T + DAY, scope=b"game")]),
    # malformed
    "short": lotset(2, [lot(1, 0, 100, 1, T)])[:-5],
    "trailing": lotset(2, [lot(1, 0, 100, 1, T)]) + b"\x00",
    "bad-bucket": lotset(2, [lot(1, 7, 100, 1, T)]),
    "nul-in-scope": lotset(2, [lot(1, 1, 100, 1, T, scope=b"ga\x00me")]),
    "scope-len-lies": lotset(2, [lot(1, 1, 100, 1, T, scope=b"game", slen=400)]),
    "scope-len-minus-2": lotset(2, [lot(1, 1, 100, 1, T, slen=-2)]),
    "n-too-big": lotset(2, [lot(1, 0, 100, 1, T)], n=100001),
    "n-more-than-sent": lotset(2, [lot(1, 0, 100, 1, T)], n=3),
    "n-negative": lotset(2, [], n=-1),
    "next-zero": lotset(0, []),
    "id-negative": lotset(2, [lot(-1, 0, 100, 1, T)]),
    "duplicate-id": lotset(3, [lot(1, 0, 100, 1, T), lot(1, 2, 5, 1, T)]),
    "granted-infinite": lotset(2, [lot(1, 0, 100, 1, NOEND)]),
    "until-minus-infinity": lotset(2, [lot(1, 1, 100, 1, T, NOBEGIN)]),
    "until-year-20000": lotset(2, [lot(1, 1, 100, 1, T, ts("9999-12-31T00:00:00") + 3650000 * DAY)]),
    "granted-bc": lotset(2, [lot(1, 0, 100, 1, -2005 * 366 * DAY)]),
}

MONEY = {
    "cny": (2, "12.34"), "cent": (2, "0.01"), "max": (2, "10000000000000.00"), "max-jpy": (0, "1000000000000000"),
    "above-max": (2, "10000000000000.01"), "kwd": (3, "0.125"), "too-many-decimals": (2, "1.001"),
    "trailing-zeros": (2, "1.5000000"), "zero": (2, "0"), "zero-decimals": (2, "0.000"), "negative": (2, "-1"),
    "negative-zero": (2, "-0.00"), "nan": (2, "NaN"), "inf": (2, "Infinity"), "minus-inf": (2, "-Infinity"),
    "huge": (6, "123456789012345678901234567890.5"), "exp6": (6, "0.000001"), "exp-minus-5": (240, "1"),
    "exp7": (252, "1"), "garbage": (2, "1.2.3"), "sci": (2, "1e5"),
}


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def engine_seeds():
    # byte 0: mode (story unless % 4 == 0), bytes 1-2: start day; then steps (op byte % 12, operands)
    topup = [0, 2, 1, 0x40]            # op 0, window 30 days + 1 bonus group, amount scale 1 (5 bytes)
    stories = {
        "topup-spend-reverse": [1, 0, 0] + [0, 6, 1, 1, 0, 0, 0, 0, 3, 0, 0, 1, 1, 0, 0, 0, 0]
        + [3, 1, 2, 0x50, 0, 0, 0, 0, 0, 0, 0] + [5, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0] + [10, 0, 0],
        "refund-release": [1, 0, 0] + [0, 2, 1, 0x10, 0x27, 0, 0, 0] + [6, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0]
        + [7, 0, 1] + [10, 0, 1],
        "refund-settle-expire": [2, 5, 0] + [0, 6, 1, 9, 0, 0, 0, 0, 0, 1, 0x60, 0, 0, 0, 4]
        + [3, 0, 0] + [6, 0, 1] + [9, 4] + [8] + [7, 0, 0] + [10, 0, 2],
        "raw-start": [0, 0, 0, 5, 0x21, 1, 1, 10, 2, 3, 0x42, 1, 2, 0, 5, 1, 0x80, 1, 2, 3, 7, 9, 1, 3, 0, 5],
        "hostile": [3, 0, 0] + topup + [11, 4, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] * 3,
    }
    for name, b in stories.items():
        write("engine", name, bytes(b))


ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def coupon(symbols):
    v = [ALPHABET.index(c) for c in symbols]
    v.append((31 - sum((i + 1) * x for i, x in enumerate(v)) % 31) % 31)
    code = "".join(ALPHABET[x] for x in v)
    return "-".join(code[i:i + 6] for i in range(0, 18, 6))


def coupon_seeds():
    good = coupon("K7M2Q9XH4RTWB8CZP")
    texts = {
        "valid": good, "lower": good.lower(), "spaces": good.replace("-", " "), "bare": good.replace("-", ""),
        "wrong-check": good[:-1] + ("2" if good[-1] != "2" else "3"), "swap": good[1] + good[0] + good[2:],
        "too-long": good + "2", "too-short": good[:-2], "look-alike-O": good.replace(good[0], "O", 1),
        "empty": "", "dashes": "------",
    }
    for name, text in texts.items():
        write("coupon", "check-" + name, b"\x00" + text.encode())
    write("coupon", "new", b"\x01" + bytes(range(0, 256, 7)))
    write("coupon", "new-rejections", b"\x01" + bytes([255] * 40) + bytes(range(40)))
    write("coupon", "new-random-fails", b"\x07")


def main():
    for name, text in TEXT.items():
        write("lotset_in", name, text.encode())
    for name, b in BINARY.items():
        write("lotset_recv", name, b)
    for name, (exp, text) in MONEY.items():
        write("money", name, bytes([exp]) + text.encode())
    engine_seeds()
    coupon_seeds()


if __name__ == "__main__":
    main()
