/* Frozen slotted dataclass instances built without their __init__ (auditor/frozen.py).
 *
 * Why C: a frozen dataclass's __init__ sets each field through object.__setattr__, a call per
 * field; a Location (12 fields) cost 2.9 us that way, a ServerEndpoint ~4 us, and an audit of
 * 100k servers builds one of each per server. A builder stores the given values straight into
 * the instance's slots, at the offsets its member descriptors read them from, so the instance
 * is what cls(*values) makes: the same type, the same slot values (so ==, hash and repr agree),
 * tracked by the GC as any instance of its type, and still frozen against setattr.
 *
 * Storing at an offset is only safe for a layout checked here, once, when the builder is made:
 * a plain heap type directly under object, made by type itself, allocated and created by the
 * defaults, no __dict__, no __weakref__, no items, and exactly one object slot per field, each
 * field's own member descriptor pointing into the instance. frozen.py checks the dataclass
 * side (frozen, slots, the generated __init__, no __post_init__, no InitVar) before asking.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h> /* offsetof: Python.h no longer brings it from 3.12 on */
#if PY_VERSION_HEX < 0x030C0000
#include <structmember.h>
#define Py_T_OBJECT_EX T_OBJECT_EX
#define Py_READONLY READONLY
#endif

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyTypeObject *cls;
    Py_ssize_t count;
    Py_ssize_t *offsets; /* where field i's value goes, in the fields' order */
} Builder;

static PyObject *
build(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Builder *builder = (Builder *)self;
    Py_ssize_t given = PyVectorcall_NARGS(nargsf);
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0) {
        PyErr_Format(PyExc_TypeError, "a builder of %s takes its values by position only",
                     builder->cls->tp_name);
        return NULL;
    }
    if (given != builder->count) {
        PyErr_Format(PyExc_TypeError, "a builder of %s takes %zd values, %zd given",
                     builder->cls->tp_name, builder->count, given);
        return NULL;
    }
    /* Zeroed, the type's reference taken, and GC-tracked if the type is, as object.__new__
     * allocates; nothing below can run Python code (or a collection) before every slot is set. */
    PyObject *made = builder->cls->tp_alloc(builder->cls, 0);
    if (made == NULL)
        return NULL;
    char *base = (char *)made;
    for (Py_ssize_t i = 0; i < given; i++) {
        Py_INCREF(args[i]);
        *(PyObject **)(base + builder->offsets[i]) = args[i];
    }
    return made;
}

static int
builder_traverse(Builder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->cls);
    return 0;
}

static int
builder_clear(Builder *self)
{
    Py_CLEAR(self->cls);
    return 0;
}

static void
builder_dealloc(Builder *self)
{
    PyObject_GC_UnTrack(self);
    builder_clear(self);
    PyMem_Free(self->offsets);
    PyObject_GC_Del(self);
}

static PyObject *
builder_repr(Builder *self)
{
    return PyUnicode_FromFormat("<builder of %s>", self->cls->tp_name);
}

static PyTypeObject BuilderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "auditor._frozen.Builder",
    .tp_basicsize = sizeof(Builder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Builder, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_traverse = (traverseproc)builder_traverse,
    .tp_clear = (inquiry)builder_clear,
    .tp_dealloc = (destructor)builder_dealloc,
    .tp_repr = (reprfunc)builder_repr,
    .tp_doc = "Builds instances of one frozen slotted dataclass from all its field values.",
};

static int
refuse(PyTypeObject *cls, const char *why)
{
    PyErr_Format(PyExc_TypeError, "%s cannot be built by slots: %s", cls->tp_name, why);
    return -1;
}

/* The layout: every check that makes storing at the offsets safe and complete. */
static int
check_layout(PyTypeObject *cls, Py_ssize_t count)
{
    if (!Py_IS_TYPE((PyObject *)cls, &PyType_Type))
        return refuse(cls, "its metaclass is not type");
    if (!(cls->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return refuse(cls, "it is not a class made by a class statement");
    if (cls->tp_base != &PyBaseObject_Type)
        return refuse(cls, "its base is not object");
    if (cls->tp_itemsize != 0 || cls->tp_dictoffset != 0 || cls->tp_weaklistoffset != 0)
        return refuse(cls, "it has items, a __dict__ or a __weakref__");
#ifdef Py_TPFLAGS_MANAGED_DICT
    if (cls->tp_flags & Py_TPFLAGS_MANAGED_DICT)
        return refuse(cls, "it has a __dict__");
#endif
#ifdef Py_TPFLAGS_MANAGED_WEAKREF
    if (cls->tp_flags & Py_TPFLAGS_MANAGED_WEAKREF)
        return refuse(cls, "it has a __weakref__");
#endif
    if (cls->tp_new != PyBaseObject_Type.tp_new || cls->tp_alloc != PyType_GenericAlloc)
        return refuse(cls, "it is not created and allocated as object is");
    if (cls->tp_basicsize != (Py_ssize_t)(sizeof(PyObject) + count * sizeof(PyObject *)))
        return refuse(cls, "its instances hold other than one slot per field");
    return 0;
}

/* Field i's offset, from the class's own member descriptor for it. */
static int
field_offset(PyTypeObject *cls, PyObject *name, Py_ssize_t count, Py_ssize_t *offset)
{
    if (!PyUnicode_Check(name))
        return refuse(cls, "a field name is not a str");
    PyObject *descriptor = PyDict_GetItemWithError(cls->tp_dict, name);
    if (descriptor == NULL) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "%s cannot be built by slots: %R is no slot of it",
                         cls->tp_name, name);
        return -1;
    }
    if (!Py_IS_TYPE(descriptor, &PyMemberDescr_Type)
        || PyDescr_TYPE(descriptor) != cls)
        return refuse(cls, "a field is not its own slot");
    PyMemberDef *member = ((PyMemberDescrObject *)descriptor)->d_member;
    Py_ssize_t at = member->offset;
    Py_ssize_t first = (Py_ssize_t)sizeof(PyObject);
    if (member->type != Py_T_OBJECT_EX || (member->flags & Py_READONLY)
        || at < first || at > first + (count - 1) * (Py_ssize_t)sizeof(PyObject *)
        || (at - first) % (Py_ssize_t)sizeof(PyObject *) != 0)
        return refuse(cls, "a field's slot is not an object slot of its instances");
    *offset = at;
    return 0;
}

/* builder(cls, names): a Builder of cls, whose fields are names, in the order values come. */
static PyObject *
make_builder(PyObject *module, PyObject *args)
{
    PyTypeObject *cls;
    PyObject *names;
    if (!PyArg_ParseTuple(args, "O!O!:builder", &PyType_Type, &cls, &PyTuple_Type, &names))
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(names);
    if (count == 0) {
        refuse(cls, "it has no fields");
        return NULL;
    }
    if (check_layout(cls, count) < 0)
        return NULL;
    Py_ssize_t *offsets = PyMem_Calloc((size_t)count, sizeof(Py_ssize_t));
    char *taken = PyMem_Calloc((size_t)count, 1); /* each slot given to one field only */
    if (offsets == NULL || taken == NULL) {
        PyMem_Free(offsets);
        PyMem_Free(taken);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t slot;
        if (field_offset(cls, PyTuple_GET_ITEM(names, i), count, &offsets[i]) < 0)
            goto fail;
        slot = (offsets[i] - (Py_ssize_t)sizeof(PyObject)) / (Py_ssize_t)sizeof(PyObject *);
        if (taken[slot]) {
            refuse(cls, "two fields share a slot");
            goto fail;
        }
        taken[slot] = 1;
    }
    PyMem_Free(taken);
    Builder *builder = PyObject_GC_New(Builder, &BuilderType);
    if (builder == NULL) {
        PyMem_Free(offsets);
        return NULL;
    }
    builder->vectorcall = build;
    Py_INCREF(cls);
    builder->cls = cls;
    builder->count = count;
    builder->offsets = offsets;
    PyObject_GC_Track(builder);
    return (PyObject *)builder;
fail:
    PyMem_Free(offsets);
    PyMem_Free(taken);
    return NULL;
}

static PyMethodDef methods[] = {
    {"builder", make_builder, METH_VARARGS,
     "A builder of a frozen slotted dataclass: its values stored into the slots of its fields."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_frozen", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__frozen(void)
{
    if (PyType_Ready(&BuilderType) < 0)
        return NULL;
    return PyModule_Create(&module);
}
