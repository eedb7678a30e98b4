/* The packet loops of pcap.py and pcapng.py, and the pairing of a flow's two directions into
 * packed rows (packed.py's pair_rows and _pack_rows), the endpoint tally (endpoints.py's
 * _tally_rows), and the report's time texts (report/times.py's iso_times), compiled.
 *
 * Why C: the pure-Python loops cost about 0.75 CPU s per million packets, most of a small-packet
 * audit, and by instruction counts they were at a local optimum. This file does exactly what
 * the Python loops do, record by record, with the same Python objects in the flow records (ints
 * stay ints, times are the same doubles), and calls the same Python callables for everything
 * else: FlowTable.add_untabled and look for a direction the tables do not hold, decode_packet
 * for a frame that is not Ethernet/IPv4|IPv6/TCP|UDP. The Python loops stay as the fallback
 * (a build without a compiler) and as the oracle the tests compare this against.
 *
 * The input is hostile: every read is bounds-checked against the filled part of the buffer,
 * which is held through the buffer protocol for the whole call.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <limits.h>
#include <stdint.h>

#define MAX_CAPLEN (256 * 1024) /* fastpath.MAX_CAPLEN: a record claiming more is damage */
#define EPB 6                   /* pcapng enhanced packet block */
#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86DD
#define ETH_VLAN 0x8100
#define FRAG_MASK 0x3FFF /* IPv4 MF flag and fragment offset */
#define ETHERNET 1      /* link type: the fast loops run on Ethernet only */

/* Indexes into a direction's record, as in records.py. */
#define PACKETS 0
#define BYTES 1
#define FIRST_TS 2
#define LAST_TS 3
#define FIRST_FRAME 4
#define SYN 5
#define RECORD_FIELDS 6

/* Bytes of a frame a caller guarantees readable (maybe past the frame's end: every test on a
 * field past the captured length is refused by a length test, as in the Python loops). */
#define FRAME_HEAD 48

static inline uint32_t
u32(const unsigned char *p, int little)
{
    if (little)
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline unsigned
be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

#define MAX_TUNNEL_PORTS 8

/* What one call of a loop works with; every object is borrowed from the call's arguments. */
typedef struct {
    PyObject *buf;             /* the bytearray: look() reads payloads from it */
    const unsigned char *data; /* its bytes, exported for the whole call */
    PyObject *ft;              /* the flow table */
    /* fastpath.Directions: ft.tables[6], [17], ft.taps[6], [17], and the callables */
    PyObject *tcp, *udp, *tcp_taps, *udp_taps, *add, *look;
    Py_ssize_t tcp_budget, quic_budget, udp_budget; /* taps.TAP_PACKETS, QUIC_, UDP_ */
    PyObject *kinds, *hellos; /* ft.kinds and ft.hellos: what look() would compare with */
    /* The UDP ports look() acts on whatever the payload: taps.DNS_PORT, taps.QUIC_PORT and
     * tunnels.UDP_TUNNEL_WIRE_PORTS, as numbers */
    Py_ssize_t dns_port, quic_port;
    PyObject *tunnel_ports;
    unsigned tunnels[MAX_TUNNEL_PORTS];
    Py_ssize_t n_tunnels;
    PyObject *decode;
} Loop;

static PyObject *ZERO, *ONE; /* the int objects the Python loops compare with and store */
static PyObject *FLOWS, *MAX_FLOWS, *ORPHANS, *FIRSTS; /* FlowTable's attribute names */
static PyObject *ADD; /* _Tally's method name */

/* "(...)" of PyArg_ParseTuple for a fastpath.Directions, and where its fields go. */
#define DIRECTIONS "(O!O!O!O!OO(nnn)O!O!(nnO!))"
#define DIRECTIONS_INTO(lp)                                                                    \
    &PyDict_Type, &(lp).tcp, &PyDict_Type, &(lp).udp, &PyDict_Type, &(lp).tcp_taps,          \
        &PyDict_Type, &(lp).udp_taps, &(lp).add, &(lp).look, &(lp).tcp_budget,                \
        &(lp).quic_budget, &(lp).udp_budget, &PyDict_Type, &(lp).kinds, &PyDict_Type,         \
        &(lp).hellos, &(lp).dns_port, &(lp).quic_port, &PyTuple_Type, &(lp).tunnel_ports

/* The tunnel ports of a Directions, as numbers the loop compares with. */
static int
read_tunnel_ports(Loop *lp)
{
    Py_ssize_t n = PyTuple_GET_SIZE(lp->tunnel_ports);
    if (n > MAX_TUNNEL_PORTS) {
        PyErr_SetString(PyExc_ValueError, "more UDP tunnel ports than the loop holds");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long port = PyLong_AsLong(PyTuple_GET_ITEM(lp->tunnel_ports, i));
        if (port == -1 && PyErr_Occurred())
            return -1;
        lp->tunnels[i] = (unsigned)port;
    }
    lp->n_tunnels = n;
    return 0;
}

/* Python's `if t > o` for a record's time: a float compare, or Python's own for anything else. */
static int
later(double t, PyObject *o, int op)
{
    if (PyFloat_CheckExact(o)) {
        double d = PyFloat_AS_DOUBLE(o);
        return op == Py_GT ? t > d : t < d;
    }
    PyObject *f = PyFloat_FromDouble(t);
    if (f == NULL)
        return -1;
    int res = PyObject_RichCompareBool(f, o, op);
    Py_DECREF(f);
    return res;
}

/* record[i] += by (ints stay ints, however large). */
static int
add_to(PyObject *record, Py_ssize_t i, PyObject *by)
{
    PyObject *old = PyList_GET_ITEM(record, i);
    Py_INCREF(old);
    PyObject *sum = PyNumber_InPlaceAdd(old, by); /* `+=`, as the Python loops write it */
    Py_DECREF(old);
    if (sum == NULL)
        return -1;
    return PyList_SetItem(record, i, sum); /* bounds-checked: the add may have run Python */
}

static int
set_time(PyObject *record, Py_ssize_t i, double t)
{
    PyObject *f = PyFloat_FromDouble(t);
    if (f == NULL)
        return -1;
    return PyList_SetItem(record, i, f);
}

/* records.count_packet on a direction the tables hold: the hot path of every loop. */
static int
count_known(PyObject *record, PyObject *nbytes, double t, int syn)
{
    if (!PyList_CheckExact(record) || PyList_GET_SIZE(record) < RECORD_FIELDS) {
        PyErr_SetString(PyExc_TypeError, "a flow record is not a list of its six counters");
        return -1;
    }
    if (add_to(record, PACKETS, ONE) < 0 || add_to(record, BYTES, nbytes) < 0)
        return -1;
    int res = later(t, PyList_GET_ITEM(record, LAST_TS), Py_GT);
    if (res > 0)
        res = set_time(record, LAST_TS, t);
    else if (res == 0) {
        res = later(t, PyList_GET_ITEM(record, FIRST_TS), Py_LT);
        if (res > 0)
            res = set_time(record, FIRST_TS, t);
    }
    if (res < 0)
        return -1;
    if (syn) {
        Py_INCREF(ONE);
        return PyList_SetItem(record, SYN, ONE);
    }
    return 0;
}

/* A record, [packets, bytes, first_ts, last_ts, first_frame, syn]: its times are one float. */
static PyObject *
new_record(PyObject *nbytes, double t, long long frame, int syn)
{
    PyObject *record = PyList_New(RECORD_FIELDS);
    PyObject *ts = PyFloat_FromDouble(t);
    PyObject *nframe = PyLong_FromLongLong(frame);
    if (record == NULL || ts == NULL || nframe == NULL) {
        Py_XDECREF(record);
        Py_XDECREF(ts);
        Py_XDECREF(nframe);
        return NULL;
    }
    PyObject *fields[] = {ONE, nbytes, ts, ts, nframe, syn ? ONE : ZERO};
    for (Py_ssize_t i = 0; i < RECORD_FIELDS; i++) {
        Py_INCREF(fields[i]);
        PyList_SET_ITEM(record, i, fields[i]);
    }
    Py_DECREF(ts);
    Py_DECREF(nframe);
    /* Numbers only, now and later (ACK_TS appends one more): no reference cycle can pass
     * through a record, so the cyclic collector need not walk it. A port scan makes a million
     * and each full collection walked them all again (7% of reading 400k new directions). */
    PyObject_GC_UnTrack(record);
    return record;
}

/* add_untabled for a tapped direction's packet that reaches no budget (the TCP direction's
 * second packet, which may be the ACK of its SYN, goes to Python too): counted in place, and
 * its index among the direction's packets returned. NULL without an error: Python's case. */
static PyObject *
count_tapped(Loop *lp, PyObject *record, int proto, PyObject *nbytes, double t, int syn)
{
    if (!PyList_CheckExact(record) || PyList_GET_SIZE(record) < RECORD_FIELDS)
        return NULL;
    PyObject *packets = PyList_GET_ITEM(record, PACKETS);
    int overflow = 0;
    long long index = PyLong_CheckExact(packets) ? PyLong_AsLongLongAndOverflow(packets, &overflow)
                                                 : -1;
    if (index < 0 || overflow)
        return NULL;
    /* A UDP direction's QUIC budget spent: add_untabled drops its open Initials, if any. */
    int python = proto == 6 ? index == 1 || index + 1 >= lp->tcp_budget
                            : (index + 1 == lp->quic_budget && PyDict_GET_SIZE(lp->hellos))
                                  || index + 1 >= lp->udp_budget;
    if (python)
        return NULL;
    Py_INCREF(packets); /* int(record[PACKETS]) is this very int */
    Py_INCREF(record);
    int res = count_known(record, nbytes, t, syn);
    Py_DECREF(record);
    if (res < 0) {
        Py_DECREF(packets);
        return NULL;
    }
    return packets;
}

/* ft.firsts[key] = ts when ft.orphans is not None: a range that starts mid-file keeps the time
 * of a TCP direction's first packet when it was no SYN (see flowtable._ack_across). */
static int
note_first(Loop *lp, PyObject *key, PyObject *ts)
{
    PyObject *orphans = PyObject_GetAttr(lp->ft, ORPHANS);
    if (orphans == NULL)
        return -1;
    int mid_file = orphans != Py_None;
    Py_DECREF(orphans);
    if (!mid_file)
        return 0;
    PyObject *firsts = PyObject_GetAttr(lp->ft, FIRSTS);
    if (firsts == NULL)
        return -1;
    int res = PyObject_SetItem(firsts, key, ts);
    Py_DECREF(firsts);
    return res;
}

/* add_untabled for a new direction while the table has room: ft.flows += 1, the time of a TCP
 * direction's first packet noted when it is no SYN in a range that starts mid-file, and the
 * record tapped (every TCP and UDP direction is); index 0. NULL without an error: full. */
static PyObject *
count_new(Loop *lp, PyObject *taps, int proto, PyObject *key, PyObject *nbytes, double t,
          int syn, long long frame)
{
    PyObject *flows = PyObject_GetAttr(lp->ft, FLOWS);
    PyObject *max_flows = PyObject_GetAttr(lp->ft, MAX_FLOWS);
    PyObject *more = NULL, *record = NULL, *index = NULL;
    if (flows == NULL || max_flows == NULL)
        goto done;
    int full = PyObject_RichCompareBool(flows, max_flows, Py_GE);
    if (full != 0) /* full (the spill, when_full: Python's), or an error */
        goto done;
    more = PyNumber_InPlaceAdd(flows, ONE);
    if (more == NULL || PyObject_SetAttr(lp->ft, FLOWS, more) < 0)
        goto done;
    record = new_record(nbytes, t, frame, syn);
    if (record == NULL)
        goto done;
    if (proto == 6 && !syn) {
        int res = note_first(lp, key, PyList_GET_ITEM(record, FIRST_TS));
        if (res < 0)
            goto done;
    }
    if (PyDict_SetItem(taps, key, record) < 0)
        goto done;
    index = Py_NewRef(ZERO);
done:
    Py_XDECREF(flows);
    Py_XDECREF(max_flows);
    Py_XDECREF(more);
    Py_XDECREF(record);
    return index;
}

/* The common cases of FlowTable.add_untabled, in C (a port scan is nothing but new directions,
 * and every packet of a young direction comes here): the index it returns, or NULL without an
 * error for the cases left to it (a budget reached, a full table). */
static PyObject *
add_here(Loop *lp, int proto, PyObject *key, PyObject *nbytes, double t, int syn,
         long long frame)
{
    PyObject *taps = proto == 17 ? lp->udp_taps : lp->tcp_taps;
    PyObject *record = PyDict_GetItemWithError(taps, key);
    if (record != NULL)
        return count_tapped(lp, record, proto, nbytes, t, syn);
    if (PyErr_Occurred())
        return NULL;
    return count_new(lp, taps, proto, key, nbytes, t, syn, frame);
}

/* PayloadKind bits (auditor/role_records.py), as roles.payload_kind gives them. */
#define KIND_RTP 1
#define KIND_RTCP 2
#define KIND_ZOOM_MEDIA 4
#define KIND_STUN 8
#define KIND_TURN 16
#define KIND_DTLS 32
#define KIND_QUIC 256

static inline uint32_t
be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* roles._stun_kind: the message types stun.CLASSIC_TYPES lists, and roles._TURN_METHODS. */
static unsigned
stun_kind(const unsigned char *p, Py_ssize_t n)
{
    static const unsigned classic_types[] = {
        0x0001, 0x0101, 0x0111, 0x0002, 0x0102, 0x0112, 0x0003, 0x0103, 0x0113, 0x0004, 0x0104,
        0x0114, 0x0115, 0x0016, 0x0017, 0x0008, 0x0108, 0x0118, 0x0009, 0x0109, 0x0119};
    if (n < 20)
        return 0;
    unsigned kind = be16(p);
    int classic = be32(p + 4) != 0x2112A442; /* the magic cookie */
    if (classic) {
        int known = 0;
        for (size_t i = 0; i < sizeof classic_types / sizeof classic_types[0]; i++)
            known |= classic_types[i] == kind;
        if (!known)
            return 0;
    }
    Py_ssize_t length = be16(p + 2);
    if (20 + length > n || (length % 4 && 20 + length != n))
        return 0;
    if (classic && 20 + length != n)
        return 0;
    unsigned method = (kind & 0x000F) | ((kind & 0x00E0) >> 1) | ((kind & 0x3E00) >> 2);
    int turn = method == 3 || method == 4 || (method >= 6 && method <= 9);
    return KIND_STUN | (turn ? KIND_TURN : 0);
}

/* roles._rtp */
static unsigned
rtp_kind(const unsigned char *p, Py_ssize_t n)
{
    if (n < 12 || p[0] < 128 || p[0] > 191)
        return 0;
    if (p[1] >= 200 && p[1] <= 206)
        return KIND_RTCP;
    unsigned type = p[1] & 0x7F;
    if ((type < 35 || type >= 96) && be32(p + 8) != 0)
        return KIND_RTP;
    return 0;
}

/* roles._udp_kind, for a payload of ``n`` bytes (roles.payload_kind's length test first). The
 * tests compare it with the Python over every first byte, STUN type, version and length. */
static unsigned
udp_kind(const unsigned char *p, Py_ssize_t n)
{
    if (n < 4)
        return 0;
    unsigned first = p[0];
    if (first < 4)
        return stun_kind(p, n);
    if (first >= 0x40 && first <= 0x4F) { /* TURN ChannelData */
        Py_ssize_t length = be16(p + 2), padded = 4 + (length + 3) / 4 * 4;
        return (n == 4 + length || n == padded) && length ? KIND_TURN : 0;
    }
    if (first >= 20 && first <= 63) {
        if (n < 13 || first > 25)
            return 0;
        unsigned version = be16(p + 1);
        return version == 0xFEFF || version == 0xFEFD || version == 0xFEFC ? KIND_DTLS : 0;
    }
    if (first >= 128 && first <= 191)
        return rtp_kind(p, n);
    if (first == 0x05 && n >= 24)
        return KIND_ZOOM_MEDIA;
    if (first >= 0xC0 && n >= 5 && (be32(p + 1) == 1 || be32(p + 1) == 0x6B3343CF))
        return KIND_QUIC;
    return 0;
}

/* Whether ft.look would do anything with a young UDP direction's packet: most (media past its
 * first packet, payloads nothing recognises) it classifies only to drop, and a call costs a
 * microsecond or two. It acts on a DNS or tunnel port, a datagram to the QUIC port within its
 * budget that may be a client Initial (quic.is_client_initial's first test, loosened) or
 * continue one being gathered, a STUN message, and kinds its direction has not shown yet.
 * 1: call it (also when unsure), 0: it would do nothing, -1: an error. */
static int
udp_looks(Loop *lp, PyObject *proto, PyObject *key, long long index, Py_ssize_t l4,
          Py_ssize_t end)
{
    Py_ssize_t len = PyBytes_GET_SIZE(key);
    if (len < 4)
        return 1;
    const unsigned char *k = (const unsigned char *)PyBytes_AS_STRING(key) + len - 4;
    unsigned sport = be16(k), dport = be16(k + 2);
    if (sport == lp->dns_port || dport == lp->dns_port)
        return 1;
    for (Py_ssize_t i = 0; i < lp->n_tunnels; i++)
        if (sport == lp->tunnels[i] || dport == lp->tunnels[i])
            return 1;
    const unsigned char *p = lp->data + l4 + 8;
    Py_ssize_t n = end - (l4 + 8);
    if (n < 0)
        n = 0;
    if (dport == lp->quic_port && index < lp->quic_budget
        && (PyDict_GET_SIZE(lp->hellos) || (n >= 7 && p[0] & 0x80)))
        return 1;
    unsigned kinds = udp_kind(p, n);
    if (kinds == 0)
        return 0;
    if (kinds & KIND_STUN) /* parsed for its addresses and transaction, every time */
        return 1;
    PyObject *at = PyTuple_Pack(2, proto, key);
    if (at == NULL)
        return -1;
    PyObject *known = PyDict_GetItemWithError(lp->kinds, at);
    Py_DECREF(at);
    if (known == NULL)
        return PyErr_Occurred() ? -1 : 1;
    int overflow = 0;
    /* _keep stores PayloadKind flags: ints, read as ints without running Python code */
    long long bits = PyLong_Check(known) ? PyLong_AsLongLongAndOverflow(known, &overflow) : -1;
    if (bits < 0 || overflow) { /* not what _keep stores: Python's to say */
        PyErr_Clear();
        return 1;
    }
    return (kinds & ~(unsigned long long)bits) != 0;
}

/* A direction the tables do not hold: i = ft.add_untabled(...), and when it says to look
 * (i >= 0) and the packet may carry a payload, ft.look(proto, key, buf, l4, end, i, frame). */
static int
count_untabled(Loop *lp, int p, PyObject *proto, PyObject *key, PyObject *nbytes, double t,
               int syn, long long frame, int payload, Py_ssize_t l4, Py_ssize_t end)
{
    int res = -1;
    /* The frame number's int is made only for a call that takes it: most packets here are
     * counted in C (~130 instructions each of 1.2M at 100k public servers). */
    PyObject *ts = NULL, *from = NULL, *to = NULL, *none = NULL, *nframe = NULL;
    PyObject *index = add_here(lp, p, key, nbytes, t, syn, frame);
    if (index == NULL && !PyErr_Occurred()) {
        ts = PyFloat_FromDouble(t);
        nframe = PyLong_FromLongLong(frame);
        if (ts == NULL || nframe == NULL)
            goto done;
        PyObject *added[] = {proto, key, nbytes, ts, nframe, syn ? ONE : ZERO};
        index = PyObject_Vectorcall(lp->add, added, 6, NULL);
    }
    if (index == NULL)
        goto done;
    int wanted;
    if (PyLong_CheckExact(index)) { /* `index >= 0` of an int, without the general compare */
        int sign = 0;
        long long value = PyLong_AsLongLongAndOverflow(index, &sign);
        wanted = sign ? sign > 0 : value >= 0;
    } else {
        wanted = PyObject_RichCompareBool(index, ZERO, Py_GE);
    }
    if (wanted > 0 && payload && p == 17) {
        int overflow = 1; /* anything but a small int: look() is called, as in Python */
        long long i = PyLong_CheckExact(index) ? PyLong_AsLongLongAndOverflow(index, &overflow)
                                               : 0;
        if (i == -1 && PyErr_Occurred())
            goto done;
        if (!overflow)
            wanted = udp_looks(lp, proto, key, i, l4, end);
    }
    if (wanted <= 0 || !payload) {
        res = wanted < 0 ? -1 : 0;
        goto done;
    }
    from = PyLong_FromSsize_t(l4);
    to = PyLong_FromSsize_t(end);
    if (nframe == NULL)
        nframe = PyLong_FromLongLong(frame);
    if (from == NULL || to == NULL || nframe == NULL)
        goto done;
    PyObject *looked[] = {proto, key, lp->buf, from, to, index, nframe};
    none = PyObject_Vectorcall(lp->look, looked, 7, NULL);
    res = none == NULL ? -1 : 0;
done:
    Py_XDECREF(ts);
    Py_XDECREF(nframe);
    Py_XDECREF(index);
    Py_XDECREF(from);
    Py_XDECREF(to);
    Py_XDECREF(none);
    return res;
}

/* One TCP or UDP packet: its direction's record counted, or the direction handed to Python.
 * ``l4``..``end``: where look() would read the transport header and payload in ``buf``. */
static int
count_ip(Loop *lp, int proto, const unsigned char *key_at, Py_ssize_t key_len, long nbytes,
         double t, int syn, long long frame, int payload, Py_ssize_t l4, Py_ssize_t end)
{
    PyObject *key = PyBytes_FromStringAndSize((const char *)key_at, key_len);
    PyObject *nb = PyLong_FromLong(nbytes);
    int res = -1;
    if (key == NULL || nb == NULL)
        goto done;
    PyObject *record = PyDict_GetItemWithError(proto == 17 ? lp->udp : lp->tcp, key);
    if (record != NULL) {
        Py_INCREF(record); /* the additions may run Python code that drops it from the table */
        res = count_known(record, nb, t, syn);
        Py_DECREF(record);
    }
    else if (!PyErr_Occurred()) {
        PyObject *nproto = PyLong_FromLong(proto); /* 6 or 17: a cached small int */
        if (nproto != NULL) {
            res = count_untabled(lp, proto, nproto, key, nb, t, syn, frame, payload, l4, end);
            Py_DECREF(nproto);
        }
    }
done:
    Py_XDECREF(key);
    Py_XDECREF(nb);
    return res;
}

static inline int
is_syn(int proto, unsigned flags)
{
    return proto == 6 && (flags & 0x12) == 0x02; /* SYN without ACK */
}

/* An untagged IPv4 frame at ``f`` (offset ``at`` in buf), IHL 5 and unfragmented. */
static int
count_ipv4(Loop *lp, const unsigned char *f, Py_ssize_t at, Py_ssize_t caplen, double t,
           long long frame)
{
    if (f[14] != 0x45 || be16(f + 20) & FRAG_MASK || caplen < 48)
        return 0;
    unsigned total = be16(f + 16), proto = f[23];
    if (total < 34 || (proto != 6 && proto != 17))
        return 0;
    Py_ssize_t end = at + 14 + total < at + caplen ? at + 14 + total : at + caplen;
    int res = count_ip(lp, proto, f + 26, 12, total, t, is_syn(proto, f[47]), frame,
                       total > 40 || proto == 17, /* 40: bare IP+TCP headers */
                       at + 34, end);
    return res < 0 ? -1 : 1;
}

/* An untagged IPv6 frame whose first header is TCP or UDP. */
static int
count_ipv6(Loop *lp, const unsigned char *f, Py_ssize_t at, Py_ssize_t caplen, double t,
           long long frame)
{
    if (caplen < 68) /* the key and the TCP flags byte: read only now */
        return 0;
    unsigned plen = be16(f + 18), nh = f[20];
    if ((f[14] & 0xF0) != 0x60 || plen < 14 || (nh != 6 && nh != 17))
        return 0;
    Py_ssize_t end = at + 54 + plen < at + caplen ? at + 54 + plen : at + caplen;
    int res = count_ip(lp, nh, f + 22, 36, 40 + plen, t, is_syn(nh, f[67]), frame,
                       plen > 20 || nh == 17, /* 20: a bare TCP header */
                       at + 54, end);
    return res < 0 ? -1 : 1;
}

/* fastpath.count_tagged: one 802.1Q tag in front of IPv4/TCP|UDP. */
static int
count_tagged(Loop *lp, const unsigned char *f, Py_ssize_t at, Py_ssize_t caplen, double t,
             long long frame)
{
    if (caplen < 52) /* fastpath.TAGGED_IPV4 after the tag: 16 + 36 bytes */
        return 0;
    const unsigned char *ip = f + 18;
    unsigned total = be16(ip + 2), proto = ip[9];
    if (be16(f + 16) != ETH_IPV4 || ip[0] != 0x45 || be16(ip + 6) & FRAG_MASK || total < 34)
        return 0;
    if (proto != 6 && proto != 17)
        return 0;
    Py_ssize_t end = at + 18 + total < at + caplen ? at + 18 + total : at + caplen;
    int res = count_ip(lp, proto, ip + 12, 12, total, t, is_syn(proto, ip[33]), frame,
                       total > 40 || proto == 17, at + 38, end);
    return res < 0 ? -1 : 1;
}

/* One Ethernet frame of ``caplen`` bytes at offset ``at`` in buf (FRAME_HEAD bytes readable):
 * 1 counted, 0 not a frame the fast path takes (the caller decodes it), -1 error. */
static int
count_frame(Loop *lp, Py_ssize_t at, Py_ssize_t caplen, double t, long long frame)
{
    const unsigned char *f = lp->data + at;
    unsigned ethertype = be16(f + 12);
    if (ethertype == ETH_IPV4)
        return count_ipv4(lp, f, at, caplen, t, frame);
    if (ethertype == ETH_IPV6)
        return count_ipv6(lp, f, at, caplen, t, frame);
    if (ethertype == ETH_VLAN)
        return count_tagged(lp, f, at, caplen, t, frame);
    return 0;
}

/* decode_packet(ft, 1, bytes(frame), t, frame, wire_len): the general decoder. */
static int
decode_frame(Loop *lp, Py_ssize_t at, Py_ssize_t caplen, double t, long long frame,
             uint32_t wire_len)
{
    PyObject *link = PyLong_FromLong(ETHERNET);
    PyObject *data = PyBytes_FromStringAndSize((const char *)lp->data + at, caplen);
    PyObject *ts = PyFloat_FromDouble(t);
    PyObject *nframe = PyLong_FromLongLong(frame);
    PyObject *wire = PyLong_FromUnsignedLong(wire_len > caplen ? wire_len : (uint32_t)caplen);
    PyObject *none = NULL;
    if (link != NULL && data != NULL && ts != NULL && nframe != NULL && wire != NULL) {
        PyObject *args[] = {lp->ft, link, data, ts, nframe, wire};
        none = PyObject_Vectorcall(lp->decode, args, 6, NULL);
    }
    Py_XDECREF(link);
    Py_XDECREF(data);
    Py_XDECREF(ts);
    Py_XDECREF(nframe);
    Py_XDECREF(wire);
    if (none == NULL)
        return -1;
    Py_DECREF(none);
    return 0;
}

static int
count_or_decode(Loop *lp, Py_ssize_t at, Py_ssize_t caplen, double t, long long frame,
                uint32_t wire_len)
{
    int res = count_frame(lp, at, caplen, t, frame);
    if (res != 0)
        return res < 0 ? -1 : 0;
    return decode_frame(lp, at, caplen, t, frame, wire_len);
}

/* Export ``buf`` for the call; its filled part must be [0, n) and ``pos`` inside it. */
static int
open_buffer(Py_buffer *view, PyObject *buf, Py_ssize_t pos, Py_ssize_t n)
{
    if (!PyByteArray_Check(buf)) {
        PyErr_SetString(PyExc_TypeError, "the packet loops read a bytearray");
        return -1;
    }
    if (PyObject_GetBuffer(buf, view, PyBUF_SIMPLE) < 0)
        return -1;
    if (pos < 0 || n < pos || n > view->len) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "position or fill outside the buffer");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(pcap_records_doc,
"pcap_records(buf, pos, n, frame, little, nano, ft, into, decode)\n"
"--\n\n"
"The pcap fast loop over buf[pos:n] (Ethernet): (pos, frame) where it stopped.");

static PyObject *
pcap_records(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, n;
    long long frame;
    int little, nano;
    Loop lp;
    if (!PyArg_ParseTuple(args, "OnnLppO" DIRECTIONS "O:pcap_records", &lp.buf, &pos, &n,
                          &frame, &little, &nano, &lp.ft, DIRECTIONS_INTO(lp), &lp.decode))
        return NULL;
    if (read_tunnel_ports(&lp) < 0 || open_buffer(&view, lp.buf, pos, n) < 0)
        return NULL;
    lp.data = view.buf;
    double scale = nano ? 1e-9 : 1e-6;
    /* 64: a record header and FRAME_HEAD bytes of its frame, as the Python loop reads them. */
    while (pos + 16 + FRAME_HEAD <= n) {
        const unsigned char *rec = lp.data + pos;
        uint32_t incl = u32(rec + 8, little);
        if (incl > MAX_CAPLEN || pos + 16 + (Py_ssize_t)incl > n)
            break; /* the careful path in Python says why */
        Py_ssize_t nxt = pos + 16 + (Py_ssize_t)incl;
        frame++;
        /* sec + frac * scale, as Python computes it in doubles (no fused multiply-add:
         * setup.py builds with -ffp-contract=off). */
        double t = (double)u32(rec, little) + (double)u32(rec + 4, little) * scale;
        if (count_or_decode(&lp, pos + 16, incl, t, frame, u32(rec + 12, little)) < 0) {
            PyBuffer_Release(&view);
            return NULL;
        }
        pos = nxt;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("nL", pos, frame);
}

PyDoc_STRVAR(epb_records_doc,
"epb_records(buf, pos, n, frame, t, little, interfaces, div, ft, into, decode)\n"
"--\n\n"
"The pcapng fast loop over option-less EPBs on the first ``interfaces`` (Ethernet)\n"
"interfaces: (pos, frame, t) where it stopped, t the last packet's time.");

static PyObject *
epb_records(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, n, interfaces;
    long long frame;
    double t, div;
    int little;
    Loop lp;
    if (!PyArg_ParseTuple(args, "OnnLdpndO" DIRECTIONS "O:epb_records", &lp.buf, &pos, &n,
                          &frame, &t, &little, &interfaces, &div, &lp.ft, DIRECTIONS_INTO(lp),
                          &lp.decode))
        return NULL;
    if (read_tunnel_ports(&lp) < 0 || open_buffer(&view, lp.buf, pos, n) < 0)
        return NULL;
    lp.data = view.buf;
    double hi_scale = 4294967296.0 / div;
    /* 76: the block header up to the frame (28 bytes) and FRAME_HEAD bytes of it. */
    while (pos + 28 + FRAME_HEAD <= n) {
        const unsigned char *rec = lp.data + pos;
        uint32_t blen = u32(rec + 4, little), caplen = u32(rec + 20, little);
        Py_ssize_t nxt = pos + (Py_ssize_t)blen;
        /* An option-less EPB on a fast interface: its length says exactly where it ends, and
         * the trailer must repeat it (read only once the block is known to be in the buffer). */
        if (u32(rec, little) != EPB || blen != (((uint64_t)caplen + 35) & ~(uint64_t)3)
            || u32(rec + 8, little) >= (uint64_t)interfaces || nxt > n
            || u32(lp.data + nxt - 4, little) != blen)
            break;
        frame++;
        t = (double)u32(rec + 12, little) * hi_scale + (double)u32(rec + 16, little) / div;
        if (count_or_decode(&lp, pos + 28, caplen, t, frame, u32(rec + 24, little)) < 0) {
            PyBuffer_Release(&view);
            return NULL;
        }
        pos = nxt;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("nLd", pos, frame, t);
}

PyDoc_STRVAR(udp_payload_kind_doc,
"udp_payload_kind(payload)\n"
"--\n\n"
"roles.payload_kind(17, payload) as the loop computes it (for the tests).");

static PyObject *
udp_payload_kind(PyObject *module, PyObject *payload)
{
    Py_buffer view;
    if (PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    unsigned kinds = udp_kind(view.buf, view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(kinds);
}

PyDoc_STRVAR(pair_rows_doc,
"pair_rows(keys, rkeys, recs, later, partner, /)\n"
"--\n\n"
"packed.pair_rows, compiled: the rows a batch of directions makes, with their other ones.");

/* packed.pair_rows step by step (its docstring says why each test is there): the same lists,
 * the same objects in them, in the same order. */
static PyObject *
pair_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "pair_rows takes 5 arguments");
        return NULL;
    }
    for (int a = 0; a < 5; a++) {
        if (!PyList_Check(args[a])) {
            PyErr_SetString(PyExc_TypeError, "pair_rows takes lists");
            return NULL;
        }
    }
    PyObject *keys = args[0], *rkeys = args[1], *recs = args[2], *later = args[3];
    PyObject *partner = args[4];
    Py_ssize_t n = PyList_GET_SIZE(keys);
    if (PyList_GET_SIZE(rkeys) != n || PyList_GET_SIZE(recs) != n || PyList_GET_SIZE(later) != n
        || PyList_GET_SIZE(partner) != n) {
        PyErr_SetString(PyExc_ValueError, "pair_rows takes lists of one length");
        return NULL;
    }
    PyObject *out[4] = {PyList_New(0), PyList_New(0), PyList_New(0), PyList_New(0)};
    if (!out[0] || !out[1] || !out[2] || !out[3])
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *rec = PyList_GET_ITEM(recs, i), *pj = PyList_GET_ITEM(partner, i);
        Py_ssize_t j = -1;
        if (rec == Py_None)
            continue;
        if (pj != Py_None) {
            j = PyLong_AsSsize_t(pj);
            if (j == -1 && PyErr_Occurred())
                goto fail;
            if (j < 0 || j >= n) {
                PyErr_SetString(PyExc_IndexError, "pair_rows: a partner out of the batch");
                goto fail;
            }
            if (j < i)
                continue; /* taken already, with its other direction */
        }
        PyObject *other = j >= 0 && j != i ? PyList_GET_ITEM(recs, j) : PyList_GET_ITEM(later, i);
        PyObject *key = PyList_GET_ITEM(keys, i), *rkey = PyList_GET_ITEM(rkeys, i);
        if (other != Py_None) {
            if (!PyList_Check(rec) || !PyList_Check(other) || PyList_GET_SIZE(rec) <= FIRST_FRAME
                || PyList_GET_SIZE(other) <= FIRST_FRAME) {
                PyErr_SetString(PyExc_TypeError, "pair_rows: a record is not a flow record");
                goto fail;
            }
            int earlier = PyObject_RichCompareBool(PyList_GET_ITEM(other, FIRST_FRAME),
                                                   PyList_GET_ITEM(rec, FIRST_FRAME), Py_LT);
            if (earlier < 0)
                goto fail;
            if (earlier) { /* a's is the first */
                PyObject *swap = key;
                key = rkey;
                rkey = swap;
                swap = rec;
                rec = other;
                other = swap;
            }
        }
        if (PyList_Append(out[0], key) < 0 || PyList_Append(out[1], rkey) < 0
            || PyList_Append(out[2], rec) < 0 || PyList_Append(out[3], other) < 0)
            goto fail;
    }
    return Py_BuildValue("(NNNN)", out[0], out[1], out[2], out[3]);
fail:
    for (int a = 0; a < 4; a++)
        Py_XDECREF(out[a]);
    return NULL;
}

PyDoc_STRVAR(pack_rows_doc,
"pack_rows(pack, size, keys, recs, others, answers, kinds, stun_delays, stun_samples, acks,\n"
"          no_delay, /)\n"
"--\n\n"
"Packed.add_rows's rows, compiled: each row pack(...) made, all of them joined.");

/* The next item of an iterator that must have one: NULL with an error set otherwise. */
static PyObject *
next_of(PyObject *it)
{
    PyObject *item = PyIter_Next(it);
    if (!item && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "pack_rows: a column shorter than the keys");
    return item;
}

/* One row of Packed.add_rows's comprehension (see it for what each field is): a's and b's
 * records, the answer flag and the other columns' items for this row. A new reference to the
 * packed bytes, or NULL. */
static PyObject *
pack_row(PyObject *pack, PyObject *key, PyObject *a, PyObject *b, int answers, PyObject *bits,
         PyObject *stun_delay, PyObject *samples, PyObject *ack, PyObject *no_delay)
{
    PyObject *a_first = PyList_GET_ITEM(a, FIRST_TS), *b_first = PyList_GET_ITEM(b, FIRST_TS);
    PyObject *a_last = PyList_GET_ITEM(a, LAST_TS), *b_last = PyList_GET_ITEM(b, LAST_TS);
    int b_earlier = PyObject_RichCompareBool(b_first, a_first, Py_LT);
    if (b_earlier < 0)
        return NULL;
    int b_later = PyObject_RichCompareBool(b_last, a_last, Py_GT);
    if (b_later < 0)
        return NULL;
    PyObject *delay;
    if (answers && !b_earlier) {
        delay = PyNumber_Subtract(b_first, a_first);
        if (!delay)
            return NULL;
    } else {
        delay = Py_NewRef(no_delay);
    }
    PyObject *args[15] = {
        key, PyList_GET_ITEM(a, PACKETS), PyList_GET_ITEM(b, PACKETS), PyList_GET_ITEM(a, BYTES),
        PyList_GET_ITEM(b, BYTES), b_earlier ? b_first : a_first, b_later ? b_last : a_last,
        PyList_GET_ITEM(a, FIRST_FRAME), PyList_GET_ITEM(a, SYN), PyList_GET_ITEM(b, SYN), delay,
        bits, stun_delay, samples, ack,
    };
    PyObject *row = PyObject_Vectorcall(pack, args, 15, NULL);
    Py_DECREF(delay);
    return row;
}

/* A row written as packed.packed_layout packs it (">{key}s" + columns.COUNTS, big-endian),
 * without calling pack: struct packs a row in ~2,000 instructions, most of it converting
 * each number through the general integer path (~0.05 s of 100k flows). Only plain values are
 * written here: exact ints in their field's range, exact floats, a bytes key of the row's
 * length; for anything else (0) the caller calls pack, which packs it or raises as before. */
#define COUNTS_SIZE 94 /* struct.calcsize(">" + columns.COUNTS) */

static inline void
put_be(unsigned char *p, unsigned long long v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

/* An exact int within [lo, hi] into n big-endian bytes: 1, or 0 (not plain; no error set). */
static inline int
put_int(unsigned char **p, PyObject *o, long long lo, long long hi, int n)
{
    if (!PyLong_CheckExact(o))
        return 0;
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred()) || v < lo || v > hi) {
        PyErr_Clear(); /* none can be set for an exact int; pack says what it says */
        return 0;
    }
    put_be(*p, (unsigned long long)v, n);
    *p += n;
    return 1;
}

static inline int
put_double(unsigned char **p, PyObject *o)
{
    if (!PyFloat_CheckExact(o) || PyFloat_Pack8(PyFloat_AS_DOUBLE(o), (char *)*p, 0) < 0) {
        PyErr_Clear();
        return 0;
    }
    *p += 8;
    return 1;
}

static inline int
put_raw_double(unsigned char **p, double d)
{
    if (PyFloat_Pack8(d, (char *)*p, 0) < 0) {
        PyErr_Clear();
        return 0;
    }
    *p += 8;
    return 1;
}

/* pack_row's row written at ``to`` (``size`` bytes) when every value is plain: 1, else 0. */
static int
write_row(unsigned char *to, Py_ssize_t size, PyObject *key, PyObject *a, PyObject *b,
          int answers, PyObject *bits, PyObject *stun_delay, PyObject *samples, PyObject *ack,
          PyObject *no_delay)
{
    PyObject *a_first = PyList_GET_ITEM(a, FIRST_TS), *b_first = PyList_GET_ITEM(b, FIRST_TS);
    PyObject *a_last = PyList_GET_ITEM(a, LAST_TS), *b_last = PyList_GET_ITEM(b, LAST_TS);
    Py_ssize_t key_len = size - COUNTS_SIZE;
    if (!PyBytes_CheckExact(key) || PyBytes_GET_SIZE(key) != key_len
        || !PyFloat_CheckExact(a_first) || !PyFloat_CheckExact(b_first)
        || !PyFloat_CheckExact(a_last) || !PyFloat_CheckExact(b_last)
        || !PyFloat_CheckExact(no_delay))
        return 0;
    double af = PyFloat_AS_DOUBLE(a_first), bf = PyFloat_AS_DOUBLE(b_first);
    double al = PyFloat_AS_DOUBLE(a_last), bl = PyFloat_AS_DOUBLE(b_last);
    int b_earlier = bf < af, b_later = bl > al;
    double delay = answers && !b_earlier ? bf - af : PyFloat_AS_DOUBLE(no_delay);
    unsigned char *p = to;
    memcpy(p, PyBytes_AS_STRING(key), (size_t)key_len);
    p += key_len;
    const long long q_lo = LLONG_MIN, q_hi = LLONG_MAX;
    return put_int(&p, PyList_GET_ITEM(a, PACKETS), q_lo, q_hi, 8)
           && put_int(&p, PyList_GET_ITEM(b, PACKETS), q_lo, q_hi, 8)
           && put_int(&p, PyList_GET_ITEM(a, BYTES), q_lo, q_hi, 8)
           && put_int(&p, PyList_GET_ITEM(b, BYTES), q_lo, q_hi, 8)
           && put_raw_double(&p, b_earlier ? bf : af) && put_raw_double(&p, b_later ? bl : al)
           && put_int(&p, PyList_GET_ITEM(a, FIRST_FRAME), q_lo, q_hi, 8)
           && put_int(&p, PyList_GET_ITEM(a, SYN), 0, 255, 1)
           && put_int(&p, PyList_GET_ITEM(b, SYN), 0, 255, 1) && put_raw_double(&p, delay)
           && put_int(&p, bits, 0, 0xFFFFFFFFLL, 4) && put_double(&p, stun_delay)
           && put_int(&p, samples, q_lo, q_hi, 8) && put_double(&p, ack) && p == to + size;
}

static PyObject *
pack_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 11) {
        PyErr_SetString(PyExc_TypeError, "pack_rows takes 11 arguments");
        return NULL;
    }
    PyObject *pack = args[0], *keys = args[2], *recs = args[3], *others = args[4];
    PyObject *no_delay = args[10];
    Py_ssize_t size = PyLong_AsSsize_t(args[1]);
    if (size == -1 && PyErr_Occurred())
        return NULL;
    if (!PyList_Check(keys) || !PyList_Check(recs) || !PyList_Check(others)) {
        PyErr_SetString(PyExc_TypeError, "pack_rows takes lists of keys and records");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(keys);
    if (size <= 0 || PyList_GET_SIZE(recs) != n || PyList_GET_SIZE(others) != n) {
        PyErr_SetString(PyExc_ValueError, "pack_rows: columns of different lengths");
        return NULL;
    }
    PyObject *its[5] = {NULL, NULL, NULL, NULL, NULL}, *out = NULL;
    for (int c = 0; c < 5; c++) {
        its[c] = PyObject_GetIter(args[5 + c]);
        if (!its[c])
            goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, n * size);
    if (!out)
        goto done;
    char *to = PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *a = PyList_GET_ITEM(recs, i), *b = PyList_GET_ITEM(others, i);
        if (!PyList_Check(a) || !PyList_Check(b) || PyList_GET_SIZE(a) < RECORD_FIELDS
            || PyList_GET_SIZE(b) < RECORD_FIELDS) {
            PyErr_SetString(PyExc_TypeError, "pack_rows: a record is not a flow record");
            goto fail;
        }
        PyObject *item[5] = {NULL, NULL, NULL, NULL, NULL}, *row = NULL;
        int answers = -1;
        for (int c = 0; c < 5; c++) {
            item[c] = next_of(its[c]);
            if (!item[c])
                goto row_done;
        }
        answers = PyObject_IsTrue(item[0]);
        if (answers < 0)
            goto row_done;
        /* The first row of each call is packed by pack too, and must be the same bytes: a
         * check that write_row's layout is still packed_layout's. */
        unsigned char *at = (unsigned char *)to + i * size;
        int written = write_row(at, size, PyList_GET_ITEM(keys, i), a, b, answers, item[1],
                                item[2], item[3], item[4], no_delay);
        if (written && i > 0) {
            row = Py_NewRef(Py_None);
            goto row_done;
        }
        row = pack_row(pack, PyList_GET_ITEM(keys, i), a, b, answers, item[1], item[2], item[3],
                       item[4], no_delay);
        if (row && (!PyBytes_Check(row) || PyBytes_GET_SIZE(row) != size)) {
            PyErr_SetString(PyExc_ValueError, "pack_rows: a row of another size");
            Py_CLEAR(row);
        }
        if (row && written && memcmp(at, PyBytes_AS_STRING(row), (size_t)size) != 0) {
            PyErr_SetString(PyExc_SystemError, "pack_rows: a row written otherwise than packed");
            Py_CLEAR(row);
        }
        if (row)
            memcpy(at, PyBytes_AS_STRING(row), (size_t)size);
    row_done:
        for (int c = 0; c < 5; c++)
            Py_XDECREF(item[c]);
        if (!row)
            goto fail;
        Py_DECREF(row);
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    for (int c = 0; c < 5; c++)
        Py_XDECREF(its[c]);
    return out;
}

/* Reading a chunk's packed rows (columns.row_layout: big-endian, no padding) in place. */

#define ROW_TAIL 94 /* columns.COUNTS's size: ">qqqqddqBBdIdqd" */

static inline unsigned long long
be_bytes(const unsigned char *p, int n)
{
    unsigned long long v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The round-trip stage's pass over a chunk's packed rows (geo/roundtrips.py's _trip_rows, its
 * oracle): only the three delays of a row are read until one says it is timed, and only a
 * timed row's addresses become objects (a row's 18-tuple cost ~1,900 instructions to make). */

#define NO_DELAY (-1.0) /* columns.NO_DELAY */
#define TCP 6
#define UDP 17

/* What trip_rows works with; every object borrowed from its arguments. */
typedef struct {
    PyObject *hosts, *found;
    PyObject *handshake, *dns, *quic, *stun, *server_side; /* roundtrips.KINDS */
} Tripping;

/* roundtrips._sample: found[(address, kind)] = [seconds, samples], or the shorter seconds and
 * the samples added up. 0, or -1 with an error set. */
static int
sample(const Tripping *tp, PyObject *address, PyObject *kind, double seconds, long long samples)
{
    PyObject *at = PyTuple_Pack(2, address, kind);
    if (!at)
        return -1;
    int status = -1;
    PyObject *minimum = PyDict_GetItemWithError(tp->found, at); /* borrowed */
    PyObject *time = NULL, *count = NULL;
    if (!minimum) {
        if (PyErr_Occurred())
            goto done;
        PyObject *made = PyList_New(2);
        time = PyFloat_FromDouble(seconds);
        count = PyLong_FromLongLong(samples);
        if (!made || !time || !count) {
            Py_XDECREF(made);
            goto done;
        }
        PyList_SET_ITEM(made, 0, Py_NewRef(time));
        PyList_SET_ITEM(made, 1, Py_NewRef(count));
        status = PyDict_SetItem(tp->found, at, made);
        Py_DECREF(made);
        goto done;
    }
    if (!PyList_CheckExact(minimum) || PyList_GET_SIZE(minimum) != 2) {
        PyErr_SetString(PyExc_TypeError, "trip_rows: a found entry is not [seconds, samples]");
        goto done;
    }
    Py_INCREF(minimum); /* the comparison may run Python code */
    time = PyFloat_FromDouble(seconds);
    int shorter = time ? PyObject_RichCompareBool(time, PyList_GET_ITEM(minimum, 0), Py_LT) : -1;
    if (shorter > 0)
        shorter = PyList_SetItem(minimum, 0, Py_NewRef(time));
    if (shorter >= 0) {
        count = PyLong_FromLongLong(samples);
        PyObject *sum = count ? PyNumber_Add(PyList_GET_ITEM(minimum, 1), count) : NULL;
        status = sum ? PyList_SetItem(minimum, 1, sum) : -1;
    }
    Py_DECREF(minimum);
done:
    Py_DECREF(at);
    Py_XDECREF(time);
    Py_XDECREF(count);
    return status;
}

/* One packed row's round trips (see _trip_rows): 0, or -1 with an error set. */
static int
trip_row(const Tripping *tp, const unsigned char *p, Py_ssize_t width, long proto,
         int has_start, double start, double guard)
{
    const unsigned char *q = p + 2 * width + 4;
    double delay = PyFloat_Unpack8((const char *)q + 58, 0);
    double stun_delay = PyFloat_Unpack8((const char *)q + 70, 0);
    double ack_delay = PyFloat_Unpack8((const char *)q + 86, 0);
    if (delay == NO_DELAY && stun_delay == NO_DELAY && ack_delay == NO_DELAY)
        return 0; /* most flows: nothing to time */
    PyObject *a = NULL, *b = PyBytes_FromStringAndSize((const char *)p + width, width);
    if (!b)
        return -1;
    int status = -1;
    int b_is_host = PySet_Contains(tp->hosts, b);
    if (b_is_host < 0)
        goto done;
    if (b_is_host) {
        status = 0;
        if (ack_delay != NO_DELAY) { /* a capture on the server */
            a = PyBytes_FromStringAndSize((const char *)p, width);
            int a_is_host = a ? PySet_Contains(tp->hosts, a) : -1;
            if (a_is_host < 0)
                status = -1;
            else if (!a_is_host)
                status = sample(tp, a, tp->server_side, ack_delay, 1);
        }
        goto done;
    }
    PyObject *kind = NULL;
    if (proto == TCP) {
        kind = tp->handshake;
    } else if (proto == UDP) {
        if (be_bytes(p + 2 * width + 2, 2) == 53) /* roundtrips.DNS_PORT */
            kind = tp->dns;
        else if (has_start && !(PyFloat_Unpack8((const char *)q + 32, 0) - start < guard))
            kind = tp->quic; /* not a flow the capture may have joined half-way */
    }
    if (kind && delay != NO_DELAY && sample(tp, b, kind, delay, 1) < 0)
        goto done;
    if (stun_delay != NO_DELAY /* b answered a's STUN requests (matched by transaction) */
        && sample(tp, b, tp->stun, stun_delay, (long long)be_bytes(q + 78, 8)) < 0)
        goto done;
    status = 0;
done:
    Py_XDECREF(a);
    Py_DECREF(b);
    return status;
}

PyDoc_STRVAR(trip_rows_doc,
"trip_rows(data, width, count, proto, hosts, capture_start, guard, kinds, found, /)\n--\n\n"
"roundtrips._trip_rows on a chunk's first ``count`` packed rows: their delays into ``found``.");

static PyObject *
trip_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "trip_rows takes 9 arguments");
        return NULL;
    }
    Py_ssize_t width = PyLong_AsSsize_t(args[1]);
    if (width == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t count = PyLong_AsSsize_t(args[2]);
    if (count == -1 && PyErr_Occurred())
        return NULL;
    long proto = PyLong_AsLong(args[3]);
    if (proto == -1 && PyErr_Occurred())
        return NULL;
    Tripping tp = {args[4], args[8]};
    int has_start = args[5] != Py_None;
    double start = has_start ? PyFloat_AsDouble(args[5]) : 0.0;
    if (start == -1.0 && PyErr_Occurred())
        return NULL;
    double guard = PyFloat_AsDouble(args[6]);
    if (guard == -1.0 && PyErr_Occurred())
        return NULL;
    if (!PyAnySet_Check(tp.hosts) || !PyDict_Check(tp.found)
        || !PyArg_ParseTuple(args[7], "OOOOO:trip_rows", &tp.handshake, &tp.dns, &tp.quic,
                             &tp.stun, &tp.server_side)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "trip_rows takes a set of hosts and a dict");
        return NULL;
    }
    if (width < 0 || width > (PY_SSIZE_T_MAX - 4 - ROW_TAIL) / 2) {
        PyErr_SetString(PyExc_ValueError, "trip_rows: no such address width");
        return NULL;
    }
    Py_ssize_t size = 2 * width + 4 + ROW_TAIL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int status = 0;
    if (count < 0 || count > view.len / size) {
        PyErr_SetString(PyExc_ValueError, "trip_rows: rows outside the data");
        status = -1;
    }
    const unsigned char *data = view.buf;
    for (Py_ssize_t i = 0; status == 0 && i < count; i++)
        status = trip_row(&tp, data + i * size, width, proto, has_start, start, guard);
    PyBuffer_Release(&view);
    if (status < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* columns.Texts.texts's IPv4 addresses: socket.inet_ntop(AF_INET, raw) through a partial cost
 * ~3,000 instructions an address (argument parsing, the libc call, a str from a C string):
 * 100k public servers, 0.05 s of the endpoint stage. The same dotted text, written here. */

/* ``value`` (0..255) in decimal at ``to``, no leading zeros: where the text ends. */
static inline char *
octet(char *to, unsigned value)
{
    if (value >= 100)
        *to++ = (char)('0' + value / 100);
    if (value >= 10)
        *to++ = (char)('0' + value / 10 % 10);
    *to++ = (char)('0' + value % 10);
    return to;
}

PyDoc_STRVAR(ipv4_texts_doc,
"ipv4_texts(raws, /)\n--\n\n"
"Each 4-byte address of the list ``raws`` as socket.inet_ntop(AF_INET, raw) writes it.");

static PyObject *
ipv4_texts(PyObject *module, PyObject *raws)
{
    if (!PyList_Check(raws)) {
        PyErr_SetString(PyExc_TypeError, "ipv4_texts takes a list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(raws);
    PyObject *texts = PyList_New(n);
    if (!texts)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *raw = PyList_GET_ITEM(raws, i); /* no Python code runs in this loop */
        if (!PyBytes_CheckExact(raw) || PyBytes_GET_SIZE(raw) != 4) {
            PyErr_SetString(PyExc_ValueError, "ipv4_texts: not a 4-byte address");
            Py_DECREF(texts);
            return NULL;
        }
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(raw);
        char text[16], *end = text;
        for (int k = 0; k < 4; k++) {
            if (k)
                *end++ = '.';
            end = octet(end, p[k]);
        }
        PyObject *s = PyUnicode_FromStringAndSize(text, end - text);
        if (!s) {
            Py_DECREF(texts);
            return NULL;
        }
        PyList_SET_ITEM(texts, i, s);
    }
    return texts;
}

/* The endpoint tally (endpoints.py's _tally_rows): each flow's server side decided and added to
 * its server's counts. In Python the loop cost about 2 us a flow, most of the endpoint stage of
 * a capture with 100k servers; here, the rows' own objects are what the Python loop would store
 * (ints stay ints, times the rows' floats), and what only Python does stays Python: is_local for
 * a flow neither the SYN nor the ports decide, and _Tally for a server seen twice. */

#define ROW_FIELDS 15 /* a row's fields up to its payload kinds, all tally_rows reads */
/* endpoints.py's ranks of the server rules */
#define SYN_RANK 3
#define PORT_RANK 2
#define HOST_RANK 1
#define LOWER_PORT_RANK 0

/* endpoints.is_service_port of a row's port object: 1, 0, or -1 with an error set. */
static int
service_port(PyObject *port, long value, PyObject *service)
{
    if (value > 0 && value < 1024)
        return 1;
    return PySet_Contains(service, port);
}

/* What tally_rows works with; every object borrowed from its arguments. */
typedef struct {
    long proto;
    PyObject *name, *keys, *hosts, *is_local, *service, *tallies, *tally, *add;
} Tallying;

/* endpoints._server_side of one row: 1 with *server_is_b and *rank set, 0 when both sides are
 * the capture's own host, -1 with an error set. */
static int
server_side(const Tallying *tg, PyObject *a, PyObject *b, PyObject *a_port_obj,
            PyObject *b_port_obj, long a_port, long b_port, long syn_ab, long syn_ba,
            int *server_is_b, long *rank)
{
    int a_is_host = PySequence_Contains(tg->hosts, a);
    if (a_is_host < 0)
        return -1;
    int b_is_host = PySequence_Contains(tg->hosts, b);
    if (b_is_host < 0)
        return -1;
    if (a_is_host && b_is_host)
        return 0;
    int is_b, a_service = 0, b_service = 0;
    if (tg->proto == TCP && syn_ab != syn_ba) {
        is_b = syn_ab != 0, *rank = SYN_RANK; /* the side that received a bare SYN listened */
    } else if ((tg->proto == TCP || tg->proto == UDP)
               && ((a_service = service_port(a_port_obj, a_port, tg->service)) < 0
                   || (b_service = service_port(b_port_obj, b_port, tg->service)) < 0
                   || a_service != b_service)) {
        if (a_service < 0 || b_service < 0)
            return -1;
        is_b = !a_service, *rank = PORT_RANK;
    } else if (a_is_host || b_is_host) {
        is_b = a_is_host, *rank = HOST_RANK;
    } else {
        int a_local = -1, b_local = -1;
        PyObject *said = PyObject_CallOneArg(tg->is_local, a);
        if (said) {
            a_local = PyObject_IsTrue(said);
            Py_DECREF(said);
        }
        if (a_local < 0)
            return -1;
        said = PyObject_CallOneArg(tg->is_local, b);
        if (said) {
            b_local = PyObject_IsTrue(said);
            Py_DECREF(said);
        }
        if (b_local < 0)
            return -1;
        if (a_local != b_local)
            is_b = a_local, *rank = HOST_RANK;
        else /* the lower port; nothing tells: the receiver of the first packet */
            is_b = a_port == b_port || b_port < a_port, *rank = LOWER_PORT_RANK;
    }
    if ((b_is_host && is_b) || (a_is_host && !is_b))
        is_b = !is_b, *rank = HOST_RANK;
    *server_is_b = is_b;
    return 1;
}

/* A row's field that must be an int, as a C long: -1 with an error set when it is not. */
static int
long_field(PyObject *row, Py_ssize_t i, long *value)
{
    PyObject *item = PyTuple_GET_ITEM(row, i);
    if (!PyLong_Check(item)) {
        PyErr_SetString(PyExc_TypeError, "tally_rows: a row's port or SYN is not an int");
        return -1;
    }
    *value = PyLong_AsLong(item);
    return *value == -1 && PyErr_Occurred() ? -1 : 0;
}

/* One row added to its server's counts: 0, or -1 with an error set. */
static int
tally_row(const Tallying *tg, PyObject *row)
{
    if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) < ROW_FIELDS) {
        PyErr_SetString(PyExc_TypeError, "tally_rows: a row is not a flow row");
        return -1;
    }
    long a_port, b_port, syn_ab, syn_ba, rank;
    if (long_field(row, 2, &a_port) < 0 || long_field(row, 3, &b_port) < 0
        || long_field(row, 11, &syn_ab) < 0 || long_field(row, 12, &syn_ba) < 0)
        return -1;
    PyObject **f = &PyTuple_GET_ITEM(row, 0);
    int server_is_b;
    int found = server_side(tg, f[0], f[1], f[2], f[3], a_port, b_port, syn_ab, syn_ba,
                            &server_is_b, &rank);
    if (found <= 0)
        return found;
    PyObject *server = server_is_b ? f[1] : f[0];
    PyObject *port = Py_None; /* borrowed from keys */
    if (tg->keys != Py_None) {
        PyObject *key = PyTuple_Pack(2, server_is_b ? f[3] : f[2], tg->name);
        if (!key)
            return -1;
        port = PyDict_SetDefault(tg->keys, key, key);
        Py_DECREF(key);
        if (!port)
            return -1;
    }
    PyObject *packets = NULL, *nbytes = NULL, *rank_obj = NULL, *tally;
    int status = -1;
    packets = PyNumber_Add(f[4], f[5]);
    if (!packets)
        goto done;
    nbytes = PyNumber_Add(f[6], f[7]);
    if (!nbytes)
        goto done;
    rank_obj = PyLong_FromLong(rank);
    if (!rank_obj)
        goto done;
    tally = PyDict_GetItemWithError(tg->tallies, server); /* borrowed */
    if (!tally) {
        if (PyErr_Occurred())
            goto done;
        /* most servers: one flow, a tuple (a _Tally costs a call) */
        PyObject *counts = PyTuple_Pack(10, packets, nbytes, ONE, port, tg->name, f[8], f[9],
                                        f[10], rank_obj, f[14]);
        if (!counts)
            goto done;
        status = PyDict_SetItem(tg->tallies, server, counts);
        Py_DECREF(counts);
        goto done;
    }
    Py_INCREF(tally);
    if (PyTuple_Check(tally)) {
        PyObject *made = PyObject_CallOneArg(tg->tally, tally);
        Py_DECREF(tally);
        if (!made)
            goto done;
        tally = made;
        if (PyDict_SetItem(tg->tallies, server, tally) < 0) {
            Py_DECREF(tally);
            goto done;
        }
    }
    PyObject *args[10] = {tally,  packets, nbytes, tg->name, port,
                          f[8],   f[9],    f[10],  rank_obj, f[14]};
    PyObject *added = PyObject_VectorcallMethod(tg->add, args, 10, NULL);
    Py_DECREF(tally);
    if (added) {
        Py_DECREF(added);
        status = 0;
    }
done:
    Py_XDECREF(packets);
    Py_XDECREF(nbytes);
    Py_XDECREF(rank_obj);
    return status;
}

PyDoc_STRVAR(tally_rows_doc,
"tally_rows(rows, proto, name, keys, hosts, is_local, service, tallies, tally, /)\n--\n\n"
"endpoints._tally_rows, compiled: each row's server side added to ``tallies``.");

static PyObject *
tally_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "tally_rows takes 9 arguments");
        return NULL;
    }
    Tallying tg = {0, args[2], args[3], args[4], args[5], args[6], args[7], args[8], ADD};
    tg.proto = PyLong_AsLong(args[1]);
    if (tg.proto == -1 && PyErr_Occurred())
        return NULL;
    if (!PyUnicode_Check(tg.name) || (tg.keys != Py_None && !PyDict_Check(tg.keys))
        || !PyAnySet_Check(tg.service) || !PyDict_Check(tg.tallies)) {
        PyErr_SetString(PyExc_TypeError,
                        "tally_rows takes a name, a dict of keys or None, a set and a dict");
        return NULL;
    }
    PyObject *it = PyObject_GetIter(args[0]);
    if (!it)
        return NULL;
    PyObject *row;
    while ((row = PyIter_Next(it))) {
        int status = tally_row(&tg, row);
        Py_DECREF(row);
        if (status < 0)
            break;
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* The report's time texts (report/times.py's iso_times): the four time columns of a JSON report
 * cost about 0.6 us a time in Python, most of a report's remaining per-endpoint work. Kept in
 * this extension (times are the capture's doubles either way) rather than a third one. */

#define FAST_UNTIL 32503680000.0 /* 3000-01-01T00:00:00Z: view._FAST_UNTIL */

/* Round half to even, as float.__round__ and datetime.fromtimestamp round the microseconds. */
static inline double
round_half_even(double x)
{
    double rounded = round(x);
    if (fabs(x - rounded) == 0.5)
        rounded = 2.0 * round(x / 2.0);
    return rounded;
}

/* The proleptic Gregorian date of a day counted from 1970-01-01 (H. Hinnant's days_to_civil),
 * exact for every day the fast range holds. */
static void
civil_date(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (int64_t)yoe + era * 400 + (*month <= 2);
}

static inline char *
digits(char *to, unsigned value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        to[i] = (char)('0' + value % 10);
        value /= 10;
    }
    return to + width;
}

/* The text of one epoch in [0, FAST_UNTIL), between quotes when `quote` is not NUL. */
static PyObject *
iso_text(double epoch, char quote)
{
    double whole;
    double micro = round_half_even(modf(epoch, &whole) * 1e6);
    int64_t second = (int64_t)whole;
    if (micro >= 1e6) { /* rounds up into the next second, as datetime does */
        micro -= 1e6;
        second += 1;
    }
    int64_t days = second / 86400, rest = second % 86400, year;
    unsigned month, day;
    civil_date(days, &year, &month, &day);
    char text[32], *to = text;
    if (quote)
        *to++ = quote;
    to = digits(to, (unsigned)year, 4);
    *to++ = '-';
    to = digits(to, month, 2);
    *to++ = '-';
    to = digits(to, day, 2);
    *to++ = 'T';
    to = digits(to, (unsigned)(rest / 3600), 2);
    *to++ = ':';
    to = digits(to, (unsigned)(rest / 60 % 60), 2);
    *to++ = ':';
    to = digits(to, (unsigned)(rest % 60), 2);
    if (micro != 0.0) { /* a whole second has no fraction in datetime's text */
        *to++ = '.';
        to = digits(to, (unsigned)micro, 6);
    }
    *to++ = 'Z';
    if (quote)
        *to++ = quote;
    /* ASCII by construction (the quote is checked to be): copied, not decoded as UTF-8, which
     * cost about a third of the column's instructions. */
    PyObject *out = PyUnicode_New(to - text, 127);
    if (out)
        memcpy(PyUnicode_1BYTE_DATA(out), text, (size_t)(to - text));
    return out;
}

PyDoc_STRVAR(iso_times_doc,
"iso_times(epochs, quote, none, /)\n--\n\n"
"times.iso_times(epochs, quote) with `none` for each None; None (the caller's own path) when an\n"
"epoch is not a float or int in the fast range or `quote` is not one ASCII character or empty.");

static PyObject *
iso_times(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyList_Check(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "iso_times(list, str, object)");
        return NULL;
    }
    PyObject *epochs = args[0], *quotes = args[1], *none = args[2];
    Py_ssize_t quoted = PyUnicode_GET_LENGTH(quotes);
    if (quoted > 1 || !PyUnicode_IS_ASCII(quotes))
        Py_RETURN_NONE;
    char quote = quoted ? (char)PyUnicode_1BYTE_DATA(quotes)[0] : '\0';
    if (quoted && quote == '\0') /* a NUL quote would read as none */
        Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(epochs);
    PyObject *out = PyList_New(n);
    if (!out)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(epochs, i), *text;
        double epoch;
        if (item == Py_None) {
            Py_INCREF(none);
            PyList_SET_ITEM(out, i, none);
            continue;
        }
        if (PyFloat_CheckExact(item)) {
            epoch = PyFloat_AS_DOUBLE(item);
        } else if (PyLong_CheckExact(item)) {
            epoch = PyLong_AsDouble(item);
            if (epoch == -1.0 && PyErr_Occurred()) {
                PyErr_Clear();
                goto elsewhere;
            }
        } else {
            goto elsewhere;
        }
        if (!(epoch >= 0.0 && epoch < FAST_UNTIL)) /* NaN fails this too */
            goto elsewhere;
        text = iso_text(epoch, quote);
        if (!text) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, text);
    }
    return out;
elsewhere:
    Py_DECREF(out);
    Py_RETURN_NONE;
}

/* The report's lines (report/column_lines.py's lines_text): a chunk of JSON report lines as one text,
 * each line its parts in order (a text the same in every line, or the line's own item of a
 * column), an opener before the first line and a separator before every other. Made by zip(),
 * a tuple a line and one join of the chunk, the endpoint lines' joining cost 0.18 s of the
 * report's 0.9 CPU s at 100k servers. Only concatenates: every text was made (and every
 * outside string escaped) in Python; an int is written as int.__repr__ writes it. */

/* An exact int's decimal text into `to` (24 bytes): its length, or -1 when it does not fit a
 * long long (then int.__repr__ writes it), -2 on an error. */
static inline int
int_digits(PyObject *item, char *to)
{
    int overflow;
    long long value = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (overflow)
        return -1;
    if (value == -1 && PyErr_Occurred())
        return -2;
    unsigned long long rest = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    char reversed[24];
    int length = 0;
    do {
        reversed[length++] = (char)('0' + rest % 10);
        rest /= 10;
    } while (rest);
    if (value < 0)
        reversed[length++] = '-';
    for (int i = 0; i < length; i++)
        to[i] = reversed[length - 1 - i];
    return length;
}

/* `text`'s characters into `out` at `at` (out's kind at least text's). */
static inline void
copy_text(PyObject *out, Py_ssize_t at, PyObject *text)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(out), from = PyUnicode_KIND(text);
    void *data = PyUnicode_DATA(out);
    const void *source = PyUnicode_DATA(text);
    if (kind == from) {
        memcpy((char *)data + at * kind, source, (size_t)(length * kind));
    } else if (kind == PyUnicode_2BYTE_KIND) { /* from 1 byte */
        Py_UCS2 *to = (Py_UCS2 *)data + at;
        for (Py_ssize_t i = 0; i < length; i++)
            to[i] = ((const Py_UCS1 *)source)[i];
    } else { /* 4 bytes, from 1 or 2 */
        Py_UCS4 *to = (Py_UCS4 *)data + at;
        if (from == PyUnicode_1BYTE_KIND)
            for (Py_ssize_t i = 0; i < length; i++)
                to[i] = ((const Py_UCS1 *)source)[i];
        else
            for (Py_ssize_t i = 0; i < length; i++)
                to[i] = ((const Py_UCS2 *)source)[i];
    }
}

/* One part of a line: its text (borrowed, or new when `made`), or its digits. */
typedef struct {
    PyObject *text;
    int made;
    int digits;
    char ascii[24];
} Part;

/* Line `line`'s item of part `part`: 0, or -1 with an exception set. */
static int
part_of(PyObject *part, Py_ssize_t line, Part *into)
{
    into->made = 0;
    into->digits = -1;
    if (PyUnicode_Check(part)) {
        into->text = part;
        return 0;
    }
    PyObject *item = PyList_GET_ITEM(part, line);
    if (PyUnicode_CheckExact(item)) {
        into->text = item;
        return 0;
    }
    if (!PyLong_CheckExact(item)) {
        PyErr_Format(PyExc_TypeError, "a line's item is a str or an int, not %.100s",
                     Py_TYPE(item)->tp_name);
        return -1;
    }
    into->digits = int_digits(item, into->ascii);
    if (into->digits == -2)
        return -1;
    if (into->digits == -1) { /* past a long long: int's own text */
        into->text = PyLong_Type.tp_repr(item);
        if (!into->text)
            return -1;
        into->made = 1;
    }
    return 0;
}

/* The one-byte lines' buffer, kept between calls (a chunk's text is ~1 MB): grown to `need`
 * bytes; 0, or -1 with MemoryError. Only touched with the GIL held and no Python code run. */
static char *ones = NULL;
static size_t ones_size = 0;

static int
ones_hold(Py_ssize_t need)
{
    if (need < 0) {
        PyErr_NoMemory();
        return -1;
    }
    if ((size_t)need <= ones_size)
        return 0;
    size_t size = ones_size ? ones_size : 1 << 16;
    while (size < (size_t)need) {
        if (size > (size_t)PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        size *= 2;
    }
    char *grown = PyMem_Realloc(ones, size);
    if (!grown) {
        PyErr_NoMemory();
        return -1;
    }
    ones = grown;
    ones_size = size;
    return 0;
}

/* `text` (one byte a character) after the `at` bytes written: 0, or -1 with MemoryError. */
static inline int
ones_add(Py_ssize_t *at, const void *text, Py_ssize_t length)
{
    if (length > PY_SSIZE_T_MAX - *at || ones_hold(*at + length) < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    memcpy(ones + *at, text, (size_t)length);
    *at += length;
    return 0;
}

/* The lines in one pass when every text is of one byte a character (in practice always: a
 * report's texts are Latin-1 but for a rare name), written into `ones` and copied once into
 * the str: 1 with the text in *out, 0 when a wider text is met (the caller's two passes then
 * write it), -1 with an exception set (the same as the two passes raise, in the same order). */
static int
lines_of_one_byte(PyObject *opener, PyObject *separator, PyObject *parts, Py_ssize_t lines,
                  PyObject **out)
{
    Py_ssize_t count = PyTuple_GET_SIZE(parts), at = 0;
    Py_UCS4 widest = 0;
    Part got;
    for (Py_ssize_t line = 0; line < lines; line++) {
        PyObject *head = line ? separator : opener;
        if (PyUnicode_KIND(head) != PyUnicode_1BYTE_KIND)
            return 0;
        if (PyUnicode_MAX_CHAR_VALUE(head) > widest)
            widest = PyUnicode_MAX_CHAR_VALUE(head);
        if (ones_add(&at, PyUnicode_1BYTE_DATA(head), PyUnicode_GET_LENGTH(head)) < 0)
            return -1;
        for (Py_ssize_t p = 0; p < count; p++) {
            if (part_of(PyTuple_GET_ITEM(parts, p), line, &got) < 0)
                return -1;
            if (got.digits >= 0) {
                if (ones_add(&at, got.ascii, got.digits) < 0)
                    return -1;
                continue;
            }
            int wide = PyUnicode_KIND(got.text) != PyUnicode_1BYTE_KIND, failed = 0;
            if (!wide) {
                if (PyUnicode_MAX_CHAR_VALUE(got.text) > widest)
                    widest = PyUnicode_MAX_CHAR_VALUE(got.text);
                failed = ones_add(&at, PyUnicode_1BYTE_DATA(got.text),
                                  PyUnicode_GET_LENGTH(got.text)) < 0;
            }
            if (got.made)
                Py_DECREF(got.text);
            if (failed)
                return -1;
            if (wide)
                return 0;
        }
    }
    *out = PyUnicode_New(at, widest);
    if (!*out)
        return -1;
    memcpy(PyUnicode_1BYTE_DATA(*out), ones, (size_t)at);
    return 1;
}

PyDoc_STRVAR(lines_text_doc,
"lines_text(opener, separator, parts, /)\n--\n\n"
"column_lines.python_lines_text, compiled: the lines' text, each line its parts in order.");

static PyObject *
lines_text(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1]) ||
        !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "lines_text(str, str, tuple)");
        return NULL;
    }
    PyObject *opener = args[0], *separator = args[1], *parts = args[2];
    Py_ssize_t count = PyTuple_GET_SIZE(parts), lines = -1;
    int uneven = 0;
    for (Py_ssize_t p = 0; p < count; p++) {
        PyObject *part = PyTuple_GET_ITEM(parts, p);
        if (PyUnicode_Check(part))
            continue;
        if (!PyList_Check(part)) {
            PyErr_Format(PyExc_TypeError, "a part is a str or a list, not %.100s",
                         Py_TYPE(part)->tp_name);
            return NULL;
        }
        if (lines == -1)
            lines = PyList_GET_SIZE(part);
        else if (PyList_GET_SIZE(part) != lines)
            uneven = 1;
    }
    if (uneven || lines == -1) { /* a wrong part's TypeError first, as in Python */
        PyErr_SetString(PyExc_ValueError, uneven ? "the columns are not all as long" : "no column");
        return NULL;
    }
    if (lines == 0)
        return PyUnicode_New(0, 0);
    PyObject *made = NULL;
    int one_byte = lines_of_one_byte(opener, separator, parts, lines, &made);
    if (one_byte < 0)
        return NULL;
    if (one_byte)
        return made;
    /* A wider text among them: first the length and the widest character, as str.join finds them; then the copy. The
     * lists are only read, never changed, between the two passes (no Python code runs). */
    Py_ssize_t length = PyUnicode_GET_LENGTH(opener) +
                        (lines - 1) * PyUnicode_GET_LENGTH(separator);
    Py_UCS4 widest = PyUnicode_MAX_CHAR_VALUE(opener);
    if (lines > 1 && PyUnicode_MAX_CHAR_VALUE(separator) > widest)
        widest = PyUnicode_MAX_CHAR_VALUE(separator);
    Part got;
    for (Py_ssize_t line = 0; line < lines; line++) {
        for (Py_ssize_t p = 0; p < count; p++) {
            if (part_of(PyTuple_GET_ITEM(parts, p), line, &got) < 0)
                return NULL;
            if (got.digits >= 0) {
                length += got.digits;
                continue;
            }
            length += PyUnicode_GET_LENGTH(got.text);
            Py_UCS4 wide = PyUnicode_MAX_CHAR_VALUE(got.text);
            if (wide > widest)
                widest = wide;
            if (got.made)
                Py_DECREF(got.text);
            if (length < 0) {
                PyErr_NoMemory();
                return NULL;
            }
        }
    }
    PyObject *out = PyUnicode_New(length, widest);
    if (!out)
        return NULL;
    int kind = PyUnicode_KIND(out);
    void *data = PyUnicode_DATA(out);
    Py_ssize_t at = 0;
    for (Py_ssize_t line = 0; line < lines; line++) {
        PyObject *head = line ? separator : opener;
        copy_text(out, at, head);
        at += PyUnicode_GET_LENGTH(head);
        for (Py_ssize_t p = 0; p < count; p++) {
            if (part_of(PyTuple_GET_ITEM(parts, p), line, &got) < 0) {
                Py_DECREF(out);
                return NULL;
            }
            if (got.digits >= 0) {
                for (int i = 0; i < got.digits; i++)
                    PyUnicode_WRITE(kind, data, at + i, (Py_UCS1)got.ascii[i]);
                at += got.digits;
                continue;
            }
            copy_text(out, at, got.text);
            at += PyUnicode_GET_LENGTH(got.text);
            if (got.made)
                Py_DECREF(got.text);
        }
    }
    assert(at == length);
    return out;
}

/* The report's columns (report/columns.py's attribute_columns): a chunk's findings, endpoints and
 * locations read a column an attribute, list(map(attrgetter(name), objects)) each. attrgetter's
 * generic getattr (the type's lookup, then the slot's descriptor) was a fifth of the JSON report's
 * instructions at 100k servers; here each name's slot is found once for a run of objects of one
 * type and read by PyMember_GetOne. Anything else (another type, a name that is not a plain slot,
 * a class with its own __getattribute__, an empty slot) takes PyObject_GetAttr, as attrgetter. */

#include <structmember.h>

#define MOST_COLUMNS 16

/* The slot member generic getattr reads for `name` on instances of `type` (found as
 * PyObject_GenericGetAttr finds it, by _PyType_Lookup, which runs no Python code), or NULL: then
 * PyObject_GetAttr reads the attribute. */
static PyMemberDef *
slot_of(PyTypeObject *type, PyObject *name)
{
    if (type->tp_getattro != PyObject_GenericGetAttr)
        return NULL;
    PyObject *found = _PyType_Lookup(type, name); /* borrowed, kept by the type's dict */
    if (!found || !Py_IS_TYPE(found, &PyMemberDescr_Type) ||
        !PyType_IsSubtype(type, PyDescr_TYPE(found)))
        return NULL;
    PyMemberDef *member = ((PyMemberDescrObject *)found)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & PY_AUDIT_READ))
        return NULL;
    return member;
}

/* getattr(item, name) by `member` when given and the slot is set (as PyMember_GetOne reads a
 * T_OBJECT_EX slot), else by PyObject_GetAttr, which may run Python code: *ran is then set. A
 * new reference, or NULL with an exception set. */
static inline PyObject *
read_attribute(PyObject *item, PyObject *name, PyMemberDef *member, int *ran)
{
    if (member) {
        PyObject *value = *(PyObject **)((char *)item + member->offset);
        if (value) {
            Py_INCREF(value);
            return value;
        }
    }
    *ran = 1;
    return PyObject_GetAttr(item, name);
}

PyDoc_STRVAR(attribute_columns_doc,
"attribute_columns(objects, names, /)\n--\n\n"
"columns.python_attribute_columns, compiled: a list of getattr(o, name) for o in objects, a name\n"
"each (a tuple of lists); at most 16 names, none dotted (ValueError).");

static PyObject *
attribute_columns(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "attribute_columns(list, tuple)");
        return NULL;
    }
    PyObject *objects = args[0], *names = args[1];
    Py_ssize_t count = PyTuple_GET_SIZE(names), n = PyList_GET_SIZE(objects);
    if (count > MOST_COLUMNS) {
        PyErr_SetString(PyExc_ValueError, "attribute_columns: at most 16 names");
        return NULL;
    }
    for (Py_ssize_t c = 0; c < count; c++) {
        PyObject *name = PyTuple_GET_ITEM(names, c);
        if (!PyUnicode_Check(name)) {
            PyErr_SetString(PyExc_TypeError, "attribute_columns: a name is a str");
            return NULL;
        }
        Py_ssize_t dot = PyUnicode_FindChar(name, '.', 0, PyUnicode_GET_LENGTH(name), 1);
        if (dot == -2)
            return NULL;
        if (dot >= 0) { /* attrgetter would follow it: the caller's Python path does */
            PyErr_SetString(PyExc_ValueError, "attribute_columns: a dotted name");
            return NULL;
        }
    }
    PyObject *out = PyTuple_New(count);
    if (!out)
        return NULL;
    for (Py_ssize_t c = 0; c < count; c++) {
        PyObject *column = PyList_New(n);
        if (!column) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, c, column);
    }
    PyTypeObject *type = NULL; /* the type the members were found for */
    PyMemberDef *members[MOST_COLUMNS];
    /* Each object's attributes read before the next object's, in the order attrgetter(*names)
     * would read them; the list is only read (no Python code runs but a getattr's, which may
     * change it: its size and items are read anew for each object). */
    for (Py_ssize_t i = 0; i < n && i < PyList_GET_SIZE(objects); i++) {
        PyObject *item = PyList_GET_ITEM(objects, i);
        Py_INCREF(item);
        if (Py_TYPE(item) != type) {
            type = Py_TYPE(item);
            for (Py_ssize_t c = 0; c < count; c++)
                members[c] = slot_of(type, PyTuple_GET_ITEM(names, c));
        }
        int ran = 0; /* Python code ran (it may change a class): every name found again */
        for (Py_ssize_t c = 0; c < count; c++) {
            PyObject *name = PyTuple_GET_ITEM(names, c);
            PyObject *value = read_attribute(item, name, ran ? NULL : members[c], &ran);
            if (!value) {
                Py_DECREF(item);
                Py_DECREF(out);
                return NULL;
            }
            PyList_SET_ITEM(PyTuple_GET_ITEM(out, c), i, value);
        }
        if (ran)
            type = NULL;
        Py_DECREF(item);
    }
    if (PyList_GET_SIZE(objects) != n) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_RuntimeError, "attribute_columns: the list changed size");
        return NULL;
    }
    return out;
}

static PyMethodDef methods[] = {
    {"udp_payload_kind", udp_payload_kind, METH_O, udp_payload_kind_doc},
    {"pcap_records", pcap_records, METH_VARARGS, pcap_records_doc},
    {"epb_records", epb_records, METH_VARARGS, epb_records_doc},
    {"pack_rows", (PyCFunction)(void (*)(void))pack_rows, METH_FASTCALL, pack_rows_doc},
    {"pair_rows", (PyCFunction)(void (*)(void))pair_rows, METH_FASTCALL, pair_rows_doc},
    {"trip_rows", (PyCFunction)(void (*)(void))trip_rows, METH_FASTCALL, trip_rows_doc},
    {"ipv4_texts", ipv4_texts, METH_O, ipv4_texts_doc},
    {"tally_rows", (PyCFunction)(void (*)(void))tally_rows, METH_FASTCALL, tally_rows_doc},
    {"iso_times", (PyCFunction)(void (*)(void))iso_times, METH_FASTCALL, iso_times_doc},
    {"lines_text", (PyCFunction)(void (*)(void))lines_text, METH_FASTCALL, lines_text_doc},
    {"attribute_columns", (PyCFunction)(void (*)(void))attribute_columns, METH_FASTCALL,
     attribute_columns_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_loop", "The packet loops of pcap.py and pcapng.py, the pairing of packed.py and the report's time texts, compiled.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__loop(void)
{
    ZERO = PyLong_FromLong(0);
    ONE = PyLong_FromLong(1);
    FLOWS = PyUnicode_InternFromString("flows");
    MAX_FLOWS = PyUnicode_InternFromString("max_flows");
    ORPHANS = PyUnicode_InternFromString("orphans");
    FIRSTS = PyUnicode_InternFromString("firsts");
    ADD = PyUnicode_InternFromString("add");
    if (!ZERO || !ONE || !FLOWS || !MAX_FLOWS || !ORPHANS || !FIRSTS || !ADD)
        return NULL;
    return PyModule_Create(&module);
}
