/* The search tree of a MaxMind DB walked for many addresses at once, without decoding a
 * record: where each address's walk ends (a data pointer, the empty record, or a node) and
 * at what depth. auditor/geo/bulk.py then decodes each distinct end once, through the
 * maxminddb reader, and checks there that the reader's prefix length is the walk's depth.
 * Walked as libmaxminddb does (find_address_in_search_tree): from the root, one bit a node,
 * until the bits run out or the value is no node (>= node_count). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static inline uint32_t
record_of(const unsigned char *tree, uint32_t node, int bit, int record_size)
{
    const unsigned char *p;
    switch (record_size) {
    case 24:
        p = tree + (size_t)node * 6 + (size_t)bit * 3;
        return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
    case 28:
        p = tree + (size_t)node * 7;
        if (bit)
            return ((uint32_t)(p[3] & 0x0F) << 24) | ((uint32_t)p[4] << 16)
                   | ((uint32_t)p[5] << 8) | p[6];
        return ((uint32_t)(p[3] & 0xF0) << 20) | ((uint32_t)p[0] << 16)
               | ((uint32_t)p[1] << 8) | p[2];
    default: /* 32 */
        p = tree + (size_t)node * 8 + (size_t)bit * 4;
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    }
}

/* Whether two addresses whose bits differ by (x_hi, x_lo) agree on their first n bits. */
static inline int
same_first_bits(uint64_t x_hi, uint64_t x_lo, int n)
{
    if (n == 0)
        return 1;
    if (n <= 64)
        return (x_hi >> (64 - n)) == 0;
    return x_hi == 0 && (x_lo >> (128 - n)) == 0;
}

/* item >> shift as an unsigned 64-bit int's low bits; 0 with an exception if that fails. */
static int
shifted(PyObject *item, long shift, uint64_t *out)
{
    PyObject *by = PyLong_FromLong(shift);
    PyObject *high = by ? PyNumber_Rshift(item, by) : NULL;
    Py_XDECREF(by);
    if (high == NULL)
        return 0;
    *out = PyLong_AsUnsignedLongLongMask(high);
    Py_DECREF(high);
    return !(*out == (uint64_t)-1 && PyErr_Occurred());
}

/* A spot (see bulk.spot): an IPv4 address's value, or an IPv6 address's with bit 128 set. Its
 * address as two 64-bit halves, and whether it is IPv6; 0 with an exception for anything else. */
static int
parts(PyObject *item, uint64_t *hi, uint64_t *lo, int *v6)
{
    if (!PyLong_CheckExact(item)) {
        PyErr_SetString(PyExc_TypeError, "a spot is an int");
        return 0;
    }
    int overflow = 0;
    long long small = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (small == -1 && PyErr_Occurred())
        return 0;
    uint64_t flag = 0;
    if (overflow == 0 && small >= 0 && small <= (long long)UINT32_MAX) {
        *hi = 0;
        *lo = (uint64_t)small;
        *v6 = 0;
        return 1;
    }
    if (overflow > 0) {
        if (!shifted(item, 128, &flag))
            return 0;
        if (flag == 1) { /* below 2**129, so item >> 128 is exactly the flag */
            if (!shifted(item, 64, hi))
                return 0;
            *lo = PyLong_AsUnsignedLongLongMask(item);
            if (*lo == (uint64_t)-1 && PyErr_Occurred())
                return 0;
            *v6 = 1;
            return 1;
        }
    }
    PyErr_SetString(PyExc_ValueError, "a spot is an IPv4 address, or an IPv6 one with bit 128 set");
    return 0;
}

/* walk(tree, node_count, record_size, bits, addresses) -> (ends, depths)
 * tree: the search tree section (node_count nodes, at least); bits: 32 or 128, the tree's
 * address width (metadata ip_version 4 or 6); addresses: a list of spots. ends: the value each
 * walk ends on (None for an IPv6 address in an IPv4 tree); depths: bytes, how many bits each
 * walk took (an IPv4 address in a 128-bit tree as ::a.b.c.d: 96 more than its prefix). */
static PyObject *
walk(PyObject *self, PyObject *args)
{
    Py_buffer tree;
    unsigned long long node_count_arg;
    int record_size, bits;
    PyObject *addresses;
    if (!PyArg_ParseTuple(args, "y*KiiO!", &tree, &node_count_arg, &record_size, &bits,
                          &PyList_Type, &addresses))
        return NULL;
    PyObject *ends = NULL, *depths = NULL, *result = NULL;
    PyObject *end = NULL; /* the value the walk before ended on */
    uint32_t node_count = (uint32_t)node_count_arg;
    size_t node_bytes = (size_t)record_size / 4;
    if (record_size != 24 && record_size != 28 && record_size != 32) {
        PyErr_Format(PyExc_ValueError, "unknown record size %d", record_size);
        goto done;
    }
    if (bits != 32 && bits != 128) {
        PyErr_Format(PyExc_ValueError, "an address is 32 or 128 bits, not %d", bits);
        goto done;
    }
    if (node_count_arg > UINT32_MAX || (size_t)tree.len / node_bytes < node_count) {
        PyErr_SetString(PyExc_ValueError, "the tree is shorter than its node count");
        goto done;
    }
    const unsigned char *nodes = (const unsigned char *)tree.buf;
    Py_ssize_t count = PyList_GET_SIZE(addresses);
    ends = PyList_New(count);
    depths = PyBytes_FromStringAndSize(NULL, count);
    if (ends == NULL || depths == NULL)
        goto done;
    unsigned char *depth_out = (unsigned char *)PyBytes_AS_STRING(depths);
    /* Where the 96 zero bits of every ::a.b.c.d lead, walked once. */
    uint32_t v4_node = 0;
    int v4_depth = 0;
    if (bits == 128)
        for (; v4_depth < 96 && v4_node < node_count; v4_depth++)
            v4_node = record_of(nodes, v4_node, 0, record_size);
    /* The walk before: an address that shares its first `depth` bits ends where it ended.
     * Addresses in ascending order mostly do, and cost no walk. */
    uint64_t last_hi = 0, last_lo = 0;
    uint32_t value = 0;
    int depth = -1; /* none yet */
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GET_ITEM(addresses, i);
        uint64_t hi, lo;
        int v6;
        if (!parts(item, &hi, &lo, &v6))
            goto done;
        if (bits == 32) {
            if (v6) { /* IPv6 in an IPv4-only tree: not walked (None) */
                Py_INCREF(Py_None);
                PyList_SET_ITEM(ends, i, Py_None);
                depth_out[i] = 0;
                continue;
            }
            hi = lo << 32; /* the address's bits from the top of hi, as for 128 */
            lo = 0;
        }
        if (depth < 0 || !same_first_bits(hi ^ last_hi, lo ^ last_lo, depth)) {
            value = 0;
            depth = 0;
            if (bits == 128 && !v6) { /* ::a.b.c.d, as libmaxminddb maps an IPv4 address */
                value = v4_node;
                depth = v4_depth;
            }
            for (; depth < bits && value < node_count; depth++) {
                uint64_t half = depth < 64 ? hi : lo;
                value = record_of(nodes, value, (int)(half >> (63 - (depth & 63))) & 1,
                                  record_size);
            }
            last_hi = hi;
            last_lo = lo;
            Py_XDECREF(end);
            end = PyLong_FromUnsignedLong(value);
            if (end == NULL)
                goto done;
        }
        Py_INCREF(end);
        PyList_SET_ITEM(ends, i, end);
        depth_out[i] = (unsigned char)depth;
    }
    result = PyTuple_Pack(2, ends, depths);
done:
    Py_XDECREF(end);
    Py_XDECREF(ends);
    Py_XDECREF(depths);
    PyBuffer_Release(&tree);
    return result;
}

static PyMethodDef methods[] = {
    {"walk", walk, METH_VARARGS, "Where each address's walk down a MaxMind DB search tree ends."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tree", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__tree(void)
{
    return PyModule_Create(&module);
}
