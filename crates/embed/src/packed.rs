//! A BERT encoder for sentence embeddings that packs sequences without padding.
//!
//! Profiling candle's BERT on this workload showed the matrix products at about a third of the
//! time; the rest went to allocating tensors, generic element-wise passes and page faults. This
//! encoder runs the same arithmetic (same weights, exact-erf GELU, post-layer-norm BERT) with
//! the `gemm` kernels candle uses, fused element-wise steps, reused buffers, one fused QKV
//! product, and sequences packed end to end so no token is padding. Its output is checked
//! against sentence-transformers' vectors in `tests/reference.rs`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use gemm::Parallelism;

use crate::EmbedError;
use music_rag_kernels::{QuantLinear, QuantScratch};

/// A linear layer's weights, `[n, k]`: f32 for the gemm kernels, or int8.
enum Weights {
    F32(Vec<f32>),
    Int8(QuantLinear),
}

impl Weights {
    /// Int8 when asked for and the shape fits the int8 kernel, f32 otherwise.
    fn new(w: Vec<f32>, n: usize, k: usize, int8: bool) -> Self {
        match int8.then(|| QuantLinear::new(&w, n, k)).flatten() {
            Some(q) => Weights::Int8(q),
            None => Weights::F32(w),
        }
    }

    /// `dst[m, n] = x[m, k] · wᵀ` (`x` rows contiguous).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        dst: &mut [f32],
        x: &[f32],
        m: usize,
        n: usize,
        k: usize,
        par: Parallelism,
        scratch: &mut QuantScratch,
    ) {
        match self {
            Weights::F32(w) => matmul_wt(dst, x, w, m, n, k, k, par),
            Weights::Int8(q) => q.forward(dst, x, m, scratch),
        }
    }
}

struct Layer {
    /// Query, key and value weights stacked: [3H, H].
    qkv_w: Weights,
    qkv_b: Vec<f32>,
    out_w: Weights,
    out_b: Vec<f32>,
    ln1_g: Vec<f32>,
    ln1_b: Vec<f32>,
    up_w: Weights,
    up_b: Vec<f32>,
    down_w: Weights,
    down_b: Vec<f32>,
    ln2_g: Vec<f32>,
    ln2_b: Vec<f32>,
}

pub struct PackedBert {
    hidden: usize,
    heads: usize,
    inter: usize,
    eps: f32,
    max_positions: usize,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    emb_ln_g: Vec<f32>,
    emb_ln_b: Vec<f32>,
    layers: Vec<Layer>,
}

/// Per-thread scratch buffers, grown as needed and reused across calls.
#[derive(Default)]
struct Workspace {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    tmp: Vec<f32>,
    inter: Vec<f32>,
    scores: Vec<f32>,
    quant: QuantScratch,
}

thread_local! {
    static WORKSPACE: RefCell<Workspace> = RefCell::new(Workspace::default());
}

fn grow(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// `dst[m, n] = lhs[m, k] · w[n, k]ᵀ` (+ `dst` when `accumulate`), all row-major.
#[allow(clippy::too_many_arguments)]
fn matmul_wt(
    dst: &mut [f32],
    lhs: &[f32],
    w: &[f32],
    m: usize,
    n: usize,
    k: usize,
    lhs_rs: usize,
    par: Parallelism,
) {
    // Checked in release builds too: gemm trusts these extents with raw pointers.
    assert!(
        dst.len() >= m * n && w.len() >= n * k,
        "matmul output or weight too small"
    );
    assert!(
        m == 0 || lhs.len() >= (m - 1) * lhs_rs + k,
        "matmul input too small"
    );
    // SAFETY: the asserted sizes bound every offset gemm computes from these strides.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            1,
            lhs_rs as isize,
            w.as_ptr(),
            k as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

#[inline(always)]
fn add_bias(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// `x = LayerNorm(x + residual)` row by row.
#[inline(always)]
fn add_layer_norm(x: &mut [f32], residual: Option<&[f32]>, g: &[f32], b: &[f32], eps: f32) {
    let h = g.len();
    for (i, row) in x.chunks_exact_mut(h).enumerate() {
        if let Some(r) = residual {
            for (v, r) in row.iter_mut().zip(&r[i * h..(i + 1) * h]) {
                *v += r;
            }
        }
        let mean = lane_sum(row, |v| v) / h as f32;
        let var = lane_sum(row, |v| (v - mean) * (v - mean)) / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(g).zip(b) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

/// Σ f(v) in 16 running sums: a single running f32 sum is a chain the compiler may not
/// reorder, so it would stay scalar.
#[inline(always)]
fn lane_sum(v: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0.0f32; 16];
    let chunks = v.chunks_exact(16);
    let rest: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l += f(x);
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// `e^x` with relative error about 1e-7 (Cephes' `expf` polynomial), written so the compiler
/// vectorises the loops that call it: libm's `expf` is a scalar call, and GELU and softmax
/// spent a seventh of batched encoding in it.
#[allow(clippy::excessive_precision)]
#[inline(always)]
fn exp(x: f32) -> f32 {
    // Below -87.3 the result would be subnormal; softmax and erf only need it to be ~0.
    // `max` and `min` (not `clamp`) because they return the other operand for NaN: a NaN
    // (softmax of infinities, say) becomes -87.3, so `n` below is always finite and in range.
    #[allow(clippy::manual_clamp)] // clamp keeps NaN, which is the point of not using it
    let x = x.max(-87.3).min(88.7);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = x - n * 0.693_359_375 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_15e-4;
    p = p * r + 1.398_199_950_7e-3;
    p = p * r + 8.333_451_907_3e-3;
    p = p * r + 4.166_579_589_4e-2;
    p = p * r + 1.666_666_545_9e-1;
    p = p * r + 5.000_000_120_1e-1;
    let y = p * r * r + r + 1.0;
    // SAFETY: x is finite and within [-87.3, 88.7] whatever came in (NaN and infinities
    // included), so n is finite and within -126..=128 and fits an i32; the
    // unchecked conversion (no saturation branch) is what lets the loop vectorise.
    let n = unsafe { n.to_int_unchecked::<i32>() };
    y * f32::from_bits(((n + 127) << 23) as u32)
}

/// erf with absolute error below 1.5e-7 (Abramowitz and Stegun 7.1.26).
// The constants are written as published, beyond f32's precision.
#[allow(clippy::excessive_precision)]
#[inline(always)]
fn erf(x: f32) -> f32 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * exp(-x * x);
    sign * y
}

#[inline(always)]
fn bias_gelu(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            let z = *v + b;
            *v = 0.5 * z * (1.0 + erf(z * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

#[inline(always)]
fn softmax_rows(x: &mut [f32], n: usize) {
    for row in x.chunks_exact_mut(n) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.iter_mut().for_each(|v| *v = exp(*v - max));
        let inv = 1.0 / lane_sum(row, |v| v);
        row.iter_mut().for_each(|v| *v *= inv);
    }
}

fn tensor_vec(t: &HashMap<String, Tensor>, names: &[String]) -> Result<Vec<f32>, String> {
    for n in names {
        if let Some(t) = t.get(n) {
            let values = t
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| format!("{n}: {e}"))?;
            // Damaged weights are refused at load instead of turning every vector into NaN.
            if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
                return Err(format!("{n} holds {bad}, not a finite number"));
            }
            return Ok(values);
        }
    }
    Err(format!("missing weight {}", names[0]))
}

/// A checkpoint's tensors, read once for every encoder built from them.
pub fn read_weights(weights: &Path) -> Result<HashMap<String, Tensor>, EmbedError> {
    candle_core::safetensors::load(weights, &Device::Cpu).map_err(|e| EmbedError::ModelInvalid {
        dir: weights.display().to_string(),
        reason: e.to_string(),
    })
}

impl PackedBert {
    /// Builds the encoder from a checkpoint's tensors (`read_weights`, from the file at
    /// `weights`); `int8` quantises the linear layers' weights (see `int8.rs`).
    pub fn load(
        weights: &Path,
        tensors: &HashMap<String, Tensor>,
        config: &serde_json::Value,
        int8: bool,
    ) -> Result<Self, EmbedError> {
        let invalid = |reason: String| EmbedError::ModelInvalid {
            dir: weights.display().to_string(),
            reason,
        };
        let get = |k: &str| {
            config[k]
                .as_u64()
                .map(|v| v as usize)
                .ok_or_else(|| invalid(format!("config.json has no {k}")))
        };
        let hidden = get("hidden_size")?;
        let heads = get("num_attention_heads")?;
        let inter = get("intermediate_size")?;
        let layers_n = get("num_hidden_layers")?;
        let max_positions = get("max_position_embeddings")?;
        let eps = config["layer_norm_eps"].as_f64().unwrap_or(1e-12) as f32;
        if config["hidden_act"].as_str().is_some_and(|a| a != "gelu") || hidden % heads != 0 {
            return Err(invalid(
                "only BERT encoders with exact GELU are supported".into(),
            ));
        }
        // Checkpoints name weights with or without a `bert.` prefix.
        let w = |name: &str| -> Result<Vec<f32>, EmbedError> {
            tensor_vec(tensors, &[name.to_string(), format!("bert.{name}")]).map_err(invalid)
        };
        let mut layers = Vec::with_capacity(layers_n);
        for i in 0..layers_n {
            let p = format!("encoder.layer.{i}");
            let mut qkv_w = w(&format!("{p}.attention.self.query.weight"))?;
            qkv_w.extend(w(&format!("{p}.attention.self.key.weight"))?);
            qkv_w.extend(w(&format!("{p}.attention.self.value.weight"))?);
            let mut qkv_b = w(&format!("{p}.attention.self.query.bias"))?;
            qkv_b.extend(w(&format!("{p}.attention.self.key.bias"))?);
            qkv_b.extend(w(&format!("{p}.attention.self.value.bias"))?);
            let linear = |name: &str, n: usize, k: usize| -> Result<Weights, EmbedError> {
                let v = w(&format!("{p}.{name}"))?;
                if v.len() != n * k {
                    return Err(invalid(format!("{p}.{name} is not {n}x{k}")));
                }
                Ok(Weights::new(v, n, k, int8))
            };
            if qkv_w.len() != 3 * hidden * hidden {
                return Err(invalid(format!(
                    "{p} attention weights are not {hidden}x{hidden}"
                )));
            }
            layers.push(Layer {
                qkv_w: Weights::new(qkv_w, 3 * hidden, hidden, int8),
                qkv_b,
                out_w: linear("attention.output.dense.weight", hidden, hidden)?,
                out_b: w(&format!("{p}.attention.output.dense.bias"))?,
                ln1_g: w(&format!("{p}.attention.output.LayerNorm.weight"))?,
                ln1_b: w(&format!("{p}.attention.output.LayerNorm.bias"))?,
                up_w: linear("intermediate.dense.weight", inter, hidden)?,
                up_b: w(&format!("{p}.intermediate.dense.bias"))?,
                down_w: linear("output.dense.weight", hidden, inter)?,
                down_b: w(&format!("{p}.output.dense.bias"))?,
                ln2_g: w(&format!("{p}.output.LayerNorm.weight"))?,
                ln2_b: w(&format!("{p}.output.LayerNorm.bias"))?,
            });
        }
        Ok(Self {
            hidden,
            heads,
            inter,
            eps,
            max_positions,
            word: w("embeddings.word_embeddings.weight")?,
            position: w("embeddings.position_embeddings.weight")?,
            token_type: w("embeddings.token_type_embeddings.weight")?,
            emb_ln_g: w("embeddings.LayerNorm.weight")?,
            emb_ln_b: w("embeddings.LayerNorm.bias")?,
            layers,
        })
    }

    /// Mean-pooled, L2-normalised embeddings of token sequences, on the calling thread.
    pub fn embed(&self, sequences: &[&[u32]]) -> Vec<Vec<f32>> {
        WORKSPACE.with(|ws| {
            let ws = &mut ws.borrow_mut();
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports AVX2 and FMA (checked above).
                return unsafe { self.embed_avx2(ws, sequences) };
            }
            self.embed_with(ws, sequences)
        })
    }

    /// The same code compiled with AVX2 and FMA, so the element-wise steps vectorise.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn embed_avx2(&self, ws: &mut Workspace, sequences: &[&[u32]]) -> Vec<Vec<f32>> {
        self.embed_with(ws, sequences)
    }

    #[inline(always)]
    fn embed_with(&self, ws: &mut Workspace, sequences: &[&[u32]]) -> Vec<Vec<f32>> {
        let h = self.hidden;
        let lens: Vec<usize> = sequences
            .iter()
            .map(|s| s.len().min(self.max_positions))
            .collect();
        let total: usize = lens.iter().sum();
        let par = Parallelism::None;
        let Workspace {
            x,
            qkv,
            ctx,
            tmp,
            inter,
            scores,
            quant,
        } = ws;
        let x = grow(x, total * h);
        // Embeddings: word + position + token type 0, then layer norm.
        let mut row = 0;
        for (seq, &len) in sequences.iter().zip(&lens) {
            for (pos, &id) in seq[..len].iter().enumerate() {
                let dst = &mut x[row * h..(row + 1) * h];
                let id = (id as usize).min(self.word.len() / h - 1);
                let (wv, pv, tv) = (
                    &self.word[id * h..(id + 1) * h],
                    &self.position[pos * h..(pos + 1) * h],
                    &self.token_type[..h],
                );
                for i in 0..h {
                    dst[i] = wv[i] + pv[i] + tv[i];
                }
                row += 1;
            }
        }
        add_layer_norm(x, None, &self.emb_ln_g, &self.emb_ln_b, self.eps);

        let d = h / self.heads;
        let scale = 1.0 / (d as f32).sqrt();
        let max_len = lens.iter().copied().max().unwrap_or(0);
        for layer in &self.layers {
            let qkv = grow(qkv, total * 3 * h);
            layer.qkv_w.apply(qkv, x, total, 3 * h, h, par, quant);
            add_bias(qkv, &layer.qkv_b);
            let ctx = grow(ctx, total * h);
            let scores = grow(scores, max_len * max_len);
            let mut off = 0;
            for &len in &lens {
                for head in 0..self.heads {
                    let q = &qkv[off * 3 * h + head * d..];
                    let k = &qkv[off * 3 * h + h + head * d..];
                    let v = &qkv[off * 3 * h + 2 * h + head * d..];
                    let s = &mut scores[..len * len];
                    // The extents gemm reads and writes below, checked in release builds too.
                    assert!(len == 0 || q.len() >= (len - 1) * 3 * h + d);
                    assert!(len == 0 || k.len() >= (len - 1) * 3 * h + d);
                    assert!(len == 0 || v.len() >= (len - 1) * 3 * h + d);
                    // SAFETY: rows of q, k, v lie within this sequence's `len` rows of qkv
                    // (row stride 3h, `d` columns from the head's offset); s is len×len and
                    // the context block is `len` rows of stride h from the head's column.
                    unsafe {
                        gemm::gemm(
                            len,
                            len,
                            d,
                            s.as_mut_ptr(),
                            1,
                            len as isize,
                            false,
                            q.as_ptr(),
                            1,
                            (3 * h) as isize,
                            k.as_ptr(),
                            (3 * h) as isize,
                            1,
                            0.0,
                            scale,
                            false,
                            false,
                            false,
                            par,
                        );
                    }
                    softmax_rows(s, len);
                    let c = &mut ctx[off * h + head * d..];
                    assert!(len == 0 || c.len() >= (len - 1) * h + d);
                    // SAFETY: s is the len×len score block just written; v and c were checked
                    // above to hold `len` rows of `d` columns at strides 3h and h.
                    unsafe {
                        gemm::gemm(
                            len,
                            d,
                            len,
                            c.as_mut_ptr(),
                            1,
                            h as isize,
                            false,
                            s.as_ptr(),
                            1,
                            len as isize,
                            v.as_ptr(),
                            1,
                            (3 * h) as isize,
                            0.0,
                            1.0,
                            false,
                            false,
                            false,
                            par,
                        );
                    }
                }
                off += len;
            }
            let tmp = grow(tmp, total * h);
            layer.out_w.apply(tmp, ctx, total, h, h, par, quant);
            add_bias(tmp, &layer.out_b);
            add_layer_norm(tmp, Some(x), &layer.ln1_g, &layer.ln1_b, self.eps);
            let inter = grow(inter, total * self.inter);
            layer
                .up_w
                .apply(inter, tmp, total, self.inter, h, par, quant);
            bias_gelu(inter, &layer.up_b);
            layer
                .down_w
                .apply(x, inter, total, h, self.inter, par, quant);
            add_bias(x, &layer.down_b);
            add_layer_norm(x, Some(tmp), &layer.ln2_g, &layer.ln2_b, self.eps);
        }

        // Mean over each sequence's tokens, then unit length.
        let mut out = Vec::with_capacity(lens.len());
        let mut off = 0;
        for &len in &lens {
            let mut v = vec![0.0f32; h];
            for r in off..off + len {
                for (a, b) in v.iter_mut().zip(&x[r * h..(r + 1) * h]) {
                    *a += b;
                }
            }
            music_rag_core::domain::retrieval::vector::normalize(&mut v);
            out.push(v);
            off += len;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_accurate() {
        for (x, want) in [
            (0.0f32, 0.0f32),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (-2.0, -0.995_322_3),
            (3.5, 0.999_999_3),
        ] {
            assert!(
                (erf(x) - want).abs() < 2e-7,
                "erf({x}) = {} not {want}",
                erf(x)
            );
        }
    }

    #[test]
    fn matmul_matches_naive() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.5).collect();
        let w: Vec<f32> = (0..n * k).map(|i| (i as f32).sin()).collect();
        let mut dst = vec![0.0; m * n];
        matmul_wt(&mut dst, &a, &w, m, n, k, k, Parallelism::None);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|t| a[i * k + t] * w[j * k + t]).sum();
                assert!((dst[i * n + j] - want).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn exp_is_accurate() {
        // Clamped below: tiny, which is all softmax and erf need.
        assert!(exp(-100.0) < 2e-38);
        for x in [-87.0f32, -20.0, -1.5, -0.3, 0.0, 0.2, 1.0, 5.5, 30.0, 88.0] {
            let (got, want) = (exp(x), x.exp());
            assert!(
                (got - want).abs() <= 3e-7 * want.max(1e-37),
                "exp({x}) = {got} not {want}"
            );
        }
    }

    #[test]
    fn nan_and_infinities_pass_the_element_wise_steps_without_undefined_behaviour() {
        for x in [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            1e30,
            -1e30,
        ] {
            // Defined for every input: never NaN, never negative (large inputs saturate).
            let y = exp(x);
            assert!(!y.is_nan() && y >= 0.0, "exp({x}) = {y}");
            assert!(erf(x).is_nan() || erf(x).abs() <= 1.0, "erf({x})");
        }
        assert!(exp(f32::NEG_INFINITY) < 1e-37 && exp(f32::NAN) < 1e-37);
        // A row of softmax with infinities and a NaN, and GELU over the same, stay defined.
        let mut row = vec![f32::INFINITY, 1.0, f32::NAN, f32::NEG_INFINITY];
        softmax_rows(&mut row, 4);
        assert_eq!(row.len(), 4);
        let mut x = vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.5];
        bias_gelu(&mut x, &[0.0; 4]);
        assert!((x[3] - 0.345_731).abs() < 1e-5, "gelu(0.5) = {}", x[3]);
    }

    #[test]
    fn weights_that_are_not_finite_are_refused_at_load() {
        let mut tensors = HashMap::new();
        tensors.insert(
            "w".to_string(),
            Tensor::new(&[1.0f32, f32::NAN, 2.0], &Device::Cpu).unwrap(),
        );
        let err = tensor_vec(&tensors, &["w".to_string()]).unwrap_err();
        assert!(err.contains("w holds NaN"), "{err}");
        tensors.insert(
            "v".to_string(),
            Tensor::new(&[1.0f32, 2.0], &Device::Cpu).unwrap(),
        );
        assert_eq!(
            tensor_vec(&tensors, &["v".to_string()]).unwrap(),
            vec![1.0, 2.0]
        );
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let mut x = vec![1.0, 2.0, 3.0, -1.0, 0.0, 1000.0];
        softmax_rows(&mut x, 3);
        assert!((x[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((x[5] - 1.0).abs() < 1e-6);
    }

    /// A tiny BERT with random weights, written as safetensors: the packed encoder must agree
    /// with candle-transformers' BERT on it, so the packed arithmetic (fused QKV, packed
    /// sequences, attention extents) is covered without the real model.
    #[test]
    fn packed_encoder_matches_candle_bert_on_random_weights() {
        use candle_core::{DType, Tensor};
        use candle_nn::VarBuilder;
        use candle_transformers::models::bert::{BertModel, Config};

        let (hidden, heads, inter, layers, vocab, positions) = (32, 4, 64, 2, 50, 24);
        let config = serde_json::json!({
            "vocab_size": vocab, "hidden_size": hidden, "num_hidden_layers": layers,
            "num_attention_heads": heads, "intermediate_size": inter, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.0, "max_position_embeddings": positions,
            "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
            "pad_token_id": 0, "position_embedding_type": "absolute", "use_cache": false,
            "model_type": "bert"
        });
        // A fixed linear congruential generator: the same weights on every run.
        let mut state: u64 = 42;
        let mut random = |n: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((state >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 2.0 * scale
                })
                .collect()
        };
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        let mut put = |name: String, shape: &[usize], values: Vec<f32>| {
            tensors.insert(name, Tensor::from_vec(values, shape, &Device::Cpu).unwrap());
        };
        put(
            "embeddings.word_embeddings.weight".into(),
            &[vocab, hidden],
            random(vocab * hidden, 0.5),
        );
        put(
            "embeddings.position_embeddings.weight".into(),
            &[positions, hidden],
            random(positions * hidden, 0.5),
        );
        put(
            "embeddings.token_type_embeddings.weight".into(),
            &[2, hidden],
            random(2 * hidden, 0.5),
        );
        put(
            "embeddings.LayerNorm.weight".into(),
            &[hidden],
            vec![1.0; hidden],
        );
        put(
            "embeddings.LayerNorm.bias".into(),
            &[hidden],
            random(hidden, 0.1),
        );
        for i in 0..layers {
            let p = format!("encoder.layer.{i}");
            for part in [
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
                "attention.output.dense",
            ] {
                put(
                    format!("{p}.{part}.weight"),
                    &[hidden, hidden],
                    random(hidden * hidden, 0.3),
                );
                put(format!("{p}.{part}.bias"), &[hidden], random(hidden, 0.1));
            }
            put(
                format!("{p}.intermediate.dense.weight"),
                &[inter, hidden],
                random(inter * hidden, 0.3),
            );
            put(
                format!("{p}.intermediate.dense.bias"),
                &[inter],
                random(inter, 0.1),
            );
            put(
                format!("{p}.output.dense.weight"),
                &[hidden, inter],
                random(hidden * inter, 0.3),
            );
            put(
                format!("{p}.output.dense.bias"),
                &[hidden],
                random(hidden, 0.1),
            );
            for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
                put(
                    format!("{p}.{ln}.weight"),
                    &[hidden],
                    random(hidden, 0.2).iter().map(|x| 1.0 + x).collect(),
                );
                put(format!("{p}.{ln}.bias"), &[hidden], random(hidden, 0.1));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        candle_core::safetensors::save(&tensors, &path).unwrap();

        let packed =
            PackedBert::load(&path, &read_weights(&path).unwrap(), &config, false).unwrap();
        // SAFETY: the file was just written by this test and is not modified while mapped.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&path], DType::F32, &Device::Cpu) }
            .unwrap();
        let cfg: Config = serde_json::from_value(config.clone()).unwrap();
        let bert = BertModel::load(vb, &cfg).unwrap();

        let sequences: [&[u32]; 3] = [&[1, 7, 9, 2], &[1, 3, 44, 12, 5, 18, 2], &[1, 2]];
        let got = packed.embed(&sequences);
        assert_eq!(got.len(), sequences.len());
        for (seq, mine) in sequences.iter().zip(&got) {
            let ids = Tensor::new(&seq[..], &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let types = ids.zeros_like().unwrap();
            let out = bert.forward(&ids, &types, None).unwrap();
            let rows: Vec<Vec<f32>> = out.squeeze(0).unwrap().to_vec2().unwrap();
            let mut mean = vec![0.0f32; hidden];
            for r in &rows {
                mean.iter_mut()
                    .zip(r)
                    .for_each(|(m, v)| *m += v / rows.len() as f32);
            }
            let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt();
            let cosine: f32 = mine.iter().zip(&mean).map(|(a, b)| a * b / norm).sum();
            assert_eq!(mine.len(), hidden);
            assert!(
                cosine > 0.9999,
                "packed and candle disagree: cosine {cosine}"
            );
        }
    }
}
