/*
 * binary.c
 *	  The lot set's binary form (COPY BINARY, the binary protocol), send and
 *	  receive.
 */
#include "lotset/lotset_int.h"

PG_FUNCTION_INFO_V1(lotset_recv);
PG_FUNCTION_INFO_V1(lotset_send);

/* send_lot writes one lot: id, bucket, the seven numbers and the scope (-1: none). */
static void
send_lot(StringInfo buf, const WalletLot *l, const char *scope)
{
	pq_sendint32(buf, l->id);
	pq_sendbyte(buf, l->bucket);
	pq_sendint64(buf, l->amount);
	pq_sendint64(buf, l->held);
	pq_sendint64(buf, l->txn);
	pq_sendint64(buf, l->granted);
	pq_sendint64(buf, l->until);
	pq_sendint64(buf, l->owed);
	pq_sendint64(buf, l->clawed);
	if (scope)
	{
		pq_sendint32(buf, (int32) strlen(scope));
		pq_sendbytes(buf, scope, strlen(scope));
	}
	else
		pq_sendint32(buf, -1);
}

/*
 * lotset_send: next id, the lots, then (only when there are any, so that a
 * set without them reads as before) the count of reservations and each as
 * its hold id, expiry and lot.
 */
Datum
lotset_send(PG_FUNCTION_ARGS)
{
	LotBuilder *ls = lotset_unpack(PG_GETARG_LOTSET_P(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, ls->next_id);
	pq_sendint32(&buf, ls->nlots);
	for (int i = 0; i < ls->nlots; i++)
		send_lot(&buf, &ls->lots[i], ls->scopes[i]);
	if (ls->nres > 0)
	{
		pq_sendint32(&buf, ls->nres);
		for (int i = 0; i < ls->nres; i++)
		{
			pq_sendint64(&buf, ls->res[i].hold);
			pq_sendint64(&buf, ls->res[i].expires);
			send_lot(&buf, &ls->res[i].lot, ls->res[i].scope);
		}
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* recv_lot reads one lot (send_lot) into l and its scope. */
static void
recv_lot(StringInfo buf, WalletLot *l, char **scope)
{
	int32		slen;

	l->bucket = pq_getmsgbyte(buf);
	l->amount = pq_getmsgint64(buf);
	l->held = pq_getmsgint64(buf);
	l->txn = pq_getmsgint64(buf);
	l->granted = pq_getmsgint64(buf);
	l->until = pq_getmsgint64(buf);
	l->owed = pq_getmsgint64(buf);
	l->clawed = pq_getmsgint64(buf);
	slen = pq_getmsgint(buf, 4);
	if (slen >= 0)
	{
		if (slen > WALLET_MAX_SCOPE_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("lot scope too long")));
		*scope = pnstrdup(pq_getmsgbytes(buf, slen), slen);
		if (strlen(*scope) != (size_t) slen)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("lot scope contains a NUL byte")));
	}
	else if (slen != -1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid lot scope length")));
}

/* lot_id reads a lot id below next_id. */
static int32
lot_id(StringInfo buf, int32 next_id)
{
	int32		id = pq_getmsgint(buf, 4);

	if (id <= 0 || id >= next_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid lot id %d", id)));
	return id;
}

Datum
lotset_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	LotBuilder	b = {0};
	int32		next_id = pq_getmsgint(buf, 4);
	int32		n = pq_getmsgint(buf, 4);

	if (next_id < 1 || n < 0 || n > WALLET_MAX_LOTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid lot set header")));
	b.cap = Max(n, 1);
	b.lots = palloc(sizeof(WalletLot) * b.cap);
	b.scopes = palloc0(sizeof(char *) * b.cap);
	b.next_id = next_id;
	for (int i = 0; i < n; i++)
	{
		int32		id = lot_id(buf, next_id);

		b.next_id = id;
		builder_add(&b, NULL);
		b.next_id = next_id;
		recv_lot(buf, &b.lots[i], &b.scopes[i]);
	}
	if (buf->cursor < buf->len)
	{
		int32		nres = pq_getmsgint(buf, 4);

		if (nres <= 0 || nres > WALLET_MAX_LOTS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid reservation count")));
		for (int i = 0; i < nres; i++)
		{
			Reservation *v = builder_add_reservation(&b);

			v->hold = pq_getmsgint64(buf);
			v->expires = pq_getmsgint64(buf);
			v->lot.id = lot_id(buf, next_id);
			recv_lot(buf, &v->lot, &v->scope);
		}
	}
	PG_RETURN_LOTSET_P(lotset_pack(&b));
}
