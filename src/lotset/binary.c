/*
 * binary.c
 *	  The lot set's binary form (COPY BINARY, the binary protocol), send and
 *	  receive.
 */
#include "lotset/lotset_int.h"

PG_FUNCTION_INFO_V1(lotset_recv);
PG_FUNCTION_INFO_V1(lotset_send);

Datum
lotset_send(PG_FUNCTION_ARGS)
{
	LotBuilder *ls = lotset_unpack(PG_GETARG_LOTSET_P(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, ls->next_id);
	pq_sendint32(&buf, ls->nlots);
	for (int i = 0; i < ls->nlots; i++)
	{
		const WalletLot *l = &ls->lots[i];
		const char *scope = ls->scopes[i];

		pq_sendint32(&buf, l->id);
		pq_sendbyte(&buf, l->bucket);
		pq_sendint64(&buf, l->amount);
		pq_sendint64(&buf, l->held);
		pq_sendint64(&buf, l->txn);
		pq_sendint64(&buf, l->granted);
		pq_sendint64(&buf, l->until);
		pq_sendint64(&buf, l->owed);
		pq_sendint64(&buf, l->clawed);
		if (scope)
		{
			pq_sendint32(&buf, (int32) strlen(scope));
			pq_sendbytes(&buf, scope, strlen(scope));
		}
		else
			pq_sendint32(&buf, -1);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
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
		WalletLot  *l;
		int32		id = pq_getmsgint(buf, 4);
		int32		slen;

		if (id <= 0 || id >= next_id)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid lot id %d", id)));
		b.next_id = id;
		l = builder_add(&b, NULL);
		b.next_id = next_id;
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
			b.scopes[i] = pnstrdup(pq_getmsgbytes(buf, slen), slen);
			if (strlen(b.scopes[i]) != (size_t) slen)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
						 errmsg("lot scope contains a NUL byte")));
		}
		else if (slen != -1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid lot scope length")));
	}
	PG_RETURN_LOTSET_P(lotset_pack(&b));
}
