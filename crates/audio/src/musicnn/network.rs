//! The MusiCNN network (Pons & Serra, "musicnn", ISMIR 2019 LBD), inference only, on the gemm
//! kernels the text encoder uses.
//!
//! A 3-second patch (187 frames × 96 mel bands) goes through:
//! - a front end of musically shaped filters: two timbral convolutions (7 frames × 38 and 67
//!   bands, 204 filters each) and three temporal ones (128, 64 and 32 frames × 1 band, 51 filters
//!   each), each ReLU → batch norm → max over frequency: 561 values per frame;
//! - a mid end of three 7-frame convolutions (64 filters) with residual connections;
//! - a back end: max and mean over time of all 753 per-frame values, batch norm, a 200-unit dense
//!   layer (ReLU, batch norm: the **penultimate layer, the sound embedding**), and 50 logits.
//!
//! Layer names follow the order TensorFlow created them in `musicnn/models.py`
//! (`batch_normalization` … `_10`, `conv2d` … `_7`, `dense`, `dense_1`).

use std::collections::BTreeMap;

use gemm::Parallelism;
use music_rag_kernels::{int8_is_native, QuantLinear, QuantScratch};

use super::checkpoint::Tensor;
use super::mel::MEL_BANDS;

/// Frames in one patch: librosa's `time_to_frames(3 s) + 1` at 16 kHz, hop 256.
pub const PATCH_FRAMES: usize = 187;
/// Units of the penultimate layer: the length of the sound embedding.
pub const EMBEDDING_DIM: usize = 200;
/// Tags of the output layer.
pub const TAG_COUNT: usize = 50;
/// `tf.compat.v1.layers.batch_normalization`'s default epsilon.
const BN_EPSILON: f32 = 1e-3;

const TIMBRAL_FILTERS: usize = 204;
const TEMPORAL_FILTERS: usize = 51;
const FRONT_WIDTH: usize = 2 * TIMBRAL_FILTERS + 3 * TEMPORAL_FILTERS;
const MID_FILTERS: usize = 64;
const MID_WIDTH: usize = FRONT_WIDTH + 3 * MID_FILTERS;
const KERNEL_FRAMES: usize = 7;
/// (band width) of the two timbral filters: `int(0.4 · 96)` and `int(0.7 · 96)`.
const TIMBRAL_BANDS: [usize; 2] = [38, 67];
/// (frames) of the three temporal filters.
const TEMPORAL_FRAMES: [usize; 3] = [128, 64, 32];

/// Why weights could not be used.
#[derive(Debug, thiserror::Error)]
#[error("sound model weights: {0}")]
pub struct WeightsError(pub String);

/// Batch norm folded for inference: `y = x · scale + shift`.
struct Norm {
    scale: Vec<f32>,
    shift: Vec<f32>,
}

/// A layer's weights as a `[k, n]` matrix (TensorFlow's `[kh, kw, in, out]` flattened) and bias.
struct Linear {
    weights: Vec<f32>,
    bias: Vec<f32>,
    k: usize,
    n: usize,
}

/// The inference weights of one MusiCNN model.
pub struct Network {
    input_norm: Norm,
    timbral: [(Linear, Norm); 2],
    /// The wider timbral convolution (67 bands) in int8, with `Precision::Int8Where native`
    /// on a processor that multiplies int8 natively (VNNI).
    wide_timbral_int8: Option<Timbral8>,
    temporal: [(Linear, Norm); 3],
    mid: [(Linear, Norm); 3],
    pool_norm: Norm,
    dense: Linear,
    dense_norm: Norm,
    output: Linear,
}

/// How the network multiplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// f32 everywhere.
    F32,
    /// The wider timbral convolution in int8 where the processor has AVX-512 VNNI, f32
    /// elsewhere: 1.18× the ingest speed, tags within 0.008 of the Python package's on the
    /// reference fixtures (0.005 in f32). Both timbral convolutions in int8 were 1.49× but
    /// 0.016 (`docs/BENCHMARKS.md`).
    #[default]
    Int8WhereNative,
}

/// A timbral convolution's weights in int8, padded to the kernel's tiles: inputs to a multiple
/// of 32 (zero weights), filters to a multiple of 64 (zero filters, not read).
struct Timbral8 {
    linear: QuantLinear,
    k: usize,
    n: usize,
}

impl Timbral8 {
    fn new(layer: &Linear) -> Option<Self> {
        let k = layer.k.div_ceil(32) * 32;
        let n = layer.n.div_ceil(64) * 64;
        // QuantLinear takes [n, k] row-major; the layer holds [k, n].
        let mut w = vec![0f32; n * k];
        for i in 0..layer.k {
            for j in 0..layer.n {
                w[j * k + i] = layer.weights[i * layer.n + j];
            }
        }
        Some(Self {
            linear: QuantLinear::new(&w, n, k)?,
            k,
            n,
        })
    }
}

/// What one patch gives.
#[derive(Debug, Clone)]
pub struct PatchOutput {
    /// Sigmoid of the logits, one per tag.
    pub tags: [f32; TAG_COUNT],
    /// The penultimate layer.
    pub embedding: [f32; EMBEDDING_DIM],
}

impl Network {
    /// The network from named tensors (a converted checkpoint); checks every shape.
    pub fn from_tensors(
        t: &BTreeMap<String, Tensor>,
        precision: Precision,
    ) -> Result<Self, WeightsError> {
        let norm = |i: usize, width: usize| -> Result<Norm, WeightsError> {
            let name = if i == 0 {
                "batch_normalization".to_string()
            } else {
                format!("batch_normalization_{i}")
            };
            let get = |part: &str| -> Result<&Vec<f32>, WeightsError> {
                let key = format!("{name}/{part}");
                let tensor = t
                    .get(&key)
                    .ok_or_else(|| WeightsError(format!("{key} is missing")))?;
                if tensor.values.len() != width {
                    return Err(WeightsError(format!(
                        "{key} has {} values, expected {width}",
                        tensor.values.len()
                    )));
                }
                Ok(&tensor.values)
            };
            let (gamma, beta) = (get("gamma")?, get("beta")?);
            let (mean, var) = (get("moving_mean")?, get("moving_variance")?);
            let scale: Vec<f32> = gamma
                .iter()
                .zip(var)
                .map(|(g, v)| g / (v + BN_EPSILON).sqrt())
                .collect();
            let shift = beta
                .iter()
                .zip(mean)
                .zip(&scale)
                .map(|((b, m), s)| b - m * s)
                .collect();
            Ok(Norm { scale, shift })
        };
        let linear = |name: &str, k: usize, n: usize| -> Result<Linear, WeightsError> {
            let kernel = t
                .get(&format!("{name}/kernel"))
                .ok_or_else(|| WeightsError(format!("{name}/kernel is missing")))?;
            let bias = t
                .get(&format!("{name}/bias"))
                .ok_or_else(|| WeightsError(format!("{name}/bias is missing")))?;
            if kernel.values.len() != k * n || bias.values.len() != n {
                return Err(WeightsError(format!(
                    "{name} has shape {:?}, expected {k}×{n}",
                    kernel.shape
                )));
            }
            Ok(Linear {
                weights: kernel.values.clone(),
                bias: bias.values.clone(),
                k,
                n,
            })
        };
        let conv = |i: usize| {
            if i == 0 {
                "conv2d".to_string()
            } else {
                format!("conv2d_{i}")
            }
        };
        let network = Self {
            wide_timbral_int8: None,
            input_norm: norm(0, 1)?,
            timbral: [
                (
                    linear(&conv(0), KERNEL_FRAMES * TIMBRAL_BANDS[0], TIMBRAL_FILTERS)?,
                    norm(1, TIMBRAL_FILTERS)?,
                ),
                (
                    linear(&conv(1), KERNEL_FRAMES * TIMBRAL_BANDS[1], TIMBRAL_FILTERS)?,
                    norm(2, TIMBRAL_FILTERS)?,
                ),
            ],
            temporal: [
                (
                    linear(&conv(2), TEMPORAL_FRAMES[0], TEMPORAL_FILTERS)?,
                    norm(3, TEMPORAL_FILTERS)?,
                ),
                (
                    linear(&conv(3), TEMPORAL_FRAMES[1], TEMPORAL_FILTERS)?,
                    norm(4, TEMPORAL_FILTERS)?,
                ),
                (
                    linear(&conv(4), TEMPORAL_FRAMES[2], TEMPORAL_FILTERS)?,
                    norm(5, TEMPORAL_FILTERS)?,
                ),
            ],
            mid: [
                (
                    linear(&conv(5), KERNEL_FRAMES * FRONT_WIDTH, MID_FILTERS)?,
                    norm(6, MID_FILTERS)?,
                ),
                (
                    linear(&conv(6), KERNEL_FRAMES * MID_FILTERS, MID_FILTERS)?,
                    norm(7, MID_FILTERS)?,
                ),
                (
                    linear(&conv(7), KERNEL_FRAMES * MID_FILTERS, MID_FILTERS)?,
                    norm(8, MID_FILTERS)?,
                ),
            ],
            pool_norm: norm(9, 2 * MID_WIDTH)?,
            dense: linear("dense", 2 * MID_WIDTH, EMBEDDING_DIM)?,
            dense_norm: norm(10, EMBEDDING_DIM)?,
            output: linear("dense_1", EMBEDDING_DIM, TAG_COUNT)?,
        };
        Ok(network.with_precision(precision))
    }

    fn with_precision(mut self, precision: Precision) -> Self {
        if precision == Precision::Int8WhereNative && int8_is_native() {
            // The narrower one (38 bands) moved the tags twice as far from the reference for
            // the same saving: it stays f32.
            self.wide_timbral_int8 = Timbral8::new(&self.timbral[1].0);
        }
        self
    }

    /// Runs one patch of `PATCH_FRAMES` frames.
    pub fn forward(&self, patch: &[[f32; MEL_BANDS]], scratch: &mut Scratch) -> PatchOutput {
        assert_eq!(
            patch.len(),
            PATCH_FRAMES,
            "a patch is {PATCH_FRAMES} frames"
        );
        let t_len = PATCH_FRAMES;
        let pad = KERNEL_FRAMES / 2;
        // Normalised input, zero-padded by 3 frames on each side in time.
        let (s, b) = (self.input_norm.scale[0], self.input_norm.shift[0]);
        let padded = &mut scratch.padded_input;
        padded.clear();
        padded.resize((t_len + 2 * pad) * MEL_BANDS, 0.0);
        for (t, frame) in patch.iter().enumerate() {
            let row = &mut padded[(t + pad) * MEL_BANDS..(t + pad + 1) * MEL_BANDS];
            for (o, x) in row.iter_mut().zip(frame) {
                *o = x * s + b;
            }
        }
        let front = &mut scratch.front;
        front.clear();
        front.resize(t_len * FRONT_WIDTH, 0.0);

        // Timbral filters: every (frame, band offset) window as a row, one product.
        for (i, (layer, norm)) in self.timbral.iter().enumerate() {
            let bands = TIMBRAL_BANDS[i];
            let offsets = MEL_BANDS - bands + 1;
            let int8 = self.wide_timbral_int8.as_ref().filter(|_| i == 1);
            let k = KERNEL_FRAMES * bands;
            let row = int8.map_or(k, |q| q.k);
            let cols = &mut scratch.columns;
            cols.clear();
            cols.reserve(t_len * offsets * row);
            for t in 0..t_len {
                for f in 0..offsets {
                    for dt in 0..KERNEL_FRAMES {
                        let at = (t + dt) * MEL_BANDS + f;
                        cols.extend_from_slice(&padded[at..at + bands]);
                    }
                    cols.resize(cols.len() + row - k, 0.0);
                }
            }
            let out = &mut scratch.product;
            out.clear();
            let width = match int8 {
                Some(q) => {
                    out.resize(t_len * offsets * q.n, 0.0);
                    q.linear
                        .forward(out, cols, t_len * offsets, &mut scratch.quant);
                    q.n
                }
                None => {
                    out.resize(t_len * offsets * layer.n, 0.0);
                    matmul(out, cols, k, t_len * offsets, layer);
                    layer.n
                }
            };
            let column = i * TIMBRAL_FILTERS;
            let layout = Layout {
                frame_stride: offsets,
                band_stride: 1,
                row_width: width,
            };
            pool_over_frequency(out, offsets, layout, layer, norm, front, column);
        }

        // Temporal filters ("same" padding in time): per band, the frames of that band in time
        // order are read as overlapping rows, so no copy is needed beyond one transposition.
        let longest = TEMPORAL_FRAMES[0];
        let lead = (longest - 1) / 2;
        let span = t_len + longest;
        let by_band = &mut scratch.by_band;
        by_band.clear();
        by_band.resize(MEL_BANDS * span, 0.0);
        for t in 0..t_len {
            for f in 0..MEL_BANDS {
                by_band[f * span + lead + t] = padded[(t + pad) * MEL_BANDS + f];
            }
        }
        for (i, (layer, norm)) in self.temporal.iter().enumerate() {
            let frames = TEMPORAL_FRAMES[i];
            let before = (frames - 1) / 2; // TensorFlow puts the odd frame of padding after
            let out = &mut scratch.product;
            out.clear();
            out.resize(MEL_BANDS * t_len * layer.n, 0.0);
            for f in 0..MEL_BANDS {
                let start = f * span + lead - before;
                let rows = &by_band[start..start + t_len + frames - 1];
                let dst = &mut out[f * t_len * layer.n..(f + 1) * t_len * layer.n];
                matmul_rows(dst, rows, 1, t_len, layer);
            }
            // out is [band][frame][filter]; pool over bands.
            let column = 2 * TIMBRAL_FILTERS + i * TEMPORAL_FILTERS;
            let layout = Layout {
                frame_stride: 1,
                band_stride: t_len,
                row_width: layer.n,
            };
            pool_over_frequency(out, MEL_BANDS, layout, layer, norm, front, column);
        }

        // Mid end: each layer sees 7 frames of the whole previous layer.
        let mid = &mut scratch.mid;
        mid.clear();
        mid.resize(t_len * MID_WIDTH, 0.0);
        for t in 0..t_len {
            mid[t * MID_WIDTH..t * MID_WIDTH + FRONT_WIDTH]
                .copy_from_slice(&front[t * FRONT_WIDTH..(t + 1) * FRONT_WIDTH]);
        }
        let mut input_width = FRONT_WIDTH;
        let mut input_column = 0;
        for (i, (layer, norm)) in self.mid.iter().enumerate() {
            let held = &mut scratch.columns;
            held.clear();
            held.resize((t_len + 2 * pad) * input_width, 0.0);
            for t in 0..t_len {
                let from = t * MID_WIDTH + input_column;
                held[(t + pad) * input_width..(t + pad + 1) * input_width]
                    .copy_from_slice(&mid[from..from + input_width]);
            }
            let out = &mut scratch.product;
            out.clear();
            out.resize(t_len * layer.n, 0.0);
            matmul_rows(out, held, input_width, t_len, layer);
            let column = FRONT_WIDTH + i * MID_FILTERS;
            for t in 0..t_len {
                for c in 0..layer.n {
                    let v = (out[t * layer.n + c] + layer.bias[c]).max(0.0);
                    let mut y = v * norm.scale[c] + norm.shift[c];
                    if i > 0 {
                        y += mid[t * MID_WIDTH + input_column + c]; // residual
                    }
                    mid[t * MID_WIDTH + column + c] = y;
                }
            }
            input_width = MID_FILTERS;
            input_column = column;
        }

        // Back end: max and mean over time, interleaved per feature as TensorFlow's
        // concat-then-flatten lays them out.
        let mut pooled = vec![0f32; 2 * MID_WIDTH];
        for c in 0..MID_WIDTH {
            let (mut hi, mut sum) = (f32::MIN, 0f64);
            for t in 0..t_len {
                let v = mid[t * MID_WIDTH + c];
                hi = hi.max(v);
                sum += f64::from(v);
            }
            pooled[2 * c] = hi;
            pooled[2 * c + 1] = (sum / t_len as f64) as f32;
        }
        for (i, v) in pooled.iter_mut().enumerate() {
            *v = *v * self.pool_norm.scale[i] + self.pool_norm.shift[i];
        }
        let mut hidden = vec![0f32; EMBEDDING_DIM];
        matmul(&mut hidden, &pooled, self.dense.k, 1, &self.dense);
        let mut embedding = [0f32; EMBEDDING_DIM];
        for (i, e) in embedding.iter_mut().enumerate() {
            let v = (hidden[i] + self.dense.bias[i]).max(0.0);
            *e = v * self.dense_norm.scale[i] + self.dense_norm.shift[i];
        }
        let mut logits = vec![0f32; TAG_COUNT];
        matmul(&mut logits, &embedding, self.output.k, 1, &self.output);
        let mut tags = [0f32; TAG_COUNT];
        for (i, p) in tags.iter_mut().enumerate() {
            *p = 1.0 / (1.0 + (-(logits[i] + self.output.bias[i])).exp());
        }
        PatchOutput { tags, embedding }
    }
}

/// Buffers reused from patch to patch.
#[derive(Default)]
pub struct Scratch {
    padded_input: Vec<f32>,
    columns: Vec<f32>,
    product: Vec<f32>,
    by_band: Vec<f32>,
    quant: QuantScratch,
    front: Vec<f32>,
    mid: Vec<f32>,
}

/// After ReLU and batch norm, the maximum over bands: the norm is monotonic per filter, rising
/// or falling with the sign of its scale, so it is applied to the max or the min.
fn normalised_extreme(norm: &Norm, c: usize, hi: f32, lo: f32) -> f32 {
    let s = norm.scale[c];
    (if s >= 0.0 { hi } else { lo }) * s + norm.shift[c]
}

/// Where a convolution's outputs lie: position `f` of frame `t` is row
/// `t · frame_stride + f · band_stride`, each row `row_width` values (the filters, then any
/// padding the int8 kernel's tiles add).
struct Layout {
    frame_stride: usize,
    band_stride: usize,
    row_width: usize,
}

/// ReLU, batch norm and max over the `bands` positions of a convolution's output into
/// `front`'s columns from `column`.
///
/// ReLU after the bias and the batch norm are monotonic per filter, so the raw outputs' maximum
/// and minimum over the bands are taken first (contiguous over filters, in vector lanes), and
/// the bias, ReLU and norm applied once per frame and filter: the same values as applying them
/// to every position, since adding a bias and rounding keep order.
fn pool_over_frequency(
    out: &[f32],
    bands: usize,
    layout: Layout,
    layer: &Linear,
    norm: &Norm,
    front: &mut [f32],
    column: usize,
) {
    let n = layer.n;
    let (mut hi, mut lo) = (vec![0f32; n], vec![0f32; n]);
    for t in 0..PATCH_FRAMES {
        let row = |f: usize| {
            let at = (t * layout.frame_stride + f * layout.band_stride) * layout.row_width;
            &out[at..at + n]
        };
        hi.copy_from_slice(row(0));
        lo.copy_from_slice(row(0));
        for f in 1..bands {
            for ((h, l), &v) in hi.iter_mut().zip(lo.iter_mut()).zip(row(f)) {
                *h = if v > *h { v } else { *h };
                *l = if v < *l { v } else { *l };
            }
        }
        for c in 0..n {
            let relu = |x: f32| (x + layer.bias[c]).max(0.0);
            front[t * FRONT_WIDTH + column + c] =
                normalised_extreme(norm, c, relu(hi[c]), relu(lo[c]));
        }
    }
}

/// `dst[m, n] = lhs[m, k] · weights[k, n]`, `lhs` rows contiguous.
fn matmul(dst: &mut [f32], lhs: &[f32], k: usize, m: usize, layer: &Linear) {
    matmul_rows(dst, lhs, k, m, layer);
}

/// `dst[m, n] = lhs[m, k] · weights[k, n]` where row `i` of `lhs` starts at `i · row_stride`
/// (rows may overlap: a sliding window over time read in place).
fn matmul_rows(dst: &mut [f32], lhs: &[f32], row_stride: usize, m: usize, layer: &Linear) {
    let (k, n) = (layer.k, layer.n);
    assert!(dst.len() >= m * n, "output too small");
    assert!(
        m == 0 || (m - 1) * row_stride + k <= lhs.len(),
        "input too small"
    );
    assert_eq!(layer.weights.len(), k * n);
    // SAFETY: the asserts above bound every element gemm reads or writes through these strides.
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
            row_stride as isize,
            layer.weights.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}
