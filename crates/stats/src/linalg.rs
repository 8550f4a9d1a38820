//! The little dense linear algebra that least squares needs: a Householder QR with its thin
//! `Q`, triangular solves and a Jacobi eigen-decomposition of small symmetric matrices.
//!
//! Matrices are column-major `Vec<f64>`: column `j` of an `n × p` matrix is
//! `a[j * n..(j + 1) * n]`. The sizes here are small in `p` (at most a few hundred
//! columns), so the plain loops are fast enough and their accuracy is easy to reason about:
//! Householder QR is normwise backward stable column by column, and cyclic Jacobi computes
//! the eigenvalues of a symmetric matrix to high relative accuracy.

/// The thin QR factorisation `A = Q R` of an `n × p` matrix with `n ≥ p`.
#[derive(Clone, Debug)]
pub(crate) struct Qr {
    /// Rows of `A`.
    pub n: usize,
    /// Columns of `A`.
    pub p: usize,
    /// The `n × p` matrix `Q` with orthonormal columns, column-major.
    pub q: Vec<f64>,
    /// The `p × p` upper-triangular `R`, column-major (entries below the diagonal are 0).
    pub r: Vec<f64>,
}

impl Qr {
    /// Factorises the column-major `n × p` matrix `a` (consumed as workspace).
    pub(crate) fn new(mut a: Vec<f64>, n: usize, p: usize) -> Qr {
        debug_assert!(n >= p && a.len() == n * p);
        let mut r = vec![0.0; p * p];
        // Phase 1: reflect column j onto e_j; keep the unit Householder vector v_j in the
        // rows j.. of column j, and R above it.
        for j in 0..p {
            let (done, rest) = a.split_at_mut((j + 1) * n);
            let col = &mut done[j * n..];
            for i in 0..j {
                r[j * p + i] = col[i];
            }
            let x = &mut col[j..];
            let norm = norm2(x);
            let alpha = if x[0] > 0.0 { -norm } else { norm };
            r[j * p + j] = alpha;
            if norm == 0.0 {
                x.fill(0.0);
                continue;
            }
            x[0] -= alpha;
            let vn = norm2(x);
            x.iter_mut().for_each(|v| *v /= vn);
            for c in rest.chunks_exact_mut(n) {
                reflect(x, &mut c[j..]);
            }
        }
        // Phase 2: Q = H_0 H_1 … H_{p−1} [I; 0], accumulated backwards.
        let mut q = vec![0.0; n * p];
        for j in 0..p {
            q[j * n + j] = 1.0;
        }
        for j in (0..p).rev() {
            let v = &a[j * n + j..(j + 1) * n];
            for c in q.chunks_exact_mut(n).skip(j) {
                reflect(v, &mut c[j..]);
            }
        }
        Qr { n, p, q, r }
    }

    /// `R[i][j]`.
    pub(crate) fn r_at(&self, i: usize, j: usize) -> f64 {
        self.r[j * self.p + i]
    }

    /// Solves `R x = b` in place (back substitution).
    pub(crate) fn solve_r(&self, b: &mut [f64]) {
        let p = self.p;
        for i in (0..p).rev() {
            let tail: f64 = (i + 1..p)
                .zip(&b[i + 1..])
                .map(|(j, bj)| self.r_at(i, j) * bj)
                .sum();
            b[i] = (b[i] - tail) / self.r_at(i, i);
        }
    }

    /// Solves `Rᵀ x = b` in place (forward substitution; row `i` of `Rᵀ` is column `i` of
    /// `R`, contiguous).
    pub(crate) fn solve_rt(&self, b: &mut [f64]) {
        let p = self.p;
        for i in 0..p {
            let head = dot(&self.r[i * p..i * p + i], &b[..i]);
            b[i] = (b[i] - head) / self.r_at(i, i);
        }
    }

    /// `R⁻¹ S R⁻ᵀ` for a symmetric `p × p` matrix `S` (column-major).
    pub(crate) fn sandwich(&self, s: &[f64]) -> Vec<f64> {
        let p = self.p;
        // T = R⁻¹ S, column by column; then (R⁻¹ Tᵀ)ᵀ = R⁻¹ S R⁻ᵀ since the result is
        // symmetric.
        let mut t = s.to_vec();
        t.chunks_exact_mut(p).for_each(|c| self.solve_r(c));
        let mut tt = transpose(&t, p);
        tt.chunks_exact_mut(p).for_each(|c| self.solve_r(c));
        symmetrise(&mut tt, p);
        tt
    }
}

/// Applies the reflection `I − 2 v vᵀ` (with `‖v‖ = 1`) to `x`.
fn reflect(v: &[f64], x: &mut [f64]) {
    let s = 2.0 * dot(v, x);
    if s != 0.0 {
        x.iter_mut().zip(v).for_each(|(xi, vi)| *xi -= s * vi);
    }
}

/// `Σ aᵢ bᵢ`.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The Euclidean norm, scaled so that it neither overflows nor underflows.
pub(crate) fn norm2(x: &[f64]) -> f64 {
    let m = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    m * x.iter().map(|v| (v / m) * (v / m)).sum::<f64>().sqrt()
}

/// The transpose of a square `p × p` column-major matrix.
fn transpose(a: &[f64], p: usize) -> Vec<f64> {
    let mut t = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            t[i * p + j] = a[j * p + i];
        }
    }
    t
}

/// Replaces a nearly symmetric matrix by `(A + Aᵀ) / 2`.
fn symmetrise(a: &mut [f64], p: usize) {
    for i in 0..p {
        for j in 0..i {
            let m = 0.5 * (a[j * p + i] + a[i * p + j]);
            a[j * p + i] = m;
            a[i * p + j] = m;
        }
    }
}

/// Most Jacobi sweeps; cyclic Jacobi converges quadratically, in well under 20 sweeps for
/// the sizes here.
const MAX_SWEEPS: usize = 60;

/// The eigen-decomposition `A = V diag(λ) Vᵀ` of a symmetric `m × m` matrix (column-major),
/// by cyclic Jacobi rotations: `(λ, V)` with `V` column-major, eigenvector `k` in column `k`.
pub(crate) fn symmetric_eigen(a: &[f64], m: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; m * m];
    for k in 0..m {
        v[k * m + k] = 1.0;
    }
    let scale = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _ in 0..MAX_SWEEPS {
        let off: f64 = (0..m)
            .flat_map(|j| (0..j).map(move |i| (i, j)))
            .map(|(i, j)| a[j * m + i] * a[j * m + i])
            .sum::<f64>();
        if off.sqrt() <= 1e-17 * scale || scale == 0.0 {
            break;
        }
        for q in 1..m {
            for p in 0..q {
                rotate(&mut a, &mut v, m, p, q);
            }
        }
    }
    let lambda = (0..m).map(|k| a[k * m + k]).collect();
    (lambda, v)
}

/// One Jacobi rotation zeroing `a[p][q]` (Golub & Van Loan, Algorithm 8.5.1).
fn rotate(a: &mut [f64], v: &mut [f64], m: usize, p: usize, q: usize) {
    let apq = a[q * m + p];
    if apq == 0.0 {
        return;
    }
    let (app, aqq) = (a[p * m + p], a[q * m + q]);
    let tau = (aqq - app) / (2.0 * apq);
    let t = tau.signum() / (tau.abs() + (1.0 + tau * tau).sqrt());
    let t = if tau == 0.0 { 1.0 } else { t };
    let c = 1.0 / (1.0 + t * t).sqrt();
    let s = t * c;
    // A ← Jᵀ A J on columns, then rows p and q.
    for k in 0..m {
        let (akp, akq) = (a[p * m + k], a[q * m + k]);
        a[p * m + k] = c * akp - s * akq;
        a[q * m + k] = s * akp + c * akq;
    }
    for k in 0..m {
        let (apk, aqk) = (a[k * m + p], a[k * m + q]);
        a[k * m + p] = c * apk - s * aqk;
        a[k * m + q] = s * apk + c * aqk;
    }
    a[q * m + p] = 0.0;
    a[p * m + q] = 0.0;
    for k in 0..m {
        let (vkp, vkq) = (v[p * m + k], v[q * m + k]);
        v[p * m + k] = c * vkp - s * vkq;
        v[q * m + k] = s * vkp + c * vkq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matmul(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
        // (n × k)(k × m), column-major.
        let mut c = vec![0.0; n * m];
        for j in 0..m {
            for l in 0..k {
                for i in 0..n {
                    c[j * n + i] += a[l * n + i] * b[j * k + l];
                }
            }
        }
        c
    }

    #[test]
    fn qr_reproduces_the_matrix_with_orthonormal_q() {
        let (n, p) = (7, 3);
        let a: Vec<f64> = (0..n * p)
            .map(|i| ((i * 37 % 11) as f64 - 5.0) * (1.0 + (i / n) as f64 * 1e3))
            .collect();
        let qr = Qr::new(a.clone(), n, p);
        let back = matmul(&qr.q, &qr.r, n, p, p);
        for (x, y) in back.iter().zip(&a) {
            assert!((x - y).abs() <= 1e-12 * y.abs().max(1e3), "{x} vs {y}");
        }
        for i in 0..p {
            for j in 0..p {
                let d = dot(&qr.q[i * n..(i + 1) * n], &qr.q[j * n..(j + 1) * n]);
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((d - want).abs() < 1e-14);
            }
            for j in 0..i {
                assert_eq!(qr.r_at(i, j), 0.0);
            }
        }
        let mut b = vec![1.0, 2.0, 3.0];
        let orig = b.clone();
        qr.solve_rt(&mut b);
        qr.solve_r(&mut b);
        // (RᵀR)⁻¹ b, so RᵀR times it is b again.
        let rtr = matmul(&transpose(&qr.r, p), &qr.r, p, p, p);
        let back = matmul(&rtr, &b, p, p, 1);
        for (x, y) in back.iter().zip(&orig) {
            assert!((x - y).abs() < 1e-9);
        }
    }

    #[test]
    fn jacobi_diagonalises() {
        let m = 4;
        let a = vec![
            4.0, 1.0, 0.5, 0.0, //
            1.0, 3.0, 0.2, 0.1, //
            0.5, 0.2, 2.0, 0.3, //
            0.0, 0.1, 0.3, 1.0,
        ];
        let (l, v) = symmetric_eigen(&a, m);
        let mut d = vec![0.0; m * m];
        for k in 0..m {
            d[k * m + k] = l[k];
        }
        let back = matmul(&matmul(&v, &d, m, m, m), &transpose(&v, m), m, m, m);
        for (x, y) in back.iter().zip(&a) {
            assert!((x - y).abs() < 1e-14);
        }
        assert!((l.iter().sum::<f64>() - 10.0).abs() < 1e-14);
        assert!((norm2(&[3e200, 4e200]) - 5e200).abs() < 1e186);
    }
}
