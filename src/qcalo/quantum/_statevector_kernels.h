/*
 * Statevector kernels for one real type, included twice by _statevector.c (float, double).
 *
 * Before including, define REAL (float or double) and FN(name) (a suffixed function name).
 * Complex numbers are interleaved (re, im) pairs of REAL, as torch stores complex tensors.
 * Basis index bit w is wire w (little-endian). A 2x2 matrix is 4 complex numbers, row-major,
 * U[i][j] at complex offset 2*i + j; it maps (amp with bit 0, amp with bit 1) as out_i = sum_j U[i][j] in_j.
 * Gradients follow torch's convention for complex tensors: for y = f(z) holomorphic,
 * grad_z = grad_y * conj(f'(z)).
 */

/* out = a @ b for 2x2 complex matrices (out must not alias a or b). */
static inline void FN(mat_mul)(const REAL *a, const REAL *b, REAL *out) {
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            const REAL *x = a + 4 * i, *y0 = b + 2 * j, *y1 = b + 4 + 2 * j;
            out[4 * i + 2 * j] = x[0] * y0[0] - x[1] * y0[1] + x[2] * y1[0] - x[3] * y1[1];
            out[4 * i + 2 * j + 1] = x[0] * y0[1] + x[1] * y0[0] + x[2] * y1[1] + x[3] * y1[0];
        }
}

/* out = a^H @ b */
static inline void FN(mat_adjoint_mul)(const REAL *a, const REAL *b, REAL *out) {
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            REAL re = 0, im = 0;
            for (int k = 0; k < 2; k++) {  /* conj(a[k][i]) * b[k][j] */
                const REAL ar = a[4 * k + 2 * i], ai = a[4 * k + 2 * i + 1];
                const REAL br = b[4 * k + 2 * j], bi = b[4 * k + 2 * j + 1];
                re += ar * br + ai * bi;
                im += ar * bi - ai * br;
            }
            out[4 * i + 2 * j] = re;
            out[4 * i + 2 * j + 1] = im;
        }
}

/* out = a @ b^H */
static inline void FN(mat_mul_adjoint_right)(const REAL *a, const REAL *b, REAL *out) {
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            REAL re = 0, im = 0;
            for (int k = 0; k < 2; k++) {  /* a[i][k] * conj(b[j][k]) */
                const REAL ar = a[4 * i + 2 * k], ai = a[4 * i + 2 * k + 1];
                const REAL br = b[4 * j + 2 * k], bi = b[4 * j + 2 * k + 1];
                re += ar * br + ai * bi;
                im += ai * br - ar * bi;
            }
            out[4 * i + 2 * j] = re;
            out[4 * i + 2 * j + 1] = im;
        }
}

/* Slot r of a layer: rotation matrix r (r < n_rot) or fixed matrix padding[r - n_rot]. */
static inline const REAL *FN(slot_matrix)(const REAL *rotations, const REAL *padding, Py_ssize_t n_rot,
                                          int64_t r) {
    return r < n_rot ? rotations + 8 * r : padding + 8 * (r - n_rot);
}

/*
 * Gate matrices of one layer of single-qubit gates, fused per wire, for each of `samples` rows
 * of angle sources (a row is [weights | inputs | constants] or [weights | constants]).
 * Slot r < n_rot is a rotation: angle = scale[r] * sources[index[r]], matrix
 * cos(angle/2) I + sin(angle/2) G_r with G_r = generators[r] (-i times a Pauli); slot r >= n_rot
 * is the fixed matrix padding[r - n_rot]. Wire w's matrix is the product over steps of the
 * slot step_index[step][w], later steps on the left. slots: [samples][n_rot] rotation matrices
 * (kept for the backward); mats: [samples][n][2x2].
 */
static void FN(build_layer)(const REAL *sources, Py_ssize_t source_stride, Py_ssize_t samples,
                            const int64_t *index, const REAL *scale, const REAL *generators, Py_ssize_t n_rot,
                            const REAL *padding, const int64_t *step_index, Py_ssize_t depth, int n, REAL *slots,
                            REAL *mats) {
    for (Py_ssize_t b = 0; b < samples; b++) {
        const REAL *src = sources + source_stride * b;
        REAL *slot = slots + 8 * n_rot * b;
        for (Py_ssize_t r = 0; r < n_rot; r++) {
            const REAL half = (REAL)0.5 * scale[r] * src[index[r]];
            const REAL c = cos(half), sn = sin(half);
            const REAL *gen = generators + 8 * r;
            for (int e = 0; e < 8; e++) slot[8 * r + e] = sn * gen[e];
            slot[8 * r] += c;
            slot[8 * r + 6] += c;
        }
        for (int w = 0; w < n; w++) {
            REAL u[8] = {1, 0, 0, 0, 0, 0, 1, 0};
            for (Py_ssize_t step = 0; step < depth; step++) {
                const int64_t r = step_index[step * n + w];
                const REAL *m = FN(slot_matrix)(slot, padding, n_rot, r);
                REAL next[8];
                FN(mat_mul)(m, u, next);
                memcpy(u, next, sizeof(u));
            }
            memcpy(mats + 8 * ((Py_ssize_t)n * b + w), u, sizeof(u));
        }
    }
}

/*
 * Backward of build_layer: grad_sources[b][index[r]] += scale[r] * d(angle_r); grad_mats is
 * dL/d(mats) in torch's convention. For U = M_{d-1} ... M_0:
 * dL/dM_k = (M_{d-1} ... M_{k+1})^H grad_U (M_{k-1} ... M_0)^H, and for a rotation
 * dL/dangle = Re sum conj(dL/dM) dM/dangle with dM/dangle = (-sin I + cos G) / 2 at angle/2.
 * scratch: 8 * (depth + 1) REALs.
 */
static void FN(build_layer_backward)(const REAL *sources, Py_ssize_t source_stride, Py_ssize_t samples,
                                     const int64_t *index, const REAL *scale, const REAL *generators,
                                     Py_ssize_t n_rot, const REAL *padding, const int64_t *step_index,
                                     Py_ssize_t depth, int n, const REAL *slots, const REAL *grad_mats,
                                     REAL *grad_sources, REAL *prefix) {
    for (Py_ssize_t b = 0; b < samples; b++) {
        const REAL *src = sources + source_stride * b;
        REAL *grad_src = grad_sources + source_stride * b;
        const REAL *slot = slots + 8 * n_rot * b;
        for (int w = 0; w < n; w++) {
            /* prefix[k] = M_{k-1} ... M_0 (prefix[0] = I) */
            static const REAL eye[8] = {1, 0, 0, 0, 0, 0, 1, 0};
            memcpy(prefix, eye, sizeof(eye));
            for (Py_ssize_t step = 0; step < depth; step++) {
                const int64_t r = step_index[step * n + w];
                const REAL *m = FN(slot_matrix)(slot, padding, n_rot, r);
                FN(mat_mul)(m, prefix + 8 * step, prefix + 8 * (step + 1));
            }
            REAL a[8], grad_m[8], tmp[8];
            memcpy(a, grad_mats + 8 * ((Py_ssize_t)n * b + w), sizeof(a));
            for (Py_ssize_t step = depth - 1; step >= 0; step--) {
                const int64_t r = step_index[step * n + w];
                const REAL *m = FN(slot_matrix)(slot, padding, n_rot, r);
                if (r < n_rot) {
                    FN(mat_mul_adjoint_right)(a, prefix + 8 * step, grad_m);  /* a @ prefix^H */
                    const REAL half = (REAL)0.5 * scale[r] * src[index[r]];
                    const REAL c = cos(half), sn = sin(half);
                    const REAL *gen = generators + 8 * r;
                    REAL d_angle = 0;
                    for (int e = 0; e < 8; e += 2) {  /* Re(conj(grad_m) dM), dM = (-sn I + c G)/2 */
                        REAL dr = c * gen[e], di = c * gen[e + 1];
                        if (e == 0 || e == 6) dr -= sn;
                        d_angle += grad_m[e] * dr + grad_m[e + 1] * di;
                    }
                    grad_src[index[r]] += (REAL)0.5 * scale[r] * d_angle;
                }
                FN(mat_adjoint_mul)(m, a, tmp);  /* a <- M^H a */
                memcpy(a, tmp, sizeof(a));
            }
        }
    }
}

/* psi[b] = (column 0 of mats[b][n-1]) (x) ... (x) (column 0 of mats[b][0]): each wire's gates on |0>. */
static void FN(product_state)(const REAL *mats, Py_ssize_t mat_stride, Py_ssize_t b0, Py_ssize_t b1, int n,
                              REAL *psi) {
    const Py_ssize_t dim = (Py_ssize_t)1 << n;
    for (Py_ssize_t b = b0; b < b1; b++) {
        REAL *p = psi + 2 * dim * b;
        if (b > b0 && mat_stride == 0) {  /* shared matrices: the same state in every row */
            memcpy(p, psi + 2 * dim * b0, sizeof(REAL) * 2 * dim);
            continue;
        }
        const REAL *u = mats + mat_stride * b;
        p[0] = 1;
        p[1] = 0;
        for (int w = 0; w < n; w++) {
            const Py_ssize_t size = (Py_ssize_t)1 << w;
            const REAL c0r = u[8 * w], c0i = u[8 * w + 1], c1r = u[8 * w + 4], c1i = u[8 * w + 5];
            for (Py_ssize_t k = 0; k < size; k++) {
                const REAL ar = p[2 * k], ai = p[2 * k + 1];
                p[2 * (k + size)] = ar * c1r - ai * c1i;
                p[2 * (k + size) + 1] = ar * c1i + ai * c1r;
                p[2 * k] = ar * c0r - ai * c0i;
                p[2 * k + 1] = ar * c0i + ai * c0r;
            }
        }
    }
}

/*
 * grad_mats[b][w][v][0] += sum over basis states i with bit w = v of
 * grad_psi[b][i] * conj(product of the other wires' column entries).
 * Lower wires' products L_w (size 2^w) are built bottom-up; the gradient is contracted with
 * the conjugated columns from the top down (R_w, size 2^(w+1)), so no division is needed.
 * scratch: 2^n + 2^(n-1) complex numbers.
 */
static void FN(product_state_backward)(const REAL *mats, Py_ssize_t mat_stride, Py_ssize_t b0, Py_ssize_t b1,
                                       int n, const REAL *grad_psi, REAL *grad_mats, REAL *scratch) {
    const Py_ssize_t dim = (Py_ssize_t)1 << n;
    REAL *lower = scratch;            /* L_w at complex offset 2^w */
    REAL *rest = scratch + 2 * dim;   /* R_w, 2^(n-1) complex */
    for (Py_ssize_t b = b0; b < b1; b++) {
        const REAL *u = mats + mat_stride * b;
        REAL *g = grad_mats + mat_stride * b;
        const REAL *grad = grad_psi + 2 * dim * b;
        lower[2] = 1;
        lower[3] = 0;
        for (int w = 0; w + 1 < n; w++) {
            const Py_ssize_t size = (Py_ssize_t)1 << w;
            const REAL *src = lower + 2 * size;
            REAL *dst = lower + 4 * size;
            const REAL c0r = u[8 * w], c0i = u[8 * w + 1], c1r = u[8 * w + 4], c1i = u[8 * w + 5];
            for (Py_ssize_t k = 0; k < size; k++) {
                const REAL ar = src[2 * k], ai = src[2 * k + 1];
                dst[2 * k] = ar * c0r - ai * c0i;
                dst[2 * k + 1] = ar * c0i + ai * c0r;
                dst[2 * (k + size)] = ar * c1r - ai * c1i;
                dst[2 * (k + size) + 1] = ar * c1i + ai * c1r;
            }
        }
        const REAL *r = grad;  /* R_{n-1}: the gradient itself */
        for (int w = n - 1; w >= 0; w--) {
            const Py_ssize_t size = (Py_ssize_t)1 << w;
            const REAL *l = lower + 2 * size;
            REAL s0r = 0, s0i = 0, s1r = 0, s1i = 0;
            for (Py_ssize_t j = 0; j < size; j++) {  /* sum_j R[v, j] conj(L[j]) */
                const REAL lr = l[2 * j], li = l[2 * j + 1];
                const REAL ar = r[2 * j], ai = r[2 * j + 1];
                const REAL br = r[2 * (j + size)], bi = r[2 * (j + size) + 1];
                s0r += ar * lr + ai * li;
                s0i += ai * lr - ar * li;
                s1r += br * lr + bi * li;
                s1i += bi * lr - br * li;
            }
            g[8 * w] += s0r;
            g[8 * w + 1] += s0i;
            g[8 * w + 4] += s1r;
            g[8 * w + 5] += s1i;
            if (w == 0) break;
            /* R_{w-1}[j] = conj(c0) R_w[j] + conj(c1) R_w[j + 2^w] */
            const REAL c0r = u[8 * w], c0i = -u[8 * w + 1], c1r = u[8 * w + 4], c1i = -u[8 * w + 5];
            for (Py_ssize_t j = 0; j < size; j++) {
                const REAL ar = r[2 * j], ai = r[2 * j + 1];
                const REAL br = r[2 * (j + size)], bi = r[2 * (j + size) + 1];
                rest[2 * j] = c0r * ar - c0i * ai + c1r * br - c1i * bi;
                rest[2 * j + 1] = c0r * ai + c0i * ar + c1r * bi + c1i * br;
            }
            r = rest;
        }
    }
}

/* out[b][k] = sign[k] * in[b][perm[k]] (sign may be NULL: all +1). */
static void FN(permute)(const REAL *in, REAL *out, const int64_t *perm, const REAL *sign, Py_ssize_t b0,
                        Py_ssize_t b1, Py_ssize_t dim) {
    for (Py_ssize_t b = b0; b < b1; b++) {
        const REAL *src = in + 2 * dim * b;
        REAL *dst = out + 2 * dim * b;
        if (sign) {
            for (Py_ssize_t k = 0; k < dim; k++) {
                dst[2 * k] = sign[k] * src[2 * perm[k]];
                dst[2 * k + 1] = sign[k] * src[2 * perm[k] + 1];
            }
        } else {
            for (Py_ssize_t k = 0; k < dim; k++) {
                dst[2 * k] = src[2 * perm[k]];
                dst[2 * k + 1] = src[2 * perm[k] + 1];
            }
        }
    }
}

/* The adjoint of permute: grad_in[b][perm[k]] = sign[k] * grad_out[b][k]. */
static void FN(permute_backward)(const REAL *grad_out, REAL *grad_in, const int64_t *perm, const REAL *sign,
                                 Py_ssize_t b0, Py_ssize_t b1, Py_ssize_t dim) {
    for (Py_ssize_t b = b0; b < b1; b++) {
        const REAL *src = grad_out + 2 * dim * b;
        REAL *dst = grad_in + 2 * dim * b;
        for (Py_ssize_t k = 0; k < dim; k++) {
            const REAL s = sign ? sign[k] : 1;
            dst[2 * perm[k]] = s * src[2 * k];
            dst[2 * perm[k] + 1] = s * src[2 * k + 1];
        }
    }
}

/* In place: psi[b] <- U_w psi[b] for each listed wire w, U_w = mats[b][w] (2x2 complex). */
STATE_LOOP static void FN(apply_wires)(REAL *psi, Py_ssize_t b0, Py_ssize_t b1, int n, const REAL *mats,
                                       Py_ssize_t mat_stride, const int64_t *wires, Py_ssize_t n_wires) {
    const Py_ssize_t dim = (Py_ssize_t)1 << n;
    for (Py_ssize_t b = b0; b < b1; b++) {
        REAL *p = psi + 2 * dim * b;
        for (Py_ssize_t t = 0; t < n_wires; t++) {
            const int64_t w = wires[t];
            const REAL *u = mats + mat_stride * b + 8 * w;
            const REAL u00r = u[0], u00i = u[1], u01r = u[2], u01i = u[3];
            const REAL u10r = u[4], u10i = u[5], u11r = u[6], u11i = u[7];
            const Py_ssize_t s = (Py_ssize_t)1 << w;
            for (Py_ssize_t hi = 0; hi < dim; hi += 2 * s) {
                REAL *restrict p0 = p + 2 * hi, *restrict p1 = p + 2 * (hi + s);
#pragma omp simd
                for (Py_ssize_t k = 0; k < s; k++) {
                    const REAL xr = p0[2 * k], xi = p0[2 * k + 1], yr = p1[2 * k], yi = p1[2 * k + 1];
                    p0[2 * k] = u00r * xr - u00i * xi + u01r * yr - u01i * yi;
                    p0[2 * k + 1] = u00r * xi + u00i * xr + u01r * yi + u01i * yr;
                    p1[2 * k] = u10r * xr - u10i * xi + u11r * yr - u11i * yi;
                    p1[2 * k + 1] = u10r * xi + u10i * xr + u11r * yi + u11i * yr;
                }
            }
        }
    }
}

/*
 * Backward of apply_wires, wire by wire in reverse order, all in place:
 * psi holds the layer's output and is uncomputed (U^H, the gates are unitary) to its input;
 * grad holds dL/d(output) and becomes dL/d(input) = U^H grad; grad_mats[b][w] += grad_out (x) conj(in).
 */
#define WIRE_PAIR_BACKWARD                                                              \
    {                                                                                   \
        REAL xr = p0[2 * k], xi = p0[2 * k + 1], yr = p1[2 * k], yi = p1[2 * k + 1];    \
        const REAL ir0 = v00r * xr - v00i * xi + v01r * yr - v01i * yi;                \
        const REAL ii0 = v00r * xi + v00i * xr + v01r * yi + v01i * yr;                \
        const REAL ir1 = v10r * xr - v10i * xi + v11r * yr - v11i * yi;                \
        const REAL ii1 = v10r * xi + v10i * xr + v11r * yi + v11i * yr;                \
        p0[2 * k] = ir0;                                                                \
        p0[2 * k + 1] = ii0;                                                            \
        p1[2 * k] = ir1;                                                                \
        p1[2 * k + 1] = ii1;                                                            \
        xr = g0[2 * k], xi = g0[2 * k + 1], yr = g1[2 * k], yi = g1[2 * k + 1];         \
        a00r += xr * ir0 + xi * ii0; /* a[i][j] += g_i conj(in_j) */                    \
        a00i += xi * ir0 - xr * ii0;                                                    \
        a01r += xr * ir1 + xi * ii1;                                                    \
        a01i += xi * ir1 - xr * ii1;                                                    \
        a10r += yr * ir0 + yi * ii0;                                                    \
        a10i += yi * ir0 - yr * ii0;                                                    \
        a11r += yr * ir1 + yi * ii1;                                                    \
        a11i += yi * ir1 - yr * ii1;                                                    \
        g0[2 * k] = v00r * xr - v00i * xi + v01r * yr - v01i * yi;                      \
        g0[2 * k + 1] = v00r * xi + v00i * xr + v01r * yi + v01i * yr;                  \
        g1[2 * k] = v10r * xr - v10i * xi + v11r * yr - v11i * yi;                      \
        g1[2 * k + 1] = v10r * xi + v10i * xr + v11r * yi + v11i * yr;                  \
    }

STATE_LOOP static void FN(apply_wires_backward)(REAL *psi, REAL *grad, Py_ssize_t b0, Py_ssize_t b1, int n,
                                                const REAL *mats, Py_ssize_t mat_stride, const int64_t *wires,
                                                Py_ssize_t n_wires, REAL *grad_mats) {
    const Py_ssize_t dim = (Py_ssize_t)1 << n;
    for (Py_ssize_t b = b0; b < b1; b++) {
        REAL *p = psi + 2 * dim * b, *g = grad + 2 * dim * b;
        for (Py_ssize_t t = n_wires - 1; t >= 0; t--) {
            const int64_t w = wires[t];
            const REAL *u = mats + mat_stride * b + 8 * w;
            /* V = U^H: V[i][j] = conj(U[j][i]) */
            const REAL v00r = u[0], v00i = -u[1], v01r = u[4], v01i = -u[5];
            const REAL v10r = u[2], v10i = -u[3], v11r = u[6], v11i = -u[7];
            REAL a00r = 0, a00i = 0, a01r = 0, a01i = 0, a10r = 0, a10i = 0, a11r = 0, a11i = 0;
            const Py_ssize_t s = (Py_ssize_t)1 << w;
            for (Py_ssize_t hi = 0; hi < dim; hi += 2 * s) {
                REAL *restrict p0 = p + 2 * hi, *restrict p1 = p + 2 * (hi + s);
                REAL *restrict g0 = g + 2 * hi, *restrict g1 = g + 2 * (hi + s);
                if (s >= 8) {
                    /* A vectorised sum pays off only on runs of several pairs. */
#pragma omp simd reduction(+ : a00r, a00i, a01r, a01i, a10r, a10i, a11r, a11i)
                    for (Py_ssize_t k = 0; k < s; k++) WIRE_PAIR_BACKWARD
                } else {
                    for (Py_ssize_t k = 0; k < s; k++) WIRE_PAIR_BACKWARD
                }
            }
            REAL *gm = grad_mats + mat_stride * b + 8 * w;
            gm[0] += a00r;
            gm[1] += a00i;
            gm[2] += a01r;
            gm[3] += a01i;
            gm[4] += a10r;
            gm[5] += a10i;
            gm[6] += a11r;
            gm[7] += a11i;
        }
    }
}

/* probs[i] = |psi[i]|^2 over `count` amplitudes. */
static void FN(probabilities)(const REAL *psi, REAL *probs, Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++) probs[i] = psi[2 * i] * psi[2 * i] + psi[2 * i + 1] * psi[2 * i + 1];
}

/* grad_psi[i] = 2 grad_probs[i] psi[i]  (torch's gradient of |z|^2). */
static void FN(probabilities_backward)(const REAL *psi, const REAL *grad_probs, REAL *grad_psi, Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++) {
        const REAL two_g = 2 * grad_probs[i];
        grad_psi[2 * i] = two_g * psi[2 * i];
        grad_psi[2 * i + 1] = two_g * psi[2 * i + 1];
    }
}
