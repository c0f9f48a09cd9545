//! The fused gate math of one timestep for a block of batch rows, forward and backward.
//!
//! Conventions (PyTorch's): `gx` is the input projection `x·W_ihᵀ` of this step, `hh` the
//! recurrent product `h_prev·W_hhᵀ`; both `[rows, G*H]`. `bias` is `b_ih + b_hh`, except the
//! GRU's candidate gate where only `b_in` is in `bias` and `b_hn` is in `bias_hn` (the reset gate
//! multiplies `W_hn h + b_hn`).
//!
//! Forward steps overwrite `gx` with what the backward needs (the activated gates); backward
//! steps overwrite it with the gradient of the pre-activations (`dGates`), which the weight
//! gradients then consume with one GEMM over all timesteps.

use super::math::{sigmoid_in_place, tanh, tanh_in_place};

crate::simd::avx2_or_baseline! {
    /// Forward of a plain RNN: `h = act(gx + hh + bias)`. `gx` keeps nothing useful afterwards:
    /// the backward needs only `h`.
    pub fn rnn_forward(
        relu: bool,
        hidden: usize,
        gx: &[f32],
        hh: &[f32],
        bias: &[f32],
        h: &mut [f32],
    ) {
        for ((h_row, gx_row), hh_row) in h
            .chunks_exact_mut(hidden)
            .zip(gx.chunks_exact(hidden))
            .zip(hh.chunks_exact(hidden))
        {
            for j in 0..hidden {
                let pre = gx_row[j] + hh_row[j] + bias[j];
                h_row[j] = if relu { pre.max(0.0) } else { tanh(pre) };
            }
        }
    }
}

crate::simd::avx2_or_baseline! {
    /// Backward of a plain RNN: `dGates = dh * act'(pre)`, with `act'` read off the output `h`.
    pub fn rnn_backward(relu: bool, dh: &[f32], h: &[f32], d_gates: &mut [f32]) {
        for ((g, &d), &y) in d_gates.iter_mut().zip(dh).zip(h) {
            *g = if relu {
                if y > 0.0 {
                    d
                } else {
                    0.0
                }
            } else {
                d * (1.0 - y * y)
            };
        }
    }
}

crate::simd::avx2_or_baseline! {
    /// Forward of an LSTM step. Gates `i, f, g, o`; `c = f*c_prev + i*g`, `h = o*tanh(c)`.
    /// `gates` holds `gx` on entry and the activated gates on exit.
    pub fn lstm_forward(
        hidden: usize,
        gates: &mut [f32],
        hh: &[f32],
        bias: &[f32],
        c_prev: &[f32],
        c: &mut [f32],
        h: &mut [f32],
    ) {
        let n = hidden;
        for (row, g) in gates.chunks_exact_mut(4 * n).enumerate() {
            let hh_row = &hh[row * 4 * n..(row + 1) * 4 * n];
            for k in 0..4 * n {
                g[k] += hh_row[k] + bias[k];
            }
            sigmoid_in_place(&mut g[..2 * n]);
            tanh_in_place(&mut g[2 * n..3 * n]);
            sigmoid_in_place(&mut g[3 * n..]);
            let (i, rest) = g.split_at(n);
            let (f, rest) = rest.split_at(n);
            let (gg, o) = rest.split_at(n);
            let cp = &c_prev[row * n..(row + 1) * n];
            let c_row = &mut c[row * n..(row + 1) * n];
            let h_row = &mut h[row * n..(row + 1) * n];
            for j in 0..n {
                let cj = f[j] * cp[j] + i[j] * gg[j];
                c_row[j] = cj;
                h_row[j] = o[j] * tanh(cj);
            }
        }
    }
}

crate::simd::avx2_or_baseline! {
    /// Backward of an LSTM step. `dh` is the total gradient reaching `h_t`; `dc` carries the
    /// gradient of `c_t` from the step after on entry and that of `c_{t-1}` on exit. `gates` holds
    /// the activated gates on entry and `dGates` (pre-activation) on exit.
    pub fn lstm_backward(
        hidden: usize,
        dh: &[f32],
        dc: &mut [f32],
        gates: &mut [f32],
        c_prev: &[f32],
        c: &[f32],
    ) {
        let n = hidden;
        for (row, g) in gates.chunks_exact_mut(4 * n).enumerate() {
            let span = row * n..(row + 1) * n;
            let (dh, cp, c) = (&dh[span.clone()], &c_prev[span.clone()], &c[span.clone()]);
            let dc = &mut dc[span];
            let (i, rest) = g.split_at_mut(n);
            let (f, rest) = rest.split_at_mut(n);
            let (gg, o) = rest.split_at_mut(n);
            for j in 0..n {
                let tc = tanh(c[j]);
                let (iv, fv, gv, ov) = (i[j], f[j], gg[j], o[j]);
                let dct = dc[j] + dh[j] * ov * (1.0 - tc * tc);
                dc[j] = dct * fv;
                i[j] = dct * gv * iv * (1.0 - iv);
                f[j] = dct * cp[j] * fv * (1.0 - fv);
                gg[j] = dct * iv * (1.0 - gv * gv);
                o[j] = dh[j] * tc * ov * (1.0 - ov);
            }
        }
    }
}

crate::simd::avx2_or_baseline! {
    /// Forward of a GRU step. Gates `r, z, n`:
    /// `r = σ(..)`, `z = σ(..)`, `hn = W_hn h + b_hn`, `n = tanh(W_in x + b_in + r*hn)`,
    /// `h = (1-z)*n + z*h_prev`. `gates` ends up holding `r, z, n`; `hn_out` keeps `hn`.
    #[allow(clippy::too_many_arguments)]
    pub fn gru_forward(
        hidden: usize,
        gates: &mut [f32],
        hh: &[f32],
        bias: &[f32],
        bias_hn: &[f32],
        h_prev: &[f32],
        hn_out: &mut [f32],
        h: &mut [f32],
    ) {
        let n = hidden;
        for (row, g) in gates.chunks_exact_mut(3 * n).enumerate() {
            let hh_row = &hh[row * 3 * n..(row + 1) * 3 * n];
            for k in 0..2 * n {
                g[k] += hh_row[k] + bias[k];
            }
            sigmoid_in_place(&mut g[..2 * n]);
            let span = row * n..(row + 1) * n;
            let hp = &h_prev[span.clone()];
            let hn_row = &mut hn_out[span.clone()];
            let h_row = &mut h[span];
            let (rz, cand) = g.split_at_mut(2 * n);
            let (r, z) = rz.split_at(n);
            for j in 0..n {
                let hn = hh_row[2 * n + j] + bias_hn[j];
                hn_row[j] = hn;
                let nv = tanh(cand[j] + bias[2 * n + j] + r[j] * hn);
                cand[j] = nv;
                h_row[j] = (1.0 - z[j]) * nv + z[j] * hp[j];
            }
        }
    }
}

crate::simd::avx2_or_baseline! {
    /// Backward of a GRU step. On exit `gates` holds the input-side pre-activation gradients
    /// `[dr, dz, dn]`, `d_hh` the hidden-side ones `[dr, dz, dn*r]` (what multiplies `W_hh`),
    /// `hn` is overwritten with `dn*r` (kept for `dW_hn`), and `dh_direct` gets the part of the
    /// gradient of `h_prev` that does not go through `W_hh`: `dh*z`.
    pub fn gru_backward(
        hidden: usize,
        dh: &[f32],
        gates: &mut [f32],
        hn: &mut [f32],
        h_prev: &[f32],
        d_hh: &mut [f32],
        dh_direct: &mut [f32],
    ) {
        let n = hidden;
        for (row, g) in gates.chunks_exact_mut(3 * n).enumerate() {
            let span = row * n..(row + 1) * n;
            let (dh, hp) = (&dh[span.clone()], &h_prev[span.clone()]);
            let hn = &mut hn[span.clone()];
            let direct = &mut dh_direct[span];
            let dhh = &mut d_hh[row * 3 * n..(row + 1) * 3 * n];
            let (r, rest) = g.split_at_mut(n);
            let (z, cand) = rest.split_at_mut(n);
            for j in 0..n {
                let (rv, zv, nv) = (r[j], z[j], cand[j]);
                let dn_pre = dh[j] * (1.0 - zv) * (1.0 - nv * nv);
                let dz_pre = dh[j] * (hp[j] - nv) * zv * (1.0 - zv);
                let dr_pre = dn_pre * hn[j] * rv * (1.0 - rv);
                direct[j] = dh[j] * zv;
                r[j] = dr_pre;
                z[j] = dz_pre;
                cand[j] = dn_pre;
                hn[j] = dn_pre * rv;
                dhh[j] = dr_pre;
                dhh[n + j] = dz_pre;
                dhh[2 * n + j] = dn_pre * rv;
            }
        }
    }
}
