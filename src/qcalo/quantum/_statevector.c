/*
 * Batched statevector kernels for the CPU: product state, signed permutations, layers of
 * single-qubit gates, |psi|^2, and their adjoints (qcalo.quantum.native wraps them in one
 * torch.autograd.Function).
 *
 * Why hand-written: on small states (B = 10 samples of 10 qubits) the torch plan runs about a
 * hundred tiny kernels per forward + backward, and their dispatch, not the arithmetic, is the
 * cost (profile in qcalo/quantum/native.py). Here each stage is one loop over the batch.
 *
 * Calling convention (private; the Python wrapper owns every check): arguments are raw data
 * pointers of C-contiguous CPU tensors (Tensor.data_ptr()), sizes, and a flag selecting the
 * float64 (complex128) or float32 (complex64) kernels. Strides are in REAL units; a stride of
 * 0 shares one set of columns or matrices across the batch.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The state loops also get an AVX2 + FMA build, chosen at load time where the CPU has it
   (GCC function multi-versioning; measured ~1.5x on the backward). Elsewhere: one build. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define STATE_LOOP __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define STATE_LOOP
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#define REAL float
#define FN(name) CAT(name, _f)
#include "_statevector_kernels.h"
#undef REAL
#undef FN

#define REAL double
#define FN(name) CAT(name, _d)
#include "_statevector_kernels.h"
#undef REAL
#undef FN

#define PTR(x) ((void *)(intptr_t)(x))

static PyObject *py_build_layer(PyObject *self, PyObject *args) {
    int is_double, n;
    Py_ssize_t sources, source_stride, samples, index, scale, generators, n_rot, padding, step_index, depth, slots,
        mats;
    if (!PyArg_ParseTuple(args, "pnnnnnnnnnninn", &is_double, &sources, &source_stride, &samples, &index, &scale,
                          &generators, &n_rot, &padding, &step_index, &depth, &n, &slots, &mats))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        build_layer_d(PTR(sources), source_stride, samples, PTR(index), PTR(scale), PTR(generators), n_rot,
                      PTR(padding), PTR(step_index), depth, n, PTR(slots), PTR(mats));
    else
        build_layer_f(PTR(sources), source_stride, samples, PTR(index), PTR(scale), PTR(generators), n_rot,
                      PTR(padding), PTR(step_index), depth, n, PTR(slots), PTR(mats));
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_build_layer_backward(PyObject *self, PyObject *args) {
    int is_double, n;
    Py_ssize_t sources, source_stride, samples, index, scale, generators, n_rot, padding, step_index, depth, slots,
        grad_mats, grad_sources;
    if (!PyArg_ParseTuple(args, "pnnnnnnnnnninnn", &is_double, &sources, &source_stride, &samples, &index, &scale,
                          &generators, &n_rot, &padding, &step_index, &depth, &n, &slots, &grad_mats,
                          &grad_sources))
        return NULL;
    void *prefix = malloc((is_double ? sizeof(double) : sizeof(float)) * 8 * (depth + 1));
    if (!prefix) return PyErr_NoMemory();
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        build_layer_backward_d(PTR(sources), source_stride, samples, PTR(index), PTR(scale), PTR(generators), n_rot,
                               PTR(padding), PTR(step_index), depth, n, PTR(slots), PTR(grad_mats),
                               PTR(grad_sources), prefix);
    else
        build_layer_backward_f(PTR(sources), source_stride, samples, PTR(index), PTR(scale), PTR(generators), n_rot,
                               PTR(padding), PTR(step_index), depth, n, PTR(slots), PTR(grad_mats),
                               PTR(grad_sources), prefix);
    Py_END_ALLOW_THREADS
    free(prefix);
    Py_RETURN_NONE;
}

static PyObject *py_product_state(PyObject *self, PyObject *args) {
    int is_double, n;
    Py_ssize_t mats, mat_stride, batch, psi;
    if (!PyArg_ParseTuple(args, "pnnnin", &is_double, &mats, &mat_stride, &batch, &n, &psi)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double) product_state_d(PTR(mats), mat_stride, batch, n, PTR(psi));
    else product_state_f(PTR(mats), mat_stride, batch, n, PTR(psi));
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_product_state_backward(PyObject *self, PyObject *args) {
    int is_double, n;
    Py_ssize_t mats, mat_stride, batch, grad_psi, grad_mats;
    if (!PyArg_ParseTuple(args, "pnnninn", &is_double, &mats, &mat_stride, &batch, &n, &grad_psi, &grad_mats))
        return NULL;
    const size_t real_size = is_double ? sizeof(double) : sizeof(float);
    void *scratch = malloc(real_size * 3 * ((size_t)1 << n));  /* 2^n + 2^(n-1) complex */
    if (!scratch) return PyErr_NoMemory();
    Py_BEGIN_ALLOW_THREADS
    if (is_double) product_state_backward_d(PTR(mats), mat_stride, batch, n, PTR(grad_psi), PTR(grad_mats), scratch);
    else product_state_backward_f(PTR(mats), mat_stride, batch, n, PTR(grad_psi), PTR(grad_mats), scratch);
    Py_END_ALLOW_THREADS
    free(scratch);
    Py_RETURN_NONE;
}

static PyObject *py_permute(PyObject *self, PyObject *args) {
    int is_double, backward;
    Py_ssize_t in, out, perm, sign, batch, dim;
    if (!PyArg_ParseTuple(args, "ppnnnnnn", &is_double, &backward, &in, &out, &perm, &sign, &batch, &dim))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double) {
        if (backward) permute_backward_d(PTR(in), PTR(out), PTR(perm), PTR(sign), batch, dim);
        else permute_d(PTR(in), PTR(out), PTR(perm), PTR(sign), batch, dim);
    } else {
        if (backward) permute_backward_f(PTR(in), PTR(out), PTR(perm), PTR(sign), batch, dim);
        else permute_f(PTR(in), PTR(out), PTR(perm), PTR(sign), batch, dim);
    }
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_apply_wires(PyObject *self, PyObject *args) {
    int is_double, n;
    Py_ssize_t psi, batch, mats, mat_stride, wires, n_wires;
    if (!PyArg_ParseTuple(args, "pnninnnn", &is_double, &psi, &batch, &n, &mats, &mat_stride, &wires, &n_wires))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double) apply_wires_d(PTR(psi), batch, n, PTR(mats), mat_stride, PTR(wires), n_wires);
    else apply_wires_f(PTR(psi), batch, n, PTR(mats), mat_stride, PTR(wires), n_wires);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_apply_wires_backward(PyObject *self, PyObject *args) {
    int is_double, n;
    Py_ssize_t psi, grad, batch, mats, mat_stride, wires, n_wires, grad_mats;
    if (!PyArg_ParseTuple(args, "pnnninnnnn", &is_double, &psi, &grad, &batch, &n, &mats, &mat_stride, &wires,
                          &n_wires, &grad_mats))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        apply_wires_backward_d(PTR(psi), PTR(grad), batch, n, PTR(mats), mat_stride, PTR(wires), n_wires,
                               PTR(grad_mats));
    else
        apply_wires_backward_f(PTR(psi), PTR(grad), batch, n, PTR(mats), mat_stride, PTR(wires), n_wires,
                               PTR(grad_mats));
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_probabilities(PyObject *self, PyObject *args) {
    int is_double;
    Py_ssize_t psi, probs, count;
    if (!PyArg_ParseTuple(args, "pnnn", &is_double, &psi, &probs, &count)) return NULL;
    if (is_double) probabilities_d(PTR(psi), PTR(probs), count);
    else probabilities_f(PTR(psi), PTR(probs), count);
    Py_RETURN_NONE;
}

static PyObject *py_probabilities_backward(PyObject *self, PyObject *args) {
    int is_double;
    Py_ssize_t psi, grad_probs, grad_psi, count;
    if (!PyArg_ParseTuple(args, "pnnnn", &is_double, &psi, &grad_probs, &grad_psi, &count)) return NULL;
    if (is_double) probabilities_backward_d(PTR(psi), PTR(grad_probs), PTR(grad_psi), count);
    else probabilities_backward_f(PTR(psi), PTR(grad_probs), PTR(grad_psi), count);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"build_layer", py_build_layer, METH_VARARGS,
     "build_layer(is_double, sources, source_stride, samples, index, scale, generators, n_rot, padding, "
     "step_index, depth, n, slots, mats)"},
    {"build_layer_backward", py_build_layer_backward, METH_VARARGS,
     "build_layer_backward(is_double, sources, source_stride, samples, index, scale, generators, n_rot, padding, "
     "step_index, depth, n, slots, grad_mats, grad_sources)"},
    {"product_state", py_product_state, METH_VARARGS, "product_state(is_double, mats, mat_stride, batch, n, psi)"},
    {"product_state_backward", py_product_state_backward, METH_VARARGS,
     "product_state_backward(is_double, mats, mat_stride, batch, n, grad_psi, grad_mats)"},
    {"permute", py_permute, METH_VARARGS, "permute(is_double, backward, src, dst, perm, sign, batch, dim)"},
    {"apply_wires", py_apply_wires, METH_VARARGS,
     "apply_wires(is_double, psi, batch, n, mats, mat_stride, wires, n_wires)"},
    {"apply_wires_backward", py_apply_wires_backward, METH_VARARGS,
     "apply_wires_backward(is_double, psi, grad, batch, n, mats, mat_stride, wires, n_wires, grad_mats)"},
    {"probabilities", py_probabilities, METH_VARARGS, "probabilities(is_double, psi, probs, count)"},
    {"probabilities_backward", py_probabilities_backward, METH_VARARGS,
     "probabilities_backward(is_double, psi, grad_probs, grad_psi, count)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_statevector", NULL, -1, methods};

PyMODINIT_FUNC PyInit__statevector(void) { return PyModule_Create(&module); }
