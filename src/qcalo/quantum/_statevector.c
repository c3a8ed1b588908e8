/*
 * Batched statevector kernels for the CPU: gate matrices from angles (fused per wire),
 * product state, signed permutations, layers of single-qubit gates, |psi|^2, and their
 * adjoints (qcalo.quantum.native wraps them in one torch.autograd.Function).
 *
 * Why hand-written: on small states (B = 10 samples of 10 qubits) the torch plan runs about a
 * hundred tiny kernels per forward + backward, and their dispatch, not the arithmetic, is the
 * cost (profile in qcalo/quantum/native.py): 1.6 ms there, 0.6 ms here. Each stage is one
 * loop over the batch, split over threads for large batches.
 *
 * Calling convention (private; the Python wrapper owns every check): arguments are raw data
 * pointers of C-contiguous CPU tensors (Tensor.data_ptr()), sizes, and a flag selecting the
 * float64 (complex128) or float32 (complex64) kernels. Strides are in REAL units; a stride of
 * 0 shares one set of matrices (or angle sources) across the batch.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The state loops also get an AVX2 + FMA build, chosen at load time where the CPU has it
   (GCC function multi-versioning; measured 2.9x on a layer pass, 1.5x on its backward, with
   10 x 1024 amplitudes). Elsewhere: one build. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && __GNUC__ >= 11
#define STATE_LOOP __attribute__((target_clones("arch=x86-64-v3", "default")))
#elif defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define STATE_LOOP __attribute__((target_clones("avx2", "default")))  /* GCC < 11: no x86-64-v3 */
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

/* -- batch-parallel state kernels ------------------------------------------------------
 * Samples are independent, so a call's batch is split into contiguous chunks run on
 * `threads` POSIX threads (the caller passes torch's thread count). A chunk runs only when it
 * holds at least MIN_AMPLITUDES_PER_THREAD amplitudes: smaller work would not repay a thread
 * start (~20-50 us). Gradients shared by the whole batch (one set of matrices) are summed
 * into a private buffer per chunk and added up in chunk order afterwards, so a given thread
 * count always gives the same bits.
 */
#define MIN_AMPLITUDES_PER_THREAD 32768
#define MAX_THREADS 64

enum kind { PRODUCT, PRODUCT_BACKWARD, PERMUTE, PERMUTE_BACKWARD, WIRES, WIRES_BACKWARD };

typedef struct {
    enum kind kind;
    int is_double, n;
    Py_ssize_t dim, mat_stride, n_wires;
    void *psi, *grad, *out;
    const void *mats, *sign;
    const int64_t *wires, *perm;
    void *grad_mats;  /* shared accumulator (mat_stride 0) or per-sample rows */
} job_t;

typedef struct {
    const job_t *job;
    Py_ssize_t b0, b1;
    void *grad_mats;  /* where this chunk accumulates */
    int failed;
} chunk_t;

static void run_chunk(chunk_t *c) {
    const job_t *j = c->job;
    const int d = j->is_double;
    switch (j->kind) {
    case PRODUCT:
        if (d) product_state_d(j->mats, j->mat_stride, c->b0, c->b1, j->n, j->out);
        else product_state_f(j->mats, j->mat_stride, c->b0, c->b1, j->n, j->out);
        break;
    case PRODUCT_BACKWARD: {
        void *scratch = malloc((d ? sizeof(double) : sizeof(float)) * 3 * (size_t)j->dim);
        if (!scratch) { c->failed = 1; break; }
        if (d) product_state_backward_d(j->mats, j->mat_stride, c->b0, c->b1, j->n, j->grad, c->grad_mats, scratch);
        else product_state_backward_f(j->mats, j->mat_stride, c->b0, c->b1, j->n, j->grad, c->grad_mats, scratch);
        free(scratch);
        break;
    }
    case PERMUTE:
        if (d) permute_d(j->psi, j->out, j->perm, j->sign, c->b0, c->b1, j->dim);
        else permute_f(j->psi, j->out, j->perm, j->sign, c->b0, c->b1, j->dim);
        break;
    case PERMUTE_BACKWARD:
        if (d) permute_backward_d(j->psi, j->out, j->perm, j->sign, c->b0, c->b1, j->dim);
        else permute_backward_f(j->psi, j->out, j->perm, j->sign, c->b0, c->b1, j->dim);
        break;
    case WIRES:
        if (d) apply_wires_d(j->psi, c->b0, c->b1, j->n, j->mats, j->mat_stride, j->wires, j->n_wires);
        else apply_wires_f(j->psi, c->b0, c->b1, j->n, j->mats, j->mat_stride, j->wires, j->n_wires);
        break;
    case WIRES_BACKWARD:
        if (d)
            apply_wires_backward_d(j->psi, j->grad, c->b0, c->b1, j->n, j->mats, j->mat_stride, j->wires,
                                   j->n_wires, c->grad_mats);
        else
            apply_wires_backward_f(j->psi, j->grad, c->b0, c->b1, j->n, j->mats, j->mat_stride, j->wires,
                                   j->n_wires, c->grad_mats);
        break;
    }
}

#ifndef _WIN32
#include <pthread.h>
static void *chunk_thread(void *arg) {
    run_chunk((chunk_t *)arg);
    return NULL;
}
#endif

/* Runs `job` over samples [0, batch) on up to `threads` threads; shared_reals > 0 means the
   job accumulates into a shared grad_mats of that many REALs. Returns 0, or -1 on no memory. */
static int run_job(const job_t *job, Py_ssize_t batch, int threads, Py_ssize_t shared_reals) {
    Py_ssize_t by_size = batch * job->dim / MIN_AMPLITUDES_PER_THREAD;
    Py_ssize_t count = threads < by_size ? threads : by_size;
    if (count > batch) count = batch;
    if (count > MAX_THREADS) count = MAX_THREADS;
#ifdef _WIN32
    count = 1;
#endif
    if (count <= 1) {
        chunk_t only = {job, 0, batch, job->grad_mats, 0};
        run_chunk(&only);
        return only.failed ? -1 : 0;
    }
    const size_t real_size = job->is_double ? sizeof(double) : sizeof(float);
    chunk_t chunks[MAX_THREADS];
    void *private = NULL;
    if (shared_reals > 0) {
        private = calloc((size_t)count * shared_reals, real_size);
        if (!private) return -1;
    }
    const Py_ssize_t step = (batch + count - 1) / count;
    for (Py_ssize_t t = 0; t < count; t++) {
        const Py_ssize_t b0 = t * step, b1 = b0 + step < batch ? b0 + step : batch;
        void *grad_mats = shared_reals > 0 ? (char *)private + (size_t)t * shared_reals * real_size : job->grad_mats;
        chunks[t] = (chunk_t){job, b0, b1, grad_mats, 0};
    }
    int failed = 0;
#ifndef _WIN32
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (Py_ssize_t t = 1; t < count; t++)
        started[t] = pthread_create(&ids[t], NULL, chunk_thread, &chunks[t]) == 0;
    run_chunk(&chunks[0]);
    for (Py_ssize_t t = 1; t < count; t++) {
        if (started[t]) pthread_join(ids[t], NULL);
        else run_chunk(&chunks[t]);  /* no thread to be had: run it here */
    }
#endif
    for (Py_ssize_t t = 0; t < count; t++) failed |= chunks[t].failed;
    if (shared_reals > 0) {  /* chunk order: the same bits for the same thread count */
        for (Py_ssize_t t = 0; t < count; t++) {
            const char *part = (const char *)private + (size_t)t * shared_reals * real_size;
            for (Py_ssize_t e = 0; e < shared_reals; e++) {
                if (job->is_double) ((double *)job->grad_mats)[e] += ((const double *)part)[e];
                else ((float *)job->grad_mats)[e] += ((const float *)part)[e];
            }
        }
        free(private);
    }
    return failed ? -1 : 0;
}

/* run_job without the GIL; None, or MemoryError. */
static PyObject *run_released(const job_t *job, Py_ssize_t batch, int threads, Py_ssize_t shared_reals) {
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = run_job(job, batch, threads, shared_reals);
    Py_END_ALLOW_THREADS
    if (status < 0) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *py_product_state(PyObject *self, PyObject *args) {
    job_t job = {.kind = PRODUCT};
    Py_ssize_t mats, batch, psi;
    int threads;
    if (!PyArg_ParseTuple(args, "pnnnini", &job.is_double, &mats, &job.mat_stride, &batch, &job.n, &psi, &threads))
        return NULL;
    job.mats = PTR(mats), job.out = PTR(psi), job.dim = (Py_ssize_t)1 << job.n;
    return run_released(&job, batch, threads, 0);
}

static PyObject *py_product_state_backward(PyObject *self, PyObject *args) {
    job_t job = {.kind = PRODUCT_BACKWARD};
    Py_ssize_t mats, batch, grad_psi, grad_mats;
    int threads;
    if (!PyArg_ParseTuple(args, "pnnninni", &job.is_double, &mats, &job.mat_stride, &batch, &job.n, &grad_psi,
                          &grad_mats, &threads))
        return NULL;
    job.mats = PTR(mats), job.grad = PTR(grad_psi), job.grad_mats = PTR(grad_mats);
    job.dim = (Py_ssize_t)1 << job.n;
    return run_released(&job, batch, threads, job.mat_stride == 0 ? 8 * job.n : 0);
}

static PyObject *py_permute(PyObject *self, PyObject *args) {
    job_t job = {.kind = PERMUTE};
    int backward, threads;
    Py_ssize_t in, out, perm, sign, batch;
    if (!PyArg_ParseTuple(args, "ppnnnnnni", &job.is_double, &backward, &in, &out, &perm, &sign, &batch, &job.dim,
                          &threads))
        return NULL;
    job.kind = backward ? PERMUTE_BACKWARD : PERMUTE;
    job.psi = PTR(in), job.out = PTR(out), job.perm = PTR(perm), job.sign = PTR(sign);
    return run_released(&job, batch, threads, 0);
}

static PyObject *py_apply_wires(PyObject *self, PyObject *args) {
    job_t job = {.kind = WIRES};
    Py_ssize_t psi, batch, mats, wires;
    int threads;
    if (!PyArg_ParseTuple(args, "pnninnnni", &job.is_double, &psi, &batch, &job.n, &mats, &job.mat_stride, &wires,
                          &job.n_wires, &threads))
        return NULL;
    job.psi = PTR(psi), job.mats = PTR(mats), job.wires = PTR(wires), job.dim = (Py_ssize_t)1 << job.n;
    return run_released(&job, batch, threads, 0);
}

static PyObject *py_apply_wires_backward(PyObject *self, PyObject *args) {
    job_t job = {.kind = WIRES_BACKWARD};
    Py_ssize_t psi, grad, batch, mats, wires, grad_mats;
    int threads;
    if (!PyArg_ParseTuple(args, "pnnninnnnni", &job.is_double, &psi, &grad, &batch, &job.n, &mats, &job.mat_stride,
                          &wires, &job.n_wires, &grad_mats, &threads))
        return NULL;
    job.psi = PTR(psi), job.grad = PTR(grad), job.mats = PTR(mats), job.wires = PTR(wires);
    job.grad_mats = PTR(grad_mats), job.dim = (Py_ssize_t)1 << job.n;
    return run_released(&job, batch, threads, job.mat_stride == 0 ? 8 * job.n : 0);
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
    {"product_state", py_product_state, METH_VARARGS,
     "product_state(is_double, mats, mat_stride, batch, n, psi, threads)"},
    {"product_state_backward", py_product_state_backward, METH_VARARGS,
     "product_state_backward(is_double, mats, mat_stride, batch, n, grad_psi, grad_mats, threads)"},
    {"permute", py_permute, METH_VARARGS, "permute(is_double, backward, src, dst, perm, sign, batch, dim, threads)"},
    {"apply_wires", py_apply_wires, METH_VARARGS,
     "apply_wires(is_double, psi, batch, n, mats, mat_stride, wires, n_wires, threads)"},
    {"apply_wires_backward", py_apply_wires_backward, METH_VARARGS,
     "apply_wires_backward(is_double, psi, grad, batch, n, mats, mat_stride, wires, n_wires, grad_mats, threads)"},
    {"probabilities", py_probabilities, METH_VARARGS, "probabilities(is_double, psi, probs, count)"},
    {"probabilities_backward", py_probabilities_backward, METH_VARARGS,
     "probabilities_backward(is_double, psi, grad_probs, grad_psi, count)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_statevector", NULL, -1, methods};

PyMODINIT_FUNC PyInit__statevector(void) { return PyModule_Create(&module); }
