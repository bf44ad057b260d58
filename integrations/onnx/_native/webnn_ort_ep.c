/*
 * webnn_ort_ep.c -- the native shim of the WebNN plugin execution provider for ONNX Runtime.
 *
 * One shared object with two faces:
 *   - a CPython extension module (webnn.integrations.onnx._native._webnn_ort_ep): Python
 *     imports it and installs the "bridge", the Python object every decision goes to;
 *   - an ORT plugin EP library: it exports CreateEpFactories / ReleaseEpFactory, and ORT
 *     loads the very same file (get_library_path() returns its path; the dynamic loader
 *     hands ORT the already-loaded copy, so both faces share the globals below).
 *
 * The shim decides nothing. It translates ORT's graph objects into plain Python values,
 * calls the bridge, and translates the answers back (nodes to fuse, compute kernels).
 * Rules kept throughout:
 *   - every call into Python holds the GIL (PyGILState_Ensure: ORT calls from its own
 *     threads, and session.run releases the GIL while ORT works);
 *   - no Python exception crosses into ORT: each becomes an OrtStatus carrying the message;
 *   - Python objects ORT can still call into are owned (a reference) by the C struct ORT
 *     holds, and released only when ORT releases that struct;
 *   - after the interpreter starts shutting down nothing touches Python again.
 * The ORT declarations used are in ort_abi.h (with the ORT versions they were checked on).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ort_abi.h"

#if defined(__GNUC__)
#define WEBNN_EXPORT __attribute__((visibility("default")))
#else
#define WEBNN_EXPORT
#endif

#define EP_LOG_PREFIX "WebNNExecutionProvider"
#define BRIDGE_MODULE "webnn.integrations.onnx.plugin.bridge"

/* ---- the ORT function tables, read by slot ------------------------------------------- */
typedef void (*GenericFn)(void);

typedef struct {
#define WEBNN_DECLARE(slot, ret, name, params) ret(*name) params;
  WEBNN_ORT_API_FUNCS(WEBNN_DECLARE)
#undef WEBNN_DECLARE
} OrtFns;

typedef struct {
#define WEBNN_DECLARE(slot, ret, name, params) ret(*name) params;
  WEBNN_ORT_EP_API_FUNCS(WEBNN_DECLARE)
#undef WEBNN_DECLARE
} OrtEpFns;

static OrtFns ort;
static OrtEpFns ort_ep;
static int ort_ready = 0;
static char ort_version[64] = "";

static PyObject* bridge = NULL;      /* the installed Python bridge (a module or object) */
static int python_gone = 0;          /* set by the bridge's atexit hook */

static int load_tables(const void* api) {
  const GenericFn* table = (const GenericFn*)api;
#define WEBNN_LOAD(slot, ret, name, params) ort.name = (ret(*) params)table[slot];
  WEBNN_ORT_API_FUNCS(WEBNN_LOAD)
#undef WEBNN_LOAD
  const void* ep_api = ort.GetEpApi();
  if (ep_api == NULL) return 0;
  const GenericFn* ep_table = (const GenericFn*)ep_api;
#define WEBNN_LOAD(slot, ret, name, params) ort_ep.name = (ret(*) params)ep_table[slot];
  WEBNN_ORT_EP_API_FUNCS(WEBNN_LOAD)
#undef WEBNN_LOAD
  return 1;
}

static OrtStatus* make_status(int code, const char* message) {
  return ort.CreateStatus(code, message);
}

static int python_usable(void) { return Py_IsInitialized() && !python_gone; }

/* ---- errors: ORT status -> Python exception, Python exception -> ORT status ---------- */

/* Turn a failed ORT call into a Python RuntimeError (GIL held). Returns 0 on failure. */
static int ort_ok(OrtStatus* status, const char* what) {
  if (status == NULL) return 1;
  PyErr_Format(PyExc_RuntimeError, "ONNX Runtime %s failed: %s", what, ort.GetErrorMessage(status));
  ort.ReleaseStatus(status);
  return 0;
}
#define ORT_TRY(call, what) \
  do {                      \
    if (!ort_ok((call), (what))) goto fail; \
  } while (0)

/* The pending Python exception as an OrtStatus (GIL held); clears the exception. */
static OrtStatus* status_from_python(const char* where) {
  PyObject *type = NULL, *value = NULL, *tb = NULL;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  int code = WEBNN_ORT_FAIL;
  const char* type_name = "Error";
  PyObject* text = NULL;
  if (value != NULL) {
    PyObject* code_obj = PyObject_GetAttrString(value, "ort_code");
    if (code_obj != NULL) {
      long c = PyLong_AsLong(code_obj);
      if (!PyErr_Occurred() && c > 0 && c < 64) code = (int)c;
      Py_DECREF(code_obj);
    }
    PyErr_Clear();
    text = PyObject_Str(value);
    if (text == NULL) PyErr_Clear();
  }
  if (type != NULL && PyType_Check(type)) type_name = ((PyTypeObject*)type)->tp_name;
  const char* msg = text != NULL ? PyUnicode_AsUTF8(text) : NULL;
  if (msg == NULL) {
    PyErr_Clear();
    msg = "(the error message could not be read)";
  }
  size_t n = strlen(msg) + strlen(type_name) + strlen(where) + 64;
  char* buffer = (char*)malloc(n);
  OrtStatus* status;
  if (buffer != NULL) {
    snprintf(buffer, n, EP_LOG_PREFIX " %s: %s: %s", where, type_name, msg);
    status = make_status(code, buffer);
    free(buffer);
  } else {
    status = make_status(code, EP_LOG_PREFIX ": out of memory while reporting a Python error");
  }
  Py_XDECREF(text);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  return status;
}

static OrtStatus* python_gone_status(const char* where) {
  char buffer[256];
  snprintf(buffer, sizeof buffer,
           EP_LOG_PREFIX " %s: the Python interpreter that runs this execution provider is not available "
           "(not started, or shutting down)", where);
  return make_status(WEBNN_ORT_FAIL, buffer);
}

/* Import the bridge if nobody installed it yet (GIL held). Returns a borrowed ref or NULL. */
static PyObject* get_bridge(void) {
  if (bridge != NULL) return bridge;
  PyObject* module = PyImport_ImportModule(BRIDGE_MODULE);
  if (module == NULL) return NULL;
  PyObject* result = PyObject_CallMethod(module, "install", NULL);
  Py_DECREF(module);
  if (result == NULL) return NULL;
  Py_DECREF(result);
  if (bridge == NULL) PyErr_SetString(PyExc_RuntimeError, "the WebNN EP bridge did not install itself");
  return bridge;
}

/* ---- ORT values -> Python ------------------------------------------------------------- */
static size_t element_size(int elem_type) {
  switch (elem_type) {
    case 1: case 6: case 12: return 4;           /* float, int32, uint32 */
    case 2: case 3: case 9: return 1;            /* uint8, int8, bool */
    case 4: case 5: case 10: case 16: return 2;  /* uint16, int16, float16, bfloat16 */
    case 7: case 11: case 13: case 14: return 8; /* int64, double, uint64, complex64 */
    case 15: return 16;                          /* complex128 */
    case 17: case 18: case 19: case 20: return 1; /* float8 variants */
    default: return 0;                           /* strings, packed 4-bit, unknown */
  }
}

/* A shape tuple from tensor type info: ints, the dim_param name for symbolic dims, None. */
static PyObject* shape_from_info(const OrtTensorTypeAndShapeInfo* info) {
  size_t rank = 0;
  int64_t* dims = NULL;
  const char** names = NULL;
  PyObject* shape = NULL;
  ORT_TRY(ort.GetDimensionsCount(info, &rank), "GetDimensionsCount");
  dims = (int64_t*)calloc(rank ? rank : 1, sizeof(int64_t));
  names = (const char**)calloc(rank ? rank : 1, sizeof(char*));
  if (dims == NULL || names == NULL) {
    PyErr_NoMemory();
    goto fail;
  }
  ORT_TRY(ort.GetDimensions(info, dims, rank), "GetDimensions");
  ORT_TRY(ort.GetSymbolicDimensions(info, names, rank), "GetSymbolicDimensions");
  shape = PyTuple_New((Py_ssize_t)rank);
  if (shape == NULL) goto fail;
  for (size_t i = 0; i < rank; i++) {
    PyObject* dim;
    if (dims[i] >= 0) {
      dim = PyLong_FromLongLong(dims[i]);
    } else if (names[i] != NULL && names[i][0] != '\0') {
      dim = PyUnicode_FromString(names[i]);
    } else {
      dim = Py_None;
      Py_INCREF(dim);
    }
    if (dim == NULL) goto fail;
    PyTuple_SET_ITEM(shape, (Py_ssize_t)i, dim);
  }
  free(dims);
  free(names);
  return shape;
fail:
  free(dims);
  free(names);
  Py_XDECREF(shape);
  return NULL;
}

/* (name, is_tensor, elem_type, shape) for a value; ("", 0, 0, None) for an absent one. */
static PyObject* value_info_tuple(const OrtValueInfo* vi) {
  if (vi == NULL) return Py_BuildValue("(siiO)", "", 0, 0, Py_None);
  const char* name = NULL;
  const OrtTypeInfo* type_info = NULL;
  int onnx_type = WEBNN_ONNX_TYPE_UNKNOWN;
  ORT_TRY(ort.GetValueInfoName(vi, &name), "GetValueInfoName");
  ORT_TRY(ort.GetValueInfoTypeInfo(vi, &type_info), "GetValueInfoTypeInfo");
  if (type_info != NULL) ORT_TRY(ort.GetOnnxTypeFromTypeInfo(type_info, &onnx_type), "GetOnnxTypeFromTypeInfo");
  if (onnx_type != WEBNN_ONNX_TYPE_TENSOR) return Py_BuildValue("(siiO)", name, 0, 0, Py_None);
  const OrtTensorTypeAndShapeInfo* tensor_info = NULL;
  int elem = 0;
  ORT_TRY(ort.CastTypeInfoToTensorInfo(type_info, &tensor_info), "CastTypeInfoToTensorInfo");
  if (tensor_info == NULL) return Py_BuildValue("(siiO)", name, 0, 0, Py_None);
  ORT_TRY(ort.GetTensorElementType(tensor_info, &elem), "GetTensorElementType");
  PyObject* shape = shape_from_info(tensor_info);
  if (shape == NULL) return NULL;
  PyObject* result = Py_BuildValue("(siiN)", name, 1, elem, shape);
  return result;
fail:
  return NULL;
}

/* (elem_type, dims, bytes-or-None) copying a tensor's data (used for constants). */
static PyObject* tensor_tuple(const OrtValue* value) {
  OrtTensorTypeAndShapeInfo* info = NULL;
  PyObject* shape = NULL;
  PyObject* data = NULL;
  int elem = 0;
  const void* raw = NULL;
  ORT_TRY(ort.GetTensorTypeAndShape(value, &info), "GetTensorTypeAndShape");
  ORT_TRY(ort.GetTensorElementType(info, &elem), "GetTensorElementType");
  shape = shape_from_info(info);
  if (shape == NULL) goto fail;
  size_t size = element_size(elem);
  size_t count = 1;
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(shape); i++) {
    PyObject* dim = PyTuple_GET_ITEM(shape, i);
    count *= PyLong_Check(dim) ? (size_t)PyLong_AsLongLong(dim) : 0;
  }
  if (size == 0) {
    data = Py_None;
    Py_INCREF(data);
  } else {
    ORT_TRY(ort.GetTensorData(value, &raw), "GetTensorData");
    data = PyBytes_FromStringAndSize(raw != NULL ? (const char*)raw : "", raw != NULL ? (Py_ssize_t)(count * size) : 0);
    if (data == NULL) goto fail;
  }
  ort.ReleaseTensorTypeAndShapeInfo(info);
  return Py_BuildValue("(iNN)", elem, shape, data);
fail:
  if (info != NULL) ort.ReleaseTensorTypeAndShapeInfo(info);
  Py_XDECREF(shape);
  Py_XDECREF(data);
  return NULL;
}

static PyObject* attribute_value(const OrtOpAttr* attr, int type) {
  if (type == WEBNN_ATTR_GRAPH || type == WEBNN_ATTR_UNDEFINED) Py_RETURN_NONE;
  if (type == WEBNN_ATTR_TENSOR) {
    OrtValue* value = NULL;
    if (!ort_ok(ort.OpAttr_GetTensorAttributeAsOrtValue(attr, &value), "OpAttr_GetTensorAttributeAsOrtValue"))
      return NULL;
    if (value == NULL) Py_RETURN_NONE;
    PyObject* t = tensor_tuple(value);
    ort.ReleaseValue(value);
    return t;
  }
  size_t need = 0;
  OrtStatus* probe = ort.ReadOpAttr(attr, type, NULL, 0, &need);
  if (probe != NULL) ort.ReleaseStatus(probe);
  char* buffer = (char*)calloc(need + 1, 1);
  if (buffer == NULL) return PyErr_NoMemory();
  PyObject* result = NULL;
  size_t got = need;
  if (!ort_ok(ort.ReadOpAttr(attr, type, buffer, need, &got), "ReadOpAttr")) {
    free(buffer);
    return NULL;
  }
  if (got > need) got = need;
  switch (type) {
    case WEBNN_ATTR_INT:
      result = PyLong_FromLongLong(*(int64_t*)buffer);
      break;
    case WEBNN_ATTR_FLOAT:
      result = PyFloat_FromDouble((double)*(float*)buffer);
      break;
    case WEBNN_ATTR_INTS: {
      size_t n = got / sizeof(int64_t);
      result = PyTuple_New((Py_ssize_t)n);
      for (size_t i = 0; result != NULL && i < n; i++) {
        PyObject* item = PyLong_FromLongLong(((int64_t*)buffer)[i]);
        if (item == NULL) Py_CLEAR(result);
        else PyTuple_SET_ITEM(result, (Py_ssize_t)i, item);
      }
      break;
    }
    case WEBNN_ATTR_FLOATS: {
      size_t n = got / sizeof(float);
      result = PyTuple_New((Py_ssize_t)n);
      for (size_t i = 0; result != NULL && i < n; i++) {
        PyObject* item = PyFloat_FromDouble((double)((float*)buffer)[i]);
        if (item == NULL) Py_CLEAR(result);
        else PyTuple_SET_ITEM(result, (Py_ssize_t)i, item);
      }
      break;
    }
    case WEBNN_ATTR_STRING:
      result = PyBytes_FromStringAndSize(buffer, (Py_ssize_t)strnlen(buffer, got));
      break;
    case WEBNN_ATTR_STRINGS: {
      result = PyList_New(0);
      size_t at = 0;
      while (result != NULL && at < got) {
        size_t len = strnlen(buffer + at, got - at);
        PyObject* item = PyBytes_FromStringAndSize(buffer + at, (Py_ssize_t)len);
        if (item == NULL || PyList_Append(result, item) < 0) Py_CLEAR(result);
        Py_XDECREF(item);
        at += len + 1;
      }
      break;
    }
    default:
      result = Py_None;
      Py_INCREF(result);
  }
  free(buffer);
  return result;
}

typedef OrtStatus* (*CountFn)(const void*, size_t*);
typedef OrtStatus* (*ListFn)(const void*, const void**, size_t);

/* A list of value-info tuples from a (count, list) pair of ORT getters. */
static PyObject* value_list(const void* owner, CountFn count_fn, ListFn list_fn, const char* what) {
  size_t n = 0;
  const OrtValueInfo** items = NULL;
  PyObject* out = NULL;
  ORT_TRY(count_fn(owner, &n), what);
  items = (const OrtValueInfo**)calloc(n ? n : 1, sizeof(void*));
  if (items == NULL) {
    PyErr_NoMemory();
    goto fail;
  }
  ORT_TRY(list_fn(owner, (const void**)items, n), what);
  out = PyList_New((Py_ssize_t)n);
  if (out == NULL) goto fail;
  for (size_t i = 0; i < n; i++) {
    PyObject* t = value_info_tuple(items[i]);
    if (t == NULL) goto fail;
    PyList_SET_ITEM(out, (Py_ssize_t)i, t);
  }
  free(items);
  return out;
fail:
  free(items);
  Py_XDECREF(out);
  return NULL;
}

static PyObject* node_dict(const OrtNode* node) {
  const char *name = "", *op_type = "", *domain = "";
  int since = 0;
  size_t node_id = 0, n_attrs = 0, n_subgraphs = 0;
  const OrtOpAttr** attrs = NULL;
  PyObject *inputs = NULL, *outputs = NULL, *implicit = NULL, *attr_list = NULL;
  ORT_TRY(ort.Node_GetId(node, &node_id), "Node_GetId");
  ORT_TRY(ort.Node_GetName(node, &name), "Node_GetName");
  ORT_TRY(ort.Node_GetOperatorType(node, &op_type), "Node_GetOperatorType");
  ORT_TRY(ort.Node_GetDomain(node, &domain), "Node_GetDomain");
  ORT_TRY(ort.Node_GetSinceVersion(node, &since), "Node_GetSinceVersion");
  ORT_TRY(ort.Node_GetNumSubgraphs(node, &n_subgraphs), "Node_GetNumSubgraphs");
  inputs = value_list(node, (CountFn)ort.Node_GetNumInputs, (ListFn)ort.Node_GetInputs, "Node_GetInputs");
  if (inputs == NULL) goto fail;
  outputs = value_list(node, (CountFn)ort.Node_GetNumOutputs, (ListFn)ort.Node_GetOutputs, "Node_GetOutputs");
  if (outputs == NULL) goto fail;
  implicit = value_list(node, (CountFn)ort.Node_GetNumImplicitInputs, (ListFn)ort.Node_GetImplicitInputs,
                        "Node_GetImplicitInputs");
  if (implicit == NULL) goto fail;
  ORT_TRY(ort.Node_GetNumAttributes(node, &n_attrs), "Node_GetNumAttributes");
  attrs = (const OrtOpAttr**)calloc(n_attrs ? n_attrs : 1, sizeof(void*));
  if (attrs == NULL) {
    PyErr_NoMemory();
    goto fail;
  }
  ORT_TRY(ort.Node_GetAttributes(node, attrs, n_attrs), "Node_GetAttributes");
  attr_list = PyList_New((Py_ssize_t)n_attrs);
  if (attr_list == NULL) goto fail;
  for (size_t i = 0; i < n_attrs; i++) {
    const char* attr_name = "";
    int type = 0;
    ORT_TRY(ort.OpAttr_GetName(attrs[i], &attr_name), "OpAttr_GetName");
    ORT_TRY(ort.OpAttr_GetType(attrs[i], &type), "OpAttr_GetType");
    PyObject* value = attribute_value(attrs[i], type);
    if (value == NULL) goto fail;
    PyObject* item = Py_BuildValue("(siN)", attr_name, type, value);
    if (item == NULL) goto fail;
    PyList_SET_ITEM(attr_list, (Py_ssize_t)i, item);
  }
  free(attrs);
  return Py_BuildValue("{s:n,s:s,s:s,s:s,s:i,s:N,s:N,s:N,s:N,s:n}", "id", (Py_ssize_t)node_id, "name", name,
                       "op_type", op_type, "domain", domain, "since_version", since, "inputs", inputs,
                       "outputs", outputs, "implicit_inputs", implicit, "attrs", attr_list, "subgraphs",
                       (Py_ssize_t)n_subgraphs);
fail:
  free(attrs);
  Py_XDECREF(inputs);
  Py_XDECREF(outputs);
  Py_XDECREF(implicit);
  Py_XDECREF(attr_list);
  return NULL;
}

/* The whole graph as plain Python values; `nodes_out` receives the node pointers in order. */
static PyObject* graph_dict(const OrtGraph* graph, const OrtNode*** nodes_out, size_t* n_nodes_out) {
  const char* name = "";
  int64_t ir_version = 0;
  size_t n_opsets = 0, n_init = 0, n_nodes = 0;
  const char** domains = NULL;
  int64_t* versions = NULL;
  const OrtValueInfo** inits = NULL;
  const OrtNode** nodes = NULL;
  const OrtNode* parent = NULL;
  PyObject *opsets = NULL, *inputs = NULL, *outputs = NULL, *init_list = NULL, *node_list = NULL;
  ORT_TRY(ort.Graph_GetName(graph, &name), "Graph_GetName");
  ORT_TRY(ort.Graph_GetOnnxIRVersion(graph, &ir_version), "Graph_GetOnnxIRVersion");
  ORT_TRY(ort.Graph_GetParentNode(graph, &parent), "Graph_GetParentNode");
  ORT_TRY(ort.Graph_GetNumOperatorSets(graph, &n_opsets), "Graph_GetNumOperatorSets");
  domains = (const char**)calloc(n_opsets ? n_opsets : 1, sizeof(char*));
  versions = (int64_t*)calloc(n_opsets ? n_opsets : 1, sizeof(int64_t));
  if (domains == NULL || versions == NULL) {
    PyErr_NoMemory();
    goto fail;
  }
  ORT_TRY(ort.Graph_GetOperatorSets(graph, domains, versions, n_opsets), "Graph_GetOperatorSets");
  opsets = PyList_New((Py_ssize_t)n_opsets);
  if (opsets == NULL) goto fail;
  for (size_t i = 0; i < n_opsets; i++) {
    PyObject* item = Py_BuildValue("(sL)", domains[i] ? domains[i] : "", (long long)versions[i]);
    if (item == NULL) goto fail;
    PyList_SET_ITEM(opsets, (Py_ssize_t)i, item);
  }
  inputs = value_list(graph, (CountFn)ort.Graph_GetNumInputs, (ListFn)ort.Graph_GetInputs, "Graph_GetInputs");
  if (inputs == NULL) goto fail;
  outputs = value_list(graph, (CountFn)ort.Graph_GetNumOutputs, (ListFn)ort.Graph_GetOutputs, "Graph_GetOutputs");
  if (outputs == NULL) goto fail;

  ORT_TRY(ort.Graph_GetNumInitializers(graph, &n_init), "Graph_GetNumInitializers");
  inits = (const OrtValueInfo**)calloc(n_init ? n_init : 1, sizeof(void*));
  if (inits == NULL) {
    PyErr_NoMemory();
    goto fail;
  }
  ORT_TRY(ort.Graph_GetInitializers(graph, inits, n_init), "Graph_GetInitializers");
  init_list = PyList_New(0);
  if (init_list == NULL) goto fail;
  for (size_t i = 0; i < n_init; i++) {
    const char* init_name = "";
    const OrtValue* value = NULL;
    bool constant = false, outer = false;
    ORT_TRY(ort.GetValueInfoName(inits[i], &init_name), "GetValueInfoName");
    ORT_TRY(ort.ValueInfo_IsConstantInitializer(inits[i], &constant), "ValueInfo_IsConstantInitializer");
    ORT_TRY(ort.ValueInfo_IsFromOuterScope(inits[i], &outer), "ValueInfo_IsFromOuterScope");
    ORT_TRY(ort.ValueInfo_GetInitializerValue(inits[i], &value), "ValueInfo_GetInitializerValue");
    if (value == NULL) continue;
    PyObject* tensor = tensor_tuple(value);
    if (tensor == NULL) goto fail;
    PyObject* item = Py_BuildValue("(sNOO)", init_name, tensor, constant ? Py_True : Py_False,
                                   outer ? Py_True : Py_False);
    if (item == NULL || PyList_Append(init_list, item) < 0) {
      Py_XDECREF(item);
      goto fail;
    }
    Py_DECREF(item);
  }

  ORT_TRY(ort.Graph_GetNumNodes(graph, &n_nodes), "Graph_GetNumNodes");
  nodes = (const OrtNode**)calloc(n_nodes ? n_nodes : 1, sizeof(void*));
  if (nodes == NULL) {
    PyErr_NoMemory();
    goto fail;
  }
  ORT_TRY(ort.Graph_GetNodes(graph, nodes, n_nodes), "Graph_GetNodes");
  node_list = PyList_New((Py_ssize_t)n_nodes);
  if (node_list == NULL) goto fail;
  for (size_t i = 0; i < n_nodes; i++) {
    PyObject* d = node_dict(nodes[i]);
    if (d == NULL) goto fail;
    PyList_SET_ITEM(node_list, (Py_ssize_t)i, d);
  }
  free(domains);
  free(versions);
  free(inits);
  if (nodes_out != NULL) {
    *nodes_out = nodes;
    *n_nodes_out = n_nodes;
  } else {
    free(nodes);
  }
  return Py_BuildValue("{s:s,s:L,s:O,s:N,s:N,s:N,s:N,s:N}", "name", name, "ir_version", (long long)ir_version,
                       "nested", parent != NULL ? Py_True : Py_False, "opsets", opsets, "inputs", inputs,
                       "outputs", outputs, "initializers", init_list, "nodes", node_list);
fail:
  free(domains);
  free(versions);
  free(inits);
  free(nodes);
  Py_XDECREF(opsets);
  Py_XDECREF(inputs);
  Py_XDECREF(outputs);
  Py_XDECREF(init_list);
  Py_XDECREF(node_list);
  return NULL;
}

static PyObject* kvps_dict(const OrtKeyValuePairs* kvps) {
  PyObject* d = PyDict_New();
  if (d == NULL || kvps == NULL) return d;
  const char* const* keys = NULL;
  const char* const* values = NULL;
  size_t n = 0;
  ort.GetKeyValuePairs(kvps, &keys, &values, &n);
  for (size_t i = 0; i < n; i++) {
    PyObject* v = PyUnicode_DecodeUTF8(values[i] ? values[i] : "", (Py_ssize_t)strlen(values[i] ? values[i] : ""),
                                       "replace");
    if (v == NULL || PyDict_SetItemString(d, keys[i], v) < 0) {
      Py_XDECREF(v);
      Py_DECREF(d);
      return NULL;
    }
    Py_DECREF(v);
  }
  return d;
}

/* A new OrtKeyValuePairs from a Python dict of str -> str (GIL held); NULL + exception on error. */
static OrtKeyValuePairs* kvps_from_dict(PyObject* d) {
  OrtKeyValuePairs* kvps = NULL;
  ort.CreateKeyValuePairs(&kvps);
  if (kvps == NULL) {
    PyErr_NoMemory();
    return NULL;
  }
  if (d == NULL || d == Py_None) return kvps;
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  while (PyDict_Next(d, &pos, &key, &value)) {
    const char* k = PyUnicode_AsUTF8(key);
    const char* v = PyUnicode_AsUTF8(value);
    if (k == NULL || v == NULL) {
      ort.ReleaseKeyValuePairs(kvps);
      return NULL;
    }
    ort.AddKeyValuePair(kvps, k, v);
  }
  return kvps;
}

/* ---- the kernel I/O object handed to Python for one Compute call ------------------- */
typedef struct {
  PyObject_HEAD
  OrtKernelContext* ctx; /* NULL once the Compute call that made this object has returned */
} KernelIO;

static PyObject* kio_inputs(KernelIO* self, PyObject* unused) {
  (void)unused;
  if (self->ctx == NULL) {
    PyErr_SetString(PyExc_RuntimeError, "kernel I/O used after its Compute call returned");
    return NULL;
  }
  size_t n = 0;
  PyObject* out = NULL;
  if (!ort_ok(ort.KernelContext_GetInputCount(self->ctx, &n), "KernelContext_GetInputCount")) return NULL;
  out = PyList_New((Py_ssize_t)n);
  if (out == NULL) return NULL;
  for (size_t i = 0; i < n; i++) {
    const OrtValue* value = NULL;
    OrtTensorTypeAndShapeInfo* info = NULL;
    const void* data = NULL;
    int elem = 0;
    PyObject* shape = NULL;
    if (!ort_ok(ort.KernelContext_GetInput(self->ctx, i, &value), "KernelContext_GetInput")) goto fail;
    if (value == NULL) {  /* an absent optional input */
      Py_INCREF(Py_None);
      PyList_SET_ITEM(out, (Py_ssize_t)i, Py_None);
      continue;
    }
    if (!ort_ok(ort.GetTensorTypeAndShape(value, &info), "GetTensorTypeAndShape")) goto fail;
    if (!ort_ok(ort.GetTensorElementType(info, &elem), "GetTensorElementType")) {
      ort.ReleaseTensorTypeAndShapeInfo(info);
      goto fail;
    }
    shape = shape_from_info(info);
    ort.ReleaseTensorTypeAndShapeInfo(info);
    if (shape == NULL) goto fail;
    if (!ort_ok(ort.GetTensorData(value, &data), "GetTensorData")) {
      Py_DECREF(shape);
      goto fail;
    }
    size_t count = 1;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(shape); k++) count *= (size_t)PyLong_AsLongLong(PyTuple_GET_ITEM(shape, k));
    size_t nbytes = count * element_size(elem);
    /* A view on ORT's own buffer: no copy. Valid for this Compute call only. */
    PyObject* view = PyMemoryView_FromMemory(data != NULL ? (char*)data : (char*)"", data != NULL ? (Py_ssize_t)nbytes : 0,
                                             PyBUF_WRITE);
    if (view == NULL) {
      Py_DECREF(shape);
      goto fail;
    }
    PyObject* item = Py_BuildValue("(iNN)", elem, shape, view);
    if (item == NULL) goto fail;
    PyList_SET_ITEM(out, (Py_ssize_t)i, item);
  }
  return out;
fail:
  Py_XDECREF(out);
  return NULL;
}

static PyObject* kio_output(KernelIO* self, PyObject* args) {
  Py_ssize_t index;
  PyObject* shape_obj;
  if (!PyArg_ParseTuple(args, "nO", &index, &shape_obj)) return NULL;
  if (self->ctx == NULL) {
    PyErr_SetString(PyExc_RuntimeError, "kernel I/O used after its Compute call returned");
    return NULL;
  }
  PyObject* seq = PySequence_Fast(shape_obj, "output shape must be a sequence of ints");
  if (seq == NULL) return NULL;
  Py_ssize_t rank = PySequence_Fast_GET_SIZE(seq);
  int64_t* dims = (int64_t*)calloc(rank ? (size_t)rank : 1, sizeof(int64_t));
  if (dims == NULL) {
    Py_DECREF(seq);
    return PyErr_NoMemory();
  }
  size_t count = 1;
  for (Py_ssize_t k = 0; k < rank; k++) {
    dims[k] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, k));
    if (dims[k] < 0) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "output dimensions must be >= 0");
      free(dims);
      Py_DECREF(seq);
      return NULL;
    }
    count *= (size_t)dims[k];
  }
  Py_DECREF(seq);
  OrtValue* value = NULL;
  OrtTensorTypeAndShapeInfo* info = NULL;
  void* data = NULL;
  int elem = 0;
  OrtStatus* st = ort.KernelContext_GetOutput(self->ctx, (size_t)index, dims, (size_t)rank, &value);
  free(dims);
  if (!ort_ok(st, "KernelContext_GetOutput")) return NULL;
  if (!ort_ok(ort.GetTensorTypeAndShape(value, &info), "GetTensorTypeAndShape")) return NULL;
  st = ort.GetTensorElementType(info, &elem);
  ort.ReleaseTensorTypeAndShapeInfo(info);
  if (!ort_ok(st, "GetTensorElementType")) return NULL;
  if (!ort_ok(ort.GetTensorMutableData(value, &data), "GetTensorMutableData")) return NULL;
  size_t nbytes = count * element_size(elem);
  PyObject* view = PyMemoryView_FromMemory(data != NULL ? (char*)data : (char*)"", data != NULL ? (Py_ssize_t)nbytes : 0,
                                           PyBUF_WRITE);
  if (view == NULL) return NULL;
  return Py_BuildValue("(iN)", elem, view);
}

static PyMethodDef kio_methods[] = {
    {"inputs", (PyCFunction)kio_inputs, METH_NOARGS,
     "inputs() -> [(elem_type, shape, memoryview) | None]: views on ORT's input buffers (no copy)."},
    {"output", (PyCFunction)kio_output, METH_VARARGS,
     "output(index, shape) -> (elem_type, memoryview): allocate ORT's output and view its buffer."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject KernelIOType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "webnn_ort_ep.KernelIO",
    .tp_basicsize = sizeof(KernelIO),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The inputs and outputs of one fused-node Compute call (valid during that call only).",
    .tp_methods = kio_methods,
};

/* ---- the EP: OrtEp + OrtNodeComputeInfo implemented over Python objects ---------------- */
typedef struct WebnnFactory WebnnFactory;

typedef struct {
  OrtEp base;
  WebnnFactory* factory;
  PyObject* py_ep; /* owned */
  char name[64];
} WebnnEp;

typedef struct {
  OrtNodeComputeInfo base;
  PyObject* kernel; /* owned */
} WebnnComputeInfo;

struct WebnnFactory {
  OrtEpFactory base;
  char name[64];
  char vendor[64];
  char version[64];
};

#define EP_OF(p) ((WebnnEp*)(p))

static const char* ep_get_name(const OrtEp* self) { return ((const WebnnEp*)self)->name; }

static OrtStatus* ep_get_capability(OrtEp* self, const OrtGraph* graph, OrtEpGraphSupportInfo* info) {
  if (!python_usable()) return python_gone_status("GetCapability");
  PyGILState_STATE gil = PyGILState_Ensure();
  OrtStatus* status = NULL;
  const OrtNode** nodes = NULL;
  size_t n_nodes = 0;
  PyObject* groups = NULL;
  PyObject* g = graph_dict(graph, &nodes, &n_nodes);
  if (g == NULL) goto py_fail;
  groups = PyObject_CallMethod(EP_OF(self)->py_ep, "get_capability", "O", g);
  Py_DECREF(g);
  if (groups == NULL) goto py_fail;
  PyObject* seq = PySequence_Fast(groups, "get_capability must return a list of node-index lists");
  if (seq == NULL) goto py_fail;
  OrtNodeFusionOptions fusion = {WEBNN_ORT_API_VERSION, true};
  for (Py_ssize_t gi = 0; gi < PySequence_Fast_GET_SIZE(seq) && status == NULL; gi++) {
    PyObject* group = PySequence_Fast(PySequence_Fast_GET_ITEM(seq, gi), "a fused group must be a list of ints");
    if (group == NULL) {
      Py_DECREF(seq);
      goto py_fail;
    }
    Py_ssize_t m = PySequence_Fast_GET_SIZE(group);
    const OrtNode** chosen = (const OrtNode**)calloc(m ? (size_t)m : 1, sizeof(void*));
    int bad = chosen == NULL;
    for (Py_ssize_t k = 0; !bad && k < m; k++) {
      Py_ssize_t idx = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(group, k));
      if (idx < 0 || (size_t)idx >= n_nodes) bad = 1;
      else chosen[k] = nodes[idx];
    }
    Py_DECREF(group);
    if (bad) {
      free(chosen);
      Py_DECREF(seq);
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_IndexError, "get_capability returned a node index out of range");
      goto py_fail;
    }
    if (m > 0) status = ort_ep.EpGraphSupportInfo_AddNodesToFuse(info, chosen, (size_t)m, &fusion);
    free(chosen);
  }
  Py_DECREF(seq);
  Py_DECREF(groups);
  free(nodes);
  PyGILState_Release(gil);
  return status;
py_fail:
  Py_XDECREF(groups);
  free(nodes);
  status = status_from_python("GetCapability");
  PyGILState_Release(gil);
  return status;
}

static OrtStatus* ci_create_state(OrtNodeComputeInfo* self, OrtNodeComputeContext* ctx, void** state) {
  (void)ctx;
  *state = self;  /* the kernel holds everything; per-state data is not needed */
  return NULL;
}

static OrtStatus* ci_compute(OrtNodeComputeInfo* self, void* state, OrtKernelContext* kernel_context) {
  (void)state;
  if (!python_usable()) return python_gone_status("Compute");
  PyGILState_STATE gil = PyGILState_Ensure();
  OrtStatus* status = NULL;
  KernelIO* io = PyObject_New(KernelIO, &KernelIOType);
  if (io == NULL) {
    status = status_from_python("Compute");
  } else {
    io->ctx = kernel_context;
    PyObject* r = PyObject_CallMethod(((WebnnComputeInfo*)self)->kernel, "compute", "O", (PyObject*)io);
    io->ctx = NULL;
    Py_DECREF(io);
    if (r == NULL) status = status_from_python("Compute");
    else Py_DECREF(r);
  }
  PyGILState_Release(gil);
  return status;
}

static void ci_release_state(OrtNodeComputeInfo* self, void* state) {
  (void)self;
  (void)state;
}

static void release_compute_info(WebnnComputeInfo* ci) {
  if (ci == NULL) return;
  if (ci->kernel != NULL && python_usable()) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject* r = PyObject_CallMethod(ci->kernel, "release", NULL);
    if (r == NULL) PyErr_Clear();
    else Py_DECREF(r);
    Py_CLEAR(ci->kernel);
    PyGILState_Release(gil);
  }
  free(ci);
}

static OrtStatus* ep_compile(OrtEp* self, const OrtGraph** graphs, const OrtNode** fused_nodes, size_t count,
                             OrtNodeComputeInfo** compute_infos, OrtNode** ep_context_nodes) {
  (void)ep_context_nodes;
  for (size_t i = 0; i < count; i++) compute_infos[i] = NULL;
  if (!python_usable()) return python_gone_status("Compile");
  PyGILState_STATE gil = PyGILState_Ensure();
  OrtStatus* status = NULL;
  for (size_t i = 0; i < count; i++) {
    PyObject* g = graph_dict(graphs[i], NULL, NULL);
    PyObject* fused = g == NULL ? NULL : node_dict(fused_nodes[i]);
    PyObject* kernel = fused == NULL ? NULL : PyObject_CallMethod(EP_OF(self)->py_ep, "compile", "OO", g, fused);
    Py_XDECREF(g);
    Py_XDECREF(fused);
    if (kernel == NULL) {
      status = status_from_python("Compile");
      break;
    }
    WebnnComputeInfo* ci = (WebnnComputeInfo*)calloc(1, sizeof(WebnnComputeInfo));
    if (ci == NULL) {
      Py_DECREF(kernel);
      status = make_status(WEBNN_ORT_FAIL, EP_LOG_PREFIX " Compile: out of memory");
      break;
    }
    ci->base.ort_version_supported = WEBNN_ORT_API_VERSION;
    ci->base.CreateState = ci_create_state;
    ci->base.Compute = ci_compute;
    ci->base.ReleaseState = ci_release_state;
    ci->kernel = kernel;
    compute_infos[i] = &ci->base;
  }
  PyGILState_Release(gil);
  if (status != NULL) {
    for (size_t i = 0; i < count; i++) {
      release_compute_info((WebnnComputeInfo*)compute_infos[i]);
      compute_infos[i] = NULL;
    }
  }
  return status;
}

static void ep_release_compute_infos(OrtEp* self, OrtNodeComputeInfo** infos, size_t count) {
  (void)self;
  for (size_t i = 0; i < count; i++) release_compute_info((WebnnComputeInfo*)infos[i]);
}

/* ---- the factory ------------------------------------------------------------------------ */
static const char* f_get_name(const OrtEpFactory* self) { return ((const WebnnFactory*)self)->name; }
static const char* f_get_vendor(const OrtEpFactory* self) { return ((const WebnnFactory*)self)->vendor; }
static uint32_t f_get_vendor_id(const OrtEpFactory* self) {
  (void)self;
  return 0;
}
static const char* f_get_version(const OrtEpFactory* self) { return ((const WebnnFactory*)self)->version; }
static bool f_is_stream_aware(const OrtEpFactory* self) {
  (void)self;
  return false;
}
static OrtStatus* f_create_data_transfer(OrtEpFactory* self, OrtDataTransferImpl** out) {
  (void)self;
  *out = NULL;  /* host memory only: ORT's own CPU copies serve */
  return NULL;
}
static OrtStatus* f_create_allocator(OrtEpFactory* self, const OrtMemoryInfo* info, const OrtKeyValuePairs* options,
                                     OrtAllocator** out) {
  (void)self;
  (void)info;
  (void)options;
  *out = NULL;  /* the default CPU allocator is used */
  return NULL;
}
static void f_release_allocator(OrtEpFactory* self, OrtAllocator* allocator) {
  (void)self;
  (void)allocator;
}
static OrtStatus* f_create_sync_stream(OrtEpFactory* self, const OrtMemoryDevice* device,
                                       const OrtKeyValuePairs* options, OrtSyncStreamImpl** out) {
  (void)self;
  (void)device;
  (void)options;
  *out = NULL;  /* not stream aware */
  return NULL;
}

static OrtStatus* f_get_supported_devices(OrtEpFactory* self, const OrtHardwareDevice* const* devices,
                                          size_t num_devices, OrtEpDevice** ep_devices, size_t max_ep_devices,
                                          size_t* num_ep_devices) {
  *num_ep_devices = 0;
  if (!python_usable()) return python_gone_status("GetSupportedDevices");
  PyGILState_STATE gil = PyGILState_Ensure();
  OrtStatus* status = NULL;
  PyObject* list = PyList_New((Py_ssize_t)num_devices);
  PyObject* chosen = NULL;
  PyObject* seq = NULL;
  if (list == NULL) goto py_fail;
  for (size_t i = 0; i < num_devices; i++) {
    const char* vendor = ort.HardwareDevice_Vendor(devices[i]);
    PyObject* d = Py_BuildValue("{s:i,s:k,s:k,s:s}", "type", ort.HardwareDevice_Type(devices[i]), "vendor_id",
                                (unsigned long)ort.HardwareDevice_VendorId(devices[i]), "device_id",
                                (unsigned long)ort.HardwareDevice_DeviceId(devices[i]), "vendor",
                                vendor != NULL ? vendor : "");
    if (d == NULL) goto py_fail;
    PyList_SET_ITEM(list, (Py_ssize_t)i, d);
  }
  PyObject* b = get_bridge();
  if (b == NULL) goto py_fail;
  chosen = PyObject_CallMethod(b, "supported_devices", "O", list);
  if (chosen == NULL) goto py_fail;
  seq = PySequence_Fast(chosen, "supported_devices must return a list");
  if (seq == NULL) goto py_fail;
  for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(seq) && (size_t)k < max_ep_devices; k++) {
    Py_ssize_t idx;
    PyObject *metadata, *options;
    if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, k), "nOO", &idx, &metadata, &options)) goto py_fail;
    if (idx < 0 || (size_t)idx >= num_devices) {
      PyErr_SetString(PyExc_IndexError, "supported_devices returned a device index out of range");
      goto py_fail;
    }
    OrtKeyValuePairs* md = kvps_from_dict(metadata);
    if (md == NULL) goto py_fail;
    OrtKeyValuePairs* op = kvps_from_dict(options);
    if (op == NULL) {
      ort.ReleaseKeyValuePairs(md);
      goto py_fail;
    }
    OrtEpDevice* ep_device = NULL;
    status = ort_ep.CreateEpDevice(self, devices[idx], md, op, &ep_device);
    ort.ReleaseKeyValuePairs(md);
    ort.ReleaseKeyValuePairs(op);
    if (status != NULL) break;
    ep_devices[(*num_ep_devices)++] = ep_device;
  }
  Py_XDECREF(seq);
  Py_XDECREF(chosen);
  Py_XDECREF(list);
  PyGILState_Release(gil);
  return status;
py_fail:
  Py_XDECREF(seq);
  Py_XDECREF(chosen);
  Py_XDECREF(list);
  status = status_from_python("GetSupportedDevices");
  PyGILState_Release(gil);
  return status;
}

static OrtStatus* f_create_ep(OrtEpFactory* self, const OrtHardwareDevice* const* devices,
                              const OrtKeyValuePairs* const* ep_metadata, size_t num_devices,
                              const OrtSessionOptions* session_options, const OrtLogger* logger, OrtEp** ep) {
  (void)logger;
  *ep = NULL;
  if (!python_usable()) return python_gone_status("CreateEp");
  PyGILState_STATE gil = PyGILState_Ensure();
  OrtStatus* status = NULL;
  OrtKeyValuePairs* config = NULL;
  PyObject *metadata = NULL, *config_dict = NULL, *py_ep = NULL, *types = NULL;
  metadata = PyList_New((Py_ssize_t)num_devices);
  types = PyList_New((Py_ssize_t)num_devices);
  if (metadata == NULL || types == NULL) goto py_fail;
  for (size_t i = 0; i < num_devices; i++) {
    PyObject* d = kvps_dict(ep_metadata != NULL ? ep_metadata[i] : NULL);
    if (d == NULL) goto py_fail;
    PyList_SET_ITEM(metadata, (Py_ssize_t)i, d);
    PyObject* t = PyLong_FromLong(ort.HardwareDevice_Type(devices[i]));
    if (t == NULL) goto py_fail;
    PyList_SET_ITEM(types, (Py_ssize_t)i, t);
  }
  if (!ort_ok(ort.GetSessionOptionsConfigEntries(session_options, &config), "GetSessionOptionsConfigEntries"))
    goto py_fail;
  config_dict = kvps_dict(config);
  if (config != NULL) ort.ReleaseKeyValuePairs(config);
  if (config_dict == NULL) goto py_fail;
  PyObject* b = get_bridge();
  if (b == NULL) goto py_fail;
  py_ep = PyObject_CallMethod(b, "create_ep", "OOO", types, metadata, config_dict);
  if (py_ep == NULL) goto py_fail;
  WebnnEp* e = (WebnnEp*)calloc(1, sizeof(WebnnEp));
  if (e == NULL) {
    PyErr_NoMemory();
    goto py_fail;
  }
  e->base.ort_version_supported = WEBNN_ORT_API_VERSION;
  e->base.GetName = ep_get_name;
  e->base.GetCapability = ep_get_capability;
  e->base.Compile = ep_compile;
  e->base.ReleaseNodeComputeInfos = ep_release_compute_infos;
  e->factory = (WebnnFactory*)self;
  e->py_ep = py_ep;
  snprintf(e->name, sizeof e->name, "%s", ((WebnnFactory*)self)->name);
  *ep = &e->base;
  Py_DECREF(metadata);
  Py_DECREF(types);
  Py_DECREF(config_dict);
  PyGILState_Release(gil);
  return NULL;
py_fail:
  Py_XDECREF(py_ep);
  Py_XDECREF(metadata);
  Py_XDECREF(types);
  Py_XDECREF(config_dict);
  status = status_from_python("CreateEp");
  PyGILState_Release(gil);
  return status;
}

static void f_release_ep(OrtEpFactory* self, OrtEp* ep) {
  (void)self;
  WebnnEp* e = (WebnnEp*)ep;
  if (e == NULL) return;
  if (e->py_ep != NULL && python_usable()) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject* r = PyObject_CallMethod(e->py_ep, "release", NULL);
    if (r == NULL) PyErr_Clear();
    else Py_DECREF(r);
    Py_CLEAR(e->py_ep);
    PyGILState_Release(gil);
  }
  free(e);
}

/* ---- exported plugin entry points ------------------------------------------------------- */
static int parse_version(const char* text, int* major, int* minor) {
  return text != NULL && sscanf(text, "%d.%d", major, minor) == 2;
}

WEBNN_EXPORT OrtStatus* CreateEpFactories(const char* registered_name, const OrtApiBase* api_base,
                                          const OrtLogger* default_logger, OrtEpFactory** factories,
                                          size_t max_factories, size_t* num_factories) {
  (void)default_logger;
  *num_factories = 0;
  const char* version = api_base->GetVersionString();
  int major = 0, minor = 0;
  int parsed = parse_version(version, &major, &minor);
  const void* api = (parsed && major == 1 && minor >= (int)WEBNN_ORT_API_VERSION) ? api_base->GetApi(WEBNN_ORT_API_VERSION)
                                                                                  : NULL;
  if (api == NULL) {
    /* Too old (or unknown) an ORT: report with the oldest table that has CreateStatus. */
    const void* any = api_base->GetApi(1);
    if (any == NULL) return NULL;
    OrtStatus* (*create_status)(int, const char*) = (OrtStatus * (*)(int, const char*))((const GenericFn*)any)[0];
    char buffer[512];
    snprintf(buffer, sizeof buffer,
             EP_LOG_PREFIX ": ONNX Runtime %s is not supported: this plugin needs ONNX Runtime 1.%u or newer "
             "(its ABI declarations were checked against %s). ORT keeps running on its own providers.",
             version != NULL ? version : "(unknown)", WEBNN_ORT_API_VERSION, WEBNN_ORT_CHECKED_AGAINST);
    return create_status(WEBNN_ORT_NOT_IMPLEMENTED, buffer);
  }
  if (!ort_ready) {
    if (!load_tables(api)) {
      return ((OrtStatus * (*)(int, const char*))((const GenericFn*)api)[0])(
          WEBNN_ORT_FAIL, EP_LOG_PREFIX ": this ONNX Runtime has no plugin EP API (GetEpApi returned nothing)");
    }
    snprintf(ort_version, sizeof ort_version, "%s", version);
    ort_ready = 1;
  }
  if (max_factories < 1) return make_status(WEBNN_ORT_INVALID_ARGUMENT, EP_LOG_PREFIX ": no room for a factory");
  if (!python_usable()) {
    return make_status(WEBNN_ORT_FAIL, EP_LOG_PREFIX
                       ": this plugin hands its decisions to Python; load it from a Python process "
                       "(onnxruntime.register_execution_provider_library with webnn's get_library_path())");
  }
  PyGILState_STATE gil = PyGILState_Ensure();
  OrtStatus* status = NULL;
  WebnnFactory* f = NULL;
  PyObject* info = NULL;
  PyObject* b = get_bridge();
  if (b == NULL) goto py_fail;
  info = PyObject_CallMethod(b, "factory_info", "s", registered_name != NULL ? registered_name : "");
  if (info == NULL) goto py_fail;
  const char *name, *vendor, *ep_version;
  if (!PyArg_ParseTuple(info, "sss", &name, &vendor, &ep_version)) goto py_fail;
  f = (WebnnFactory*)calloc(1, sizeof(WebnnFactory));
  if (f == NULL) {
    PyErr_NoMemory();
    goto py_fail;
  }
  snprintf(f->name, sizeof f->name, "%s", name);
  snprintf(f->vendor, sizeof f->vendor, "%s", vendor);
  snprintf(f->version, sizeof f->version, "%s", ep_version);
  Py_DECREF(info);
  PyGILState_Release(gil);
  f->base.ort_version_supported = WEBNN_ORT_API_VERSION;
  f->base.GetName = f_get_name;
  f->base.GetVendor = f_get_vendor;
  f->base.GetSupportedDevices = f_get_supported_devices;
  f->base.CreateEp = f_create_ep;
  f->base.ReleaseEp = f_release_ep;
  f->base.GetVendorId = f_get_vendor_id;
  f->base.GetVersion = f_get_version;
  f->base.ValidateCompiledModelCompatibilityInfo = NULL;
  f->base.CreateAllocator = f_create_allocator;
  f->base.ReleaseAllocator = f_release_allocator;
  f->base.CreateDataTransfer = f_create_data_transfer;
  f->base.IsStreamAware = f_is_stream_aware;
  f->base.CreateSyncStreamForDevice = f_create_sync_stream;
  factories[0] = &f->base;
  *num_factories = 1;
  return NULL;
py_fail:
  Py_XDECREF(info);
  status = status_from_python("CreateEpFactories");
  PyGILState_Release(gil);
  return status;
}

WEBNN_EXPORT OrtStatus* ReleaseEpFactory(OrtEpFactory* factory) {
  free(factory);
  return NULL;
}

/* ---- the Python face ---------------------------------------------------------------- */
static PyObject* mod_install(PyObject* self, PyObject* obj) {
  (void)self;
  Py_INCREF(obj);
  Py_XSETREF(bridge, obj);
  Py_RETURN_NONE;
}

static PyObject* mod_shutdown(PyObject* self, PyObject* unused) {
  (void)self;
  (void)unused;
  python_gone = 1;  /* the bridge objects stay referenced: they are leaked, never freed late */
  Py_RETURN_NONE;
}

static PyObject* mod_abi_info(PyObject* self, PyObject* unused) {
  (void)self;
  (void)unused;
  return Py_BuildValue("{s:I,s:s,s:s,s:O,s:O}", "api_version", WEBNN_ORT_API_VERSION, "checked_against",
                       WEBNN_ORT_CHECKED_AGAINST, "runtime_version", ort_version, "loaded_by_ort",
                       ort_ready ? Py_True : Py_False, "bridge_installed", bridge != NULL ? Py_True : Py_False);
}

static PyMethodDef module_methods[] = {
    {"install", mod_install, METH_O, "install(bridge): the object ORT's callbacks are handed to."},
    {"shutdown", mod_shutdown, METH_NOARGS, "shutdown(): stop calling into Python (interpreter exit)."},
    {"abi_info", mod_abi_info, METH_NOARGS, "abi_info() -> dict: the ORT API version claimed and found."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_webnn_ort_ep",
    "Native shim of the WebNN plugin execution provider for ONNX Runtime (see webnn_ort_ep.c).", -1,
    module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__webnn_ort_ep(void) {
  if (PyType_Ready(&KernelIOType) < 0) return NULL;
  return PyModule_Create(&module_def);
}
