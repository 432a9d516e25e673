//! Int8 linear layers (the text encoder's and the sound model's).
//!
//! Weights are quantised once and activations at run time, both symmetric (±127) with one
//! scale per output channel (weights) or row (activations) per block of 32 inputs; the
//! activations are then shifted by 128 to unsigned, the operand order of the VNNI
//! instruction. Blocks, not whole rows, because BERT's hidden states have a few outlier
//! channels: with one scale per row they left the other channels a handful of steps (cosine
//! 0.994 against the f32 vectors; per block 0.999). Products accumulate exactly in i32 per
//! block, so every kernel gives bit-identical results: the AVX-512 VNNI kernel is tested
//! against the portable one. Why int8: a short query reads every weight once, and weights a
//! quarter the size of f32 stay in the processor's cache from one query to the next; batched
//! documents get four times the multiply-adds per instruction of f32 FMA.

/// Output channels per register of i32 accumulators.
const LANES: usize = 16;
/// Inputs one VNNI lane multiplies and adds per instruction.
const GROUP: usize = 4;
/// Registers of output channels the kernel computes at once (64 channels).
const TILE_BLOCKS: usize = 4;
const TILE_COLUMNS: usize = LANES * TILE_BLOCKS;
/// Rows the kernel computes at once (3 rows × 4 registers of i32 and of f32 accumulators fit
/// the 32 vector registers with the weights).
const TILE_ROWS: usize = 3;
/// Inputs that share one activation scale.
const BLOCK: usize = 32;

/// A linear layer's weights `w[n, k]` in int8, laid out for the kernel.
pub struct QuantLinear {
    n: usize,
    k: usize,
    /// `[n / 64][k / 4][64 channels][4 inputs]`: for each tile of 64 output channels and each
    /// group of 4 inputs, the 256 bytes the kernel reads together.
    packed: Vec<i8>,
    /// `[n / 64][k / 32][64 channels]`: the weight an int8 step of 1 stands for, per output
    /// channel and block of 32 inputs (one scale per whole channel left the weights twice the
    /// activations' rounding error).
    scales: Vec<f32>,
    /// `[n / 64][k / 32][64 channels]`: 128 · Σ w[j, t] over the block's inputs, which
    /// removes the shift that made the activations unsigned.
    shift_correction: Vec<i32>,
}

/// Activations quantised per block of a row, reused across layers and calls.
#[derive(Default)]
pub struct QuantScratch {
    data: Vec<u8>,
    scales: Vec<f32>,
}

/// The symmetric scale of a block: its largest magnitude is 127 steps (1 for a zero block).
#[inline(always)]
fn block_scale(block: &[f32]) -> f32 {
    let amax = block.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    scale_of(amax)
}

#[inline(always)]
fn scale_of(amax: f32) -> f32 {
    if amax > 0.0 {
        amax / 127.0
    } else {
        1.0
    }
}

impl QuantScratch {
    /// Rows of `x` (`m` rows of `k`) as unsigned bytes (`round(x / scale) + 128`), one scale
    /// per block of 32 inputs.
    #[inline(always)]
    fn quantize(&mut self, x: &[f32], m: usize, k: usize) {
        self.data.resize(m * k, 0);
        self.scales.resize(m * k / BLOCK, 0.0);
        for ((row, q), s) in x[..m * k]
            .chunks_exact(BLOCK)
            .zip(self.data.chunks_exact_mut(BLOCK))
            .zip(&mut self.scales)
        {
            let scale = block_scale(row);
            let inv = 1.0 / scale;
            for (d, v) in q.iter_mut().zip(row) {
                // |v · inv| ≤ 127 (up to rounding), so the shifted value fits a byte.
                *d = ((v * inv).round_ties_even() as i32 + 128) as u8;
            }
            *s = scale;
        }
    }
}

impl QuantLinear {
    /// Quantises `w` (`[n, k]`, row-major). `None` when the shape does not fit the kernel's
    /// tiles (`n` a multiple of 64, `k` of 32): that layer then stays in f32.
    pub fn new(w: &[f32], n: usize, k: usize) -> Option<Self> {
        if k == 0 || !n.is_multiple_of(TILE_COLUMNS) || !k.is_multiple_of(BLOCK) || w.len() != n * k
        {
            return None;
        }
        let mut packed = vec![0i8; n * k];
        let mut scales = vec![0.0; n * k / BLOCK];
        let mut shift_correction = vec![0; n * k / BLOCK];
        for j in 0..n {
            for (b, block) in w[j * k..(j + 1) * k].chunks_exact(BLOCK).enumerate() {
                let scale = block_scale(block);
                let at = Self::block_offset(j, b, k);
                for (t, v) in block.iter().enumerate() {
                    let q = (v / scale).round_ties_even().clamp(-127.0, 127.0) as i8;
                    shift_correction[at] += 128 * i32::from(q);
                    packed[Self::offset(j, b * BLOCK + t, k)] = q;
                }
                scales[at] = scale;
            }
        }
        Some(Self {
            n,
            k,
            packed,
            scales,
            shift_correction,
        })
    }

    /// Where weight `w[j, t]` lives in `packed`.
    fn offset(j: usize, t: usize, k: usize) -> usize {
        ((j / TILE_COLUMNS) * (k / GROUP) + t / GROUP) * TILE_COLUMNS * GROUP
            + (j % TILE_COLUMNS) * GROUP
            + t % GROUP
    }

    /// Where channel `j`'s shift correction for input block `b` lives.
    fn block_offset(j: usize, b: usize, k: usize) -> usize {
        ((j / TILE_COLUMNS) * (k / BLOCK) + b) * TILE_COLUMNS + j % TILE_COLUMNS
    }

    /// `dst[m, n] = x[m, k] · wᵀ`, with `x` quantised into `scratch`.
    #[inline(always)]
    pub fn forward(&self, dst: &mut [f32], x: &[f32], m: usize, scratch: &mut QuantScratch) {
        // Checked in release builds too: the kernels index with raw pointers within these.
        assert!(
            dst.len() >= m * self.n && x.len() >= m * self.k,
            "int8 linear: input or output too small"
        );
        #[cfg(target_arch = "x86_64")]
        if vnni_available() {
            // SAFETY: the CPU has AVX-512 F, BW and VNNI (checked just above).
            unsafe {
                scratch.quantize_vnni(x, m, self.k);
                self.forward_vnni(dst, &scratch.data, &scratch.scales, m);
            }
            return;
        }
        scratch.quantize(x, m, self.k);
        self.forward_portable(dst, &scratch.data, &scratch.scales, m);
    }

    /// The same integer arithmetic in plain Rust: the reference for the VNNI kernel, and the
    /// path on processors without it.
    fn forward_portable(&self, dst: &mut [f32], xq: &[u8], xs: &[f32], m: usize) {
        let (n, k) = (self.n, self.k);
        let blocks = k / BLOCK;
        let mut acc = [0i32; TILE_COLUMNS];
        let mut sum = [0.0f32; TILE_COLUMNS];
        for i in 0..m {
            for tile in 0..n / TILE_COLUMNS {
                sum.fill(0.0);
                let w = &self.packed[tile * k * TILE_COLUMNS..(tile + 1) * k * TILE_COLUMNS];
                for b in 0..blocks {
                    acc.fill(0);
                    let x = &xq[i * k + b * BLOCK..i * k + (b + 1) * BLOCK];
                    let wb = &w[b * BLOCK * TILE_COLUMNS..(b + 1) * BLOCK * TILE_COLUMNS];
                    for (xg, wg) in x
                        .chunks_exact(GROUP)
                        .zip(wb.chunks_exact(TILE_COLUMNS * GROUP))
                    {
                        for (a, wc) in acc.iter_mut().zip(wg.chunks_exact(GROUP)) {
                            for (&xv, &wv) in xg.iter().zip(wc) {
                                *a += i32::from(xv) * i32::from(wv);
                            }
                        }
                    }
                    let at = Self::block_offset(tile * TILE_COLUMNS, b, k);
                    let (corr, ws) = (&self.shift_correction[at..], &self.scales[at..]);
                    for (((s, &a), &c), &w) in sum.iter_mut().zip(&acc).zip(corr).zip(ws) {
                        // Multiplied, then fused, as the vector kernel does it: both round alike.
                        let scale = xs[i * blocks + b] * w;
                        *s = ((a - c) as f32).mul_add(scale, *s);
                    }
                }
                dst[i * n + tile * TILE_COLUMNS..i * n + (tile + 1) * TILE_COLUMNS]
                    .copy_from_slice(&sum);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn vnni_available() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vnni")
}

/// Whether this processor runs the int8 kernel natively (otherwise f32 is faster).
pub fn int8_is_native() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        vnni_available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::{
        scale_of, QuantLinear, QuantScratch, BLOCK, GROUP, LANES, TILE_BLOCKS, TILE_COLUMNS,
        TILE_ROWS,
    };

    impl QuantScratch {
        /// `quantize` in AVX-512, with the same results (the same IEEE operations, rounding
        /// to nearest even): the scalar loop's saturating conversion kept it from vectorising.
        ///
        /// # Safety
        /// The CPU must have AVX-512 F and BW.
        #[target_feature(enable = "avx512f,avx512bw")]
        pub(super) unsafe fn quantize_vnni(&mut self, x: &[f32], m: usize, k: usize) {
            const { assert!(BLOCK.is_multiple_of(16)) };
            self.data.resize(m * k, 0);
            self.scales.resize(m * k / BLOCK, 0.0);
            let shift = _mm512_set1_epi32(128);
            for ((xb, qb), s) in x[..m * k]
                .chunks_exact(BLOCK)
                .zip(self.data.chunks_exact_mut(BLOCK))
                .zip(&mut self.scales)
            {
                // SAFETY: each chunk holds BLOCK values (BLOCK bytes out), registers of 16.
                unsafe {
                    let v: [__m512; BLOCK / 16] =
                        std::array::from_fn(|i| _mm512_loadu_ps(xb.as_ptr().add(i * 16)));
                    let abs = v.iter().fold(_mm512_setzero_ps(), |m, &r| {
                        _mm512_max_ps(m, _mm512_abs_ps(r))
                    });
                    let amax = _mm512_reduce_max_ps(abs);
                    let scale = scale_of(amax);
                    let inv = _mm512_set1_ps(1.0 / scale);
                    for (i, r) in v.into_iter().enumerate() {
                        // Rounds to nearest even (the default rounding mode), then shifts
                        // -127..=127 to 1..=255 and keeps the low byte of each lane.
                        let q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(r, inv)), shift);
                        _mm_storeu_si128(
                            qb.as_mut_ptr().add(i * 16).cast(),
                            _mm512_cvtepi32_epi8(q),
                        );
                    }
                    *s = scale;
                }
            }
        }
    }

    impl QuantLinear {
        /// Tiles of 64 output channels (outer, so a tile's weights stay in cache while every
        /// row passes) by up to 4 rows.
        ///
        /// # Safety
        /// The CPU must have AVX-512 F, BW and VNNI; `dst` must hold `m · n` values, `xq`
        /// `m · k` bytes and `xs` `m` scales.
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
        pub(super) unsafe fn forward_vnni(&self, dst: &mut [f32], xq: &[u8], xs: &[f32], m: usize) {
            assert!(
                dst.len() >= m * self.n && xq.len() >= m * self.k && xs.len() >= m * self.k / BLOCK
            );
            for tile in 0..self.n / TILE_COLUMNS {
                let mut row = 0;
                while row < m {
                    let rows = (m - row).min(TILE_ROWS);
                    // SAFETY: the asserts above bound every row and column the tile touches;
                    // the CPU features are this function's own.
                    unsafe {
                        match rows {
                            3 => self.tile::<3>(dst, xq, xs, tile, row),
                            2 => self.tile::<2>(dst, xq, xs, tile, row),
                            _ => self.tile::<1>(dst, xq, xs, tile, row),
                        }
                    }
                    row += rows;
                }
            }
        }

        /// Rows `row..row + R`, channels `tile · 64..(tile + 1) · 64`.
        ///
        /// # Safety
        /// As `forward_vnni`, and `row + R ≤ m`.
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
        unsafe fn tile<const R: usize>(
            &self,
            dst: &mut [f32],
            xq: &[u8],
            xs: &[f32],
            tile: usize,
            row: usize,
        ) {
            let (n, k) = (self.n, self.k);
            let blocks = k / BLOCK;
            let w = self.packed[tile * k * TILE_COLUMNS..].as_ptr();
            let x = xq[row * k..].as_ptr();
            let corrections = &self.shift_correction[tile * blocks * TILE_COLUMNS..];
            let weight_scales = &self.scales[tile * blocks * TILE_COLUMNS..];
            let mut sum = [[_mm512_setzero_ps(); TILE_BLOCKS]; R];
            for b in 0..blocks {
                let mut acc = [[_mm512_setzero_si512(); TILE_BLOCKS]; R];
                for g in b * BLOCK / GROUP..(b + 1) * BLOCK / GROUP {
                    // SAFETY: group g of this tile is 256 bytes within `packed` (n · k bytes,
                    // laid out by `offset`); row r's bytes g·4..g·4+4 lie within `xq`
                    // (row + R ≤ m).
                    unsafe {
                        let wg = w.add(g * TILE_COLUMNS * GROUP);
                        let wv: [__m512i; TILE_BLOCKS] = std::array::from_fn(|c| {
                            _mm512_loadu_si512(wg.add(c * LANES * GROUP).cast())
                        });
                        for (r, acc_r) in acc.iter_mut().enumerate() {
                            let four = x.add(r * k + g * GROUP).cast::<i32>().read_unaligned();
                            let a = _mm512_set1_epi32(four);
                            for (acc_rc, wc) in acc_r.iter_mut().zip(&wv) {
                                *acc_rc = _mm512_dpbusd_epi32(*acc_rc, a, *wc);
                            }
                        }
                    }
                }
                let corr = &corrections[b * TILE_COLUMNS..(b + 1) * TILE_COLUMNS];
                let scales = &weight_scales[b * TILE_COLUMNS..(b + 1) * TILE_COLUMNS];
                for c in 0..TILE_BLOCKS {
                    // SAFETY: 16 values from c · 16 lie within this block's 64.
                    let (corr, ws) = unsafe {
                        (
                            _mm512_loadu_si512(corr[c * LANES..].as_ptr().cast()),
                            _mm512_loadu_ps(scales[c * LANES..].as_ptr()),
                        )
                    };
                    for r in 0..R {
                        let scale = _mm512_mul_ps(_mm512_set1_ps(xs[(row + r) * blocks + b]), ws);
                        let v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][c], corr));
                        sum[r][c] = _mm512_fmadd_ps(v, scale, sum[r][c]);
                    }
                }
            }
            for c in 0..TILE_BLOCKS {
                let col = tile * TILE_COLUMNS + c * LANES;
                for (r, sum_r) in sum.iter().enumerate() {
                    // SAFETY: col + 16 ≤ n; row + r < m and dst holds m · n values.
                    unsafe {
                        _mm512_storeu_ps(dst.as_mut_ptr().add((row + r) * n + col), sum_r[c])
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 33) as f32 / (1u64 << 31) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn shapes_that_do_not_fit_the_tiles_stay_f32() {
        assert!(QuantLinear::new(&[0.0; 32 * 8], 32, 8).is_none());
        assert!(QuantLinear::new(&[0.0; 64 * 40], 64, 40).is_none());
        assert!(QuantLinear::new(&[0.0; 64 * 64], 64, 64).is_some());
    }

    #[test]
    fn int8_product_is_close_to_f32() {
        let (m, n, k) = (7, 128, 96);
        let w = random(n * k, 1);
        let x = random(m * k, 2);
        let q = QuantLinear::new(&w, n, k).unwrap();
        let mut got = vec![0.0; m * n];
        q.forward(&mut got, &x, m, &mut QuantScratch::default());
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|t| x[i * k + t] * w[j * k + t]).sum();
                // Each factor is off by at most half a step (0.5/127 of its row's maximum).
                assert!(
                    (got[i * n + j] - want).abs() < 0.02,
                    "[{i},{j}] {} vs {want}",
                    got[i * n + j]
                );
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vnni_kernel_equals_the_portable_one_exactly() {
        if !vnni_available() {
            eprintln!("skipped: this CPU has no AVX-512 VNNI");
            return;
        }
        // Row counts that exercise every tile height, and values at the int8 extremes.
        for m in [1, 2, 3, 4, 5, 7, 11] {
            let (n, k) = (192, 96);
            let mut w = random(n * k, 3);
            w[5] = 10.0;
            w[k + 1] = -10.0;
            let mut x = random(m * k, 4);
            x[0] = -3.0;
            let q = QuantLinear::new(&w, n, k).unwrap();
            let mut scratch = QuantScratch::default();
            scratch.quantize(&x, m, k);
            let mut vector = QuantScratch::default();
            // SAFETY: AVX-512 checked above.
            unsafe { vector.quantize_vnni(&x, m, k) };
            assert_eq!(
                (&vector.data, &vector.scales),
                (&scratch.data, &scratch.scales)
            );
            let (mut fast, mut portable) = (vec![0.0; m * n], vec![0.0; m * n]);
            // SAFETY: AVX-512 VNNI checked above; the buffers are m · n and m · k.
            unsafe { q.forward_vnni(&mut fast, &scratch.data, &scratch.scales, m) };
            q.forward_portable(&mut portable, &scratch.data, &scratch.scales, m);
            assert_eq!(fast, portable, "m = {m}");
        }
    }
}
