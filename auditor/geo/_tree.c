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

/* The int object of each distinct end a walk met, so that the addresses ending on one value
 * share one object and group() tells them alike by identity: an open-addressed table of
 * (value, object) pairs, doubled when half full. */
typedef struct {
    uint32_t *values;
    PyObject **objects; /* NULL: an empty slot; each held (a new reference) */
    size_t mask;        /* the slot count less one, a power of two less one */
    size_t used;
} EndTable;

static void
ends_free(EndTable *table)
{
    if (table->objects != NULL)
        for (size_t i = 0; i <= table->mask; i++)
            Py_XDECREF(table->objects[i]);
    PyMem_Free(table->values);
    PyMem_Free(table->objects);
    table->values = NULL;
    table->objects = NULL;
}

static int
ends_init(EndTable *table, size_t slots)
{
    table->values = PyMem_Calloc(slots, sizeof(uint32_t));
    table->objects = PyMem_Calloc(slots, sizeof(PyObject *));
    table->mask = slots - 1;
    table->used = 0;
    if (table->values == NULL || table->objects == NULL) {
        ends_free(table);
        PyErr_NoMemory();
        return 0;
    }
    return 1;
}

static inline size_t
end_slot(const EndTable *table, uint32_t value)
{
    size_t slot = (size_t)(value * 2654435761u) & table->mask;
    while (table->objects[slot] != NULL && table->values[slot] != value)
        slot = (slot + 1) & table->mask;
    return slot;
}

/* The table's object for value (a new reference), made and kept when first asked; NULL with an
 * exception if memory fails. */
static PyObject *
end_object(EndTable *table, uint32_t value)
{
    size_t slot = end_slot(table, value);
    if (table->objects[slot] != NULL) {
        Py_INCREF(table->objects[slot]);
        return table->objects[slot];
    }
    if (2 * (table->used + 1) > table->mask + 1) {
        EndTable bigger;
        if (!ends_init(&bigger, 2 * (table->mask + 1)))
            return NULL;
        for (size_t i = 0; i <= table->mask; i++)
            if (table->objects[i] != NULL) {
                size_t to = end_slot(&bigger, table->values[i]);
                bigger.values[to] = table->values[i];
                bigger.objects[to] = table->objects[i]; /* the reference moves */
                table->objects[i] = NULL;
            }
        bigger.used = table->used;
        ends_free(table);
        *table = bigger;
        slot = end_slot(table, value);
    }
    PyObject *made = PyLong_FromUnsignedLong(value);
    if (made == NULL)
        return NULL;
    table->values[slot] = value;
    table->objects[slot] = made;
    table->used++;
    Py_INCREF(made);
    return made;
}

/* walk(tree, node_count, record_size, bits, addresses) -> (ends, depths)
 * tree: the search tree section (node_count nodes, at least); bits: 32 or 128, the tree's
 * address width (metadata ip_version 4 or 6); addresses: a list of spots. ends: the value each
 * walk ends on (None for an IPv6 address in an IPv4 tree); depths: bytes, how many bits each
 * walk took (an IPv4 address in a 128-bit tree as ::a.b.c.d: 96 more than its prefix).
 * Addresses whose walks end on one value are given one int object for it. */
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
    EndTable table = {NULL, NULL, 0, 0};
    if (!ends_init(&table, 64))
        goto done;
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
            end = end_object(&table, value);
            if (end == NULL)
                goto done;
        }
        Py_INCREF(end);
        PyList_SET_ITEM(ends, i, end);
        depth_out[i] = (unsigned char)depth;
    }
    result = PyTuple_Pack(2, ends, depths);
done:
    ends_free(&table);
    Py_XDECREF(end);
    Py_XDECREF(ends);
    Py_XDECREF(depths);
    PyBuffer_Release(&tree);
    return result;
}

/* group(columns) -> (firsts, index)
 * columns: a non-empty list of lists of one length. Rows alike hold the same objects (by
 * identity) in every column. index: each row's group, numbered in the order first met;
 * firsts: each group's first row. As bulk.group_in_python, without a key tuple per row. */
static PyObject *
group(PyObject *self, PyObject *columns)
{
    if (!PyList_CheckExact(columns) || PyList_GET_SIZE(columns) == 0) {
        PyErr_SetString(PyExc_TypeError, "columns is a non-empty list of lists");
        return NULL;
    }
    Py_ssize_t width = PyList_GET_SIZE(columns);
    Py_ssize_t count = -1;
    for (Py_ssize_t c = 0; c < width; c++) {
        PyObject *column = PyList_GET_ITEM(columns, c);
        if (!PyList_CheckExact(column)) {
            PyErr_SetString(PyExc_TypeError, "columns is a non-empty list of lists");
            return NULL;
        }
        if (count >= 0 && PyList_GET_SIZE(column) != count) {
            PyErr_SetString(PyExc_ValueError, "the columns differ in length");
            return NULL;
        }
        count = PyList_GET_SIZE(column);
    }
    PyObject **cells = NULL; /* row-major copies of the item pointers (borrowed) */
    Py_ssize_t *table = NULL, *firsts = NULL;
    PyObject *index = NULL, *first_list = NULL, *result = NULL;
    size_t slots = 16;
    while (slots < 2 * (size_t)count)
        slots <<= 1;
    if ((size_t)count > PY_SSIZE_T_MAX / sizeof(PyObject *) / (size_t)width) {
        PyErr_NoMemory();
        return NULL;
    }
    cells = PyMem_Malloc(sizeof(PyObject *) * (size_t)(count * width) + 1);
    table = PyMem_Malloc(sizeof(Py_ssize_t) * slots);
    firsts = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)count + 1);
    index = PyList_New(count);
    if (cells == NULL || table == NULL || firsts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (index == NULL)
        goto done;
    for (Py_ssize_t c = 0; c < width; c++) {
        PyObject *column = PyList_GET_ITEM(columns, c);
        for (Py_ssize_t row = 0; row < count; row++)
            cells[row * width + c] = PyList_GET_ITEM(column, row);
    }
    for (size_t i = 0; i < slots; i++)
        table[i] = -1;
    size_t mask = slots - 1;
    Py_ssize_t groups = 0;
    for (Py_ssize_t row = 0; row < count; row++) {
        PyObject **items = cells + row * width;
        uint64_t hash = 1469598103934665603ull;
        for (Py_ssize_t c = 0; c < width; c++)
            hash = (hash ^ ((uintptr_t)items[c] >> 4)) * 1099511628211ull;
        size_t slot = (size_t)(hash ^ (hash >> 29)) & mask;
        Py_ssize_t found;
        for (;;) {
            found = table[slot];
            if (found < 0)
                break;
            PyObject **held = cells + firsts[found] * width;
            Py_ssize_t c = 0;
            while (c < width && held[c] == items[c])
                c++;
            if (c == width)
                break;
            slot = (slot + 1) & mask;
        }
        if (found < 0) {
            found = groups++;
            firsts[found] = row;
            table[slot] = found;
        }
        PyObject *number = PyLong_FromSsize_t(found);
        if (number == NULL)
            goto done;
        PyList_SET_ITEM(index, row, number);
    }
    first_list = PyList_New(groups);
    if (first_list == NULL)
        goto done;
    for (Py_ssize_t g = 0; g < groups; g++) {
        PyObject *number = PyLong_FromSsize_t(firsts[g]);
        if (number == NULL)
            goto done;
        PyList_SET_ITEM(first_list, g, number);
    }
    result = PyTuple_Pack(2, first_list, index);
done:
    PyMem_Free(cells);
    PyMem_Free(table);
    PyMem_Free(firsts);
    Py_XDECREF(first_list);
    Py_XDECREF(index);
    return result;
}

/* A list of ints each at least 0 and below 2**32, as words; 0 with an exception otherwise. */
static int
words_of(PyObject *list, uint32_t **out, Py_ssize_t *length)
{
    if (!PyList_CheckExact(list) && !PyTuple_CheckExact(list)) {
        PyErr_SetString(PyExc_TypeError, "a list or tuple of ints is wanted");
        return 0;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(list);
    PyObject **items = PySequence_Fast_ITEMS(list);
    uint32_t *words = PyMem_Malloc(sizeof(uint32_t) * (size_t)count + 1);
    if (words == NULL) {
        PyErr_NoMemory();
        return 0;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyLong_CheckExact(items[i])) {
            PyMem_Free(words);
            PyErr_SetString(PyExc_TypeError, "a list or tuple of ints is wanted");
            return 0;
        }
        int overflow = 0;
        long long value = PyLong_AsLongLongAndOverflow(items[i], &overflow);
        if (value == -1 && PyErr_Occurred()) {
            PyMem_Free(words);
            return 0;
        }
        if (overflow != 0 || value < 0 || value > (long long)UINT32_MAX) {
            PyMem_Free(words);
            PyErr_SetString(PyExc_ValueError, "an int below 0 or past 2**32 - 1");
            return 0;
        }
        words[i] = (uint32_t)value;
    }
    *out = words;
    *length = count;
    return 1;
}

/* segment_items(starts, items, values) -> [items[bisect_right(starts, value)] for each value]
 * starts: sorted ints of 32 bits (a list or tuple); items: a list one longer; values: a list
 * of ints of 32 bits. What auditor/platform_ranges._segment_items_in_python gives. */
static PyObject *
segment_items(PyObject *self, PyObject *args)
{
    PyObject *starts_arg, *items, *values_arg;
    if (!PyArg_ParseTuple(args, "OO!O!", &starts_arg, &PyList_Type, &items, &PyList_Type,
                          &values_arg))
        return NULL;
    uint32_t *starts = NULL, *values = NULL;
    Py_ssize_t nstarts = 0, nvalues = 0;
    PyObject *result = NULL;
    if (!words_of(starts_arg, &starts, &nstarts) || !words_of(values_arg, &values, &nvalues))
        goto done;
    if (PyList_GET_SIZE(items) != nstarts + 1) {
        PyErr_SetString(PyExc_ValueError, "items is one longer than starts");
        goto done;
    }
    for (Py_ssize_t i = 1; i < nstarts; i++)
        if (starts[i - 1] > starts[i]) {
            PyErr_SetString(PyExc_ValueError, "starts is not sorted");
            goto done;
        }
    result = PyList_New(nvalues);
    if (result == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < nvalues; i++) {
        uint32_t value = values[i];
        Py_ssize_t low = 0, high = nstarts; /* bisect_right */
        while (low < high) {
            Py_ssize_t middle = low + (high - low) / 2;
            if (value < starts[middle])
                high = middle;
            else
                low = middle + 1;
        }
        PyObject *item = PyList_GET_ITEM(items, low);
        Py_INCREF(item);
        PyList_SET_ITEM(result, i, item);
    }
done:
    PyMem_Free(starts);
    PyMem_Free(values);
    return result;
}

static PyMethodDef methods[] = {
    {"walk", walk, METH_VARARGS, "Where each address's walk down a MaxMind DB search tree ends."},
    {"group", group, METH_O, "Rows alike by the identities of their items: (firsts, index)."},
    {"segment_items", segment_items, METH_VARARGS,
     "items[bisect_right(starts, value)] of each value, for 32-bit ints."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tree", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__tree(void)
{
    return PyModule_Create(&module);
}
