//! The gate math of [`super::cells`] for one batch row and the hidden units one worker of the
//! unit split owns ([`super::team`]): the same expressions in the same order, so each element
//! gets the same bits as there. Gate pieces are the worker's columns of each gate block
//! (`w` floats each), `hh` its `[G, w]` piece of the recurrent product (`d_hh` in GRU backward).

use super::math::{sigmoid_in_place, tanh, tanh_in_place};

crate::simd::avx2_or_baseline! {
    /// [`super::cells::rnn_forward`]: `h = act(gx + hh + bias)`.
    pub fn rnn_forward_units(relu: bool, gx: &[f32], hh: &[f32], bias: &[f32], h: &mut [f32]) {
        let w = h.len();
        let (gx, hh, bias) = (&gx[..w], &hh[..w], &bias[..w]);
        for j in 0..w {
            let pre = gx[j] + hh[j] + bias[j];
            h[j] = if relu { pre.max(0.0) } else { tanh(pre) };
        }
    }
}

crate::simd::avx2_or_baseline! {
    /// [`super::cells::lstm_forward`]: gates `i, f, g, o` (gx on entry, activated on exit),
    /// `c = f*c_prev + i*g`, `h = o*tanh(c)`.
    pub fn lstm_forward_units(
        gates: [&mut [f32]; 4],
        hh: &[f32],
        bias: [&[f32]; 4],
        c_prev: &[f32],
        c: &mut [f32],
        h: &mut [f32],
    ) {
        let w = h.len();
        let [i, f, gg, o] = gates;
        for (q, g) in [&mut *i, &mut *f, &mut *gg, &mut *o].into_iter().enumerate() {
            let (g, hh, b) = (&mut g[..w], &hh[q * w..(q + 1) * w], &bias[q][..w]);
            for k in 0..w {
                g[k] += hh[k] + b[k];
            }
        }
        sigmoid_in_place(&mut i[..w]);
        sigmoid_in_place(&mut f[..w]);
        tanh_in_place(&mut gg[..w]);
        sigmoid_in_place(&mut o[..w]);
        let (cp, c) = (&c_prev[..w], &mut c[..w]);
        for j in 0..w {
            let cj = f[j] * cp[j] + i[j] * gg[j];
            c[j] = cj;
            h[j] = o[j] * tanh(cj);
        }
    }
}

crate::simd::avx2_or_baseline! {
    /// [`super::cells::gru_forward`]: gates `r, z, n`; `hn = W_hn h + b_hn` is kept in `hn_out`.
    pub fn gru_forward_units(
        gates: [&mut [f32]; 3],
        hh: &[f32],
        bias: [&[f32]; 3],
        bias_hn: &[f32],
        h_prev: &[f32],
        hn_out: &mut [f32],
        h: &mut [f32],
    ) {
        let w = h.len();
        let [r, z, cand] = gates;
        for (q, g) in [&mut *r, &mut *z].into_iter().enumerate() {
            let (g, hh, b) = (&mut g[..w], &hh[q * w..(q + 1) * w], &bias[q][..w]);
            for k in 0..w {
                g[k] += hh[k] + b[k];
            }
        }
        sigmoid_in_place(&mut r[..w]);
        sigmoid_in_place(&mut z[..w]);
        let (hh_n, b_n, b_hn) = (&hh[2 * w..3 * w], &bias[2][..w], &bias_hn[..w]);
        let (hp, hn_out, cand) = (&h_prev[..w], &mut hn_out[..w], &mut cand[..w]);
        for j in 0..w {
            let hn = hh_n[j] + b_hn[j];
            hn_out[j] = hn;
            let nv = tanh(cand[j] + b_n[j] + r[j] * hn);
            cand[j] = nv;
            h[j] = (1.0 - z[j]) * nv + z[j] * hp[j];
        }
    }
}

crate::simd::avx2_or_baseline! {
    /// [`super::cells::lstm_backward`]: `dc` carries the gradient of `c_t` in and that of
    /// `c_{t-1}` out; the gates (activated on entry) become `dGates`.
    pub fn lstm_backward_units(
        dh: &[f32],
        dc: &mut [f32],
        gates: [&mut [f32]; 4],
        c_prev: &[f32],
        c: &[f32],
    ) {
        let w = dc.len();
        let [i, f, gg, o] = gates;
        let (dh, cp, c) = (&dh[..w], &c_prev[..w], &c[..w]);
        let (i, f, gg, o) = (&mut i[..w], &mut f[..w], &mut gg[..w], &mut o[..w]);
        for j in 0..w {
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

crate::simd::avx2_or_baseline! {
    /// [`super::cells::gru_backward`]: gates become `[dr, dz, dn]`, `d_hh` (`[3, w]`) gets
    /// `[dr, dz, dn*r]`, `hn` becomes `dn*r`, `dh_direct` gets `dh*z`.
    pub fn gru_backward_units(
        dh: &[f32],
        gates: [&mut [f32]; 3],
        hn: &mut [f32],
        h_prev: &[f32],
        d_hh: &mut [f32],
        dh_direct: &mut [f32],
    ) {
        let w = dh_direct.len();
        let [r, z, cand] = gates;
        let (dh, hp, hn) = (&dh[..w], &h_prev[..w], &mut hn[..w]);
        let (r, z, cand) = (&mut r[..w], &mut z[..w], &mut cand[..w]);
        let (d_r, rest) = d_hh[..3 * w].split_at_mut(w);
        let (d_z, d_n) = rest.split_at_mut(w);
        for j in 0..w {
            let (rv, zv, nv) = (r[j], z[j], cand[j]);
            let dn_pre = dh[j] * (1.0 - zv) * (1.0 - nv * nv);
            let dz_pre = dh[j] * (hp[j] - nv) * zv * (1.0 - zv);
            let dr_pre = dn_pre * hn[j] * rv * (1.0 - rv);
            dh_direct[j] = dh[j] * zv;
            r[j] = dr_pre;
            z[j] = dz_pre;
            cand[j] = dn_pre;
            hn[j] = dn_pre * rv;
            d_r[j] = dr_pre;
            d_z[j] = dz_pre;
            d_n[j] = dn_pre * rv;
        }
    }
}
