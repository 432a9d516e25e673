//! Vector arithmetic for the store's scans: dot products in f32 and 8 bits, compiled for the
//! best instruction set this CPU has, and the 8-bit quantisation they read.

/// Dot products, compiled for the best instruction set this CPU has (chosen once per scan).
pub(crate) struct Kernels {
    pub f32: fn(&[f32], &[f32]) -> f32,
    pub i8: fn(&[i8], &[i8]) -> i32,
}

pub(crate) fn kernels() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Kernels {
                // SAFETY: the CPU supports AVX2 and FMA (checked above).
                f32: |a, b| unsafe { dot_avx2(a, b) },
                // SAFETY: the CPU supports AVX2 (checked above).
                i8: |a, b| unsafe { dot_i8_avx2(a, b) },
            };
        }
    }
    Kernels {
        f32: dot,
        i8: dot_i8,
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    dot_i8(a, b)
}

#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Sixteen independent lanes so the compiler vectorises without bounds checks.
    let mut acc = [0.0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
pub(crate) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 32];
    let (ca, cb) = (a.chunks_exact(32), b.chunks_exact(32));
    let tail: i32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..32 {
            acc[l] += i32::from(x[l]) * i32::from(y[l]);
        }
    }
    acc.iter().sum::<i32>() + tail
}

/// Symmetric 8-bit quantisation: `v ≈ q * scale`.
pub(crate) fn quantize(v: &[f32], out: &mut [i8]) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    for (o, x) in out.iter_mut().zip(v) {
        *o = (x / scale).round().clamp(-127.0, 127.0) as i8;
    }
    scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantised_dot_tracks_the_exact_one() {
        let a: Vec<f32> = (0..384)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 40.0)
            .collect();
        let b: Vec<f32> = (0..384)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 30.0)
            .collect();
        let (mut qa, mut qb) = (vec![0i8; 384], vec![0i8; 384]);
        let (sa, sb) = (quantize(&a, &mut qa), quantize(&b, &mut qb));
        let approx = dot_i8(&qa, &qb) as f32 * sa * sb;
        let exact = dot(&a, &b);
        assert!(
            (approx - exact).abs() < 0.01 * exact.abs().max(1.0),
            "{approx} vs {exact}"
        );
        let k = kernels();
        assert_eq!((k.i8)(&qa, &qb), dot_i8(&qa, &qb));
        assert!(((k.f32)(&a, &b) - exact).abs() < 1e-4);
    }

    #[test]
    fn dot_matches_naive_sum() {
        let a: Vec<f32> = (0..385).map(|i| (i as f32).sin()).collect();
        let b: Vec<f32> = (0..385).map(|i| (i as f32).cos()).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
    }
}
