//! A Lanczos3 resizer that takes the source one row at a time, as it is decoded: it keeps only
//! the rows the next output row needs (a ring of at most the filter's height), combines them
//! vertically, then filters that one row horizontally. A 48-megapixel photo is never held whole.

/// The taps of a 1-D Lanczos3 filter from `src` samples to `dst` (Pillow's layout: the filter
/// widens by the scale when shrinking).
struct Filter {
    /// First source sample of each output sample.
    start: Vec<usize>,
    /// Taps per output sample (the stride of `weights`: a multiple of the `multiple` asked).
    taps: usize,
    /// Normalized weights, `taps` per output sample (zero past the last used one).
    weights: Vec<f32>,
}

fn lanczos3(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    if x.abs() >= 3.0 {
        return 0.0;
    }
    let px = std::f64::consts::PI * x;
    3.0 * px.sin() * (px / 3.0).sin() / (px * px)
}

impl Filter {
    fn new(src: usize, dst: usize, multiple: usize) -> Filter {
        let scale = src as f64 / dst as f64;
        let stretch = scale.max(1.0);
        let support = 3.0 * stretch;
        let taps = ((support.ceil() as usize) * 2 + 1).next_multiple_of(multiple);
        let mut start = Vec::with_capacity(dst);
        let mut weights = vec![0f32; dst * taps];
        for (i, w) in weights.chunks_exact_mut(taps).enumerate() {
            let center = (i as f64 + 0.5) * scale;
            let lo = ((center - support + 0.5).floor().max(0.0)) as usize;
            let hi = ((center + support + 0.5).floor() as usize).min(src);
            let hi = hi.max(lo + 1);
            let ws: Vec<f64> = (lo..hi)
                .map(|j| lanczos3((j as f64 + 0.5 - center) / stretch))
                .collect();
            let sum: f64 = ws.iter().sum();
            for (o, v) in w.iter_mut().zip(&ws) {
                *o = (if sum != 0.0 { v / sum } else { 0.0 }) as f32;
            }
            start.push(lo);
        }
        Filter {
            start,
            taps,
            weights,
        }
    }

    fn taps_of(&self, i: usize) -> &[f32] {
        &self.weights[i * self.taps..(i + 1) * self.taps]
    }

    /// Source samples output `i` reads: start .. start + taps that are in range.
    fn end(&self, i: usize, src: usize) -> usize {
        (self.start[i] + self.taps).min(src)
    }
}

/// Lanes of f32 a pixel of `C` channels takes in the ring and the column: RGB gets a fourth
/// lane of padding (four lanes a pixel vectorize both passes), grey one.
const fn lanes(c: usize) -> usize {
    if c == 1 {
        1
    } else {
        4
    }
}

/// A resizer of `C`-channel rows (1: grey, 3: RGB) fed top to bottom (or bottom to top,
/// `flip`).
pub(super) struct Resizer<const C: usize> {
    sw: usize,
    sh: usize,
    dw: usize,
    dh: usize,
    v: Filter,
    h: Filter,
    /// The last `ring_rows` source rows, f32, `lanes(C)` a pixel.
    ring: Vec<f32>,
    ring_rows: usize,
    /// Source rows received, output rows made.
    received: usize,
    made: usize,
    flip: bool,
    /// One row combined vertically, `lanes(C)` a pixel; grey: padded with zeros so that the
    /// horizontal pass reads whole vectors of taps past the last pixel.
    column: Vec<f32>,
    /// The output, `dw * dh * C` bytes.
    out: Vec<u8>,
}

impl<const C: usize> Resizer<C> {
    const LANES: usize = lanes(C);

    pub fn new(sw: usize, sh: usize, dw: usize, dh: usize, flip: bool) -> Self {
        const { assert!(C == 1 || C == 3) };
        let v = Filter::new(sh, dh, 1);
        // Grey: each output's taps padded to whole vectors of 8 (zero weights).
        let h = Filter::new(sw, dw, if C == 1 { 8 } else { 1 });
        let ring_rows = v.taps.min(sh);
        let pad = if C == 1 { h.taps } else { 0 };
        Resizer {
            sw,
            sh,
            dw,
            dh,
            ring: vec![0.0; ring_rows * sw * Self::LANES],
            ring_rows,
            v,
            h,
            received: 0,
            made: 0,
            flip,
            column: vec![0.0; sw * Self::LANES + pad],
            out: vec![0; dw * dh * C],
        }
    }

    /// Take the next source row (`sw * C` bytes).
    pub fn push(&mut self, row: &[u8]) {
        let stride = self.sw * Self::LANES;
        let slot = self.received % self.ring_rows;
        let dst = &mut self.ring[slot * stride..(slot + 1) * stride];
        if C == 1 {
            for (d, &s) in dst.iter_mut().zip(row) {
                *d = f32::from(s);
            }
        } else {
            for (d, s) in dst.chunks_exact_mut(4).zip(row.chunks_exact(3)) {
                d[0] = f32::from(s[0]);
                d[1] = f32::from(s[1]);
                d[2] = f32::from(s[2]);
            }
        }
        self.received += 1;
        while self.made < self.dh && self.v.end(self.made, self.sh) <= self.received {
            self.make_row();
        }
    }

    fn make_row(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { self.make_row_avx2() };
            return;
        }
        self.make_row_any(false);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn make_row_avx2(&mut self) {
        self.make_row_any(true);
    }

    /// One output row: the source rows it needs combined vertically, then filtered
    /// horizontally. Inlined into each target-feature variant above.
    #[inline(always)]
    fn make_row_any(&mut self, avx2: bool) {
        let _ = avx2;
        let stride = self.sw * Self::LANES;
        let i = self.made;
        let start = self.v.start[i];
        let weights = self.v.taps_of(i);
        let rows: Vec<(&[f32], f32)> = weights
            .iter()
            .enumerate()
            .filter(|&(k, &w)| w != 0.0 && start + k < self.sh)
            .map(|(k, &w)| {
                let slot = (start + k) % self.ring_rows;
                (&self.ring[slot * stride..(slot + 1) * stride], w)
            })
            .collect();
        // 32 lanes at a time (four independent sums of eight: not one chain of dependent
        // adds), every tap summed in registers before one store.
        const LANES: usize = 32;
        let column = &mut self.column[..stride];
        let body = column.len() / LANES * LANES;
        for (n, out) in column[..body].chunks_exact_mut(LANES).enumerate() {
            let mut acc = [0f32; LANES];
            for &(row, w) in &rows {
                let src = &row[n * LANES..(n + 1) * LANES];
                for c in 0..LANES {
                    acc[c] += w * src[c];
                }
            }
            out.copy_from_slice(&acc);
        }
        for x in body..column.len() {
            column[x] = rows.iter().map(|&(row, w)| w * row[x]).sum();
        }
        let y = if self.flip { self.dh - 1 - i } else { i };
        let out = &mut self.out[y * self.dw * C..(y + 1) * self.dw * C];
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: only reached from make_row_avx2, on a CPU with AVX2 and FMA.
            unsafe {
                if C == 1 {
                    horizontal_grey_avx2(&self.h, &self.column, out);
                } else {
                    horizontal_avx2(&self.h, &self.column, self.sw, out);
                }
            }
            self.made += 1;
            return;
        }
        let taps = self.h.taps;
        for (x, px) in out.chunks_exact_mut(C).enumerate() {
            let s = self.h.start[x];
            let ws = &self.h.weights[x * taps..(x + 1) * taps];
            let n = taps.min(self.sw - s);
            let mut acc = [0f32; 4];
            let src = &self.column[s * Self::LANES..(s + n) * Self::LANES];
            for (w, p) in ws[..n].iter().zip(src.chunks_exact(Self::LANES)) {
                for c in 0..C {
                    acc[c] += w * p[c];
                }
            }
            for c in 0..C {
                px[c] = (acc[c] + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
        self.made += 1;
    }

    /// The output, once every source row was pushed.
    pub fn finish(self) -> Vec<u8> {
        debug_assert_eq!(self.made, self.dh);
        self.out
    }
}

/// The horizontal pass, one pixel (four lanes) a tap, fused multiply-adds; rounded and
/// saturated to bytes by the packing instructions.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn horizontal_avx2(h: &Filter, column: &[f32], sw: usize, out: &mut [u8]) {
    use std::arch::x86_64::*;
    let taps = h.taps;
    let n_out = out.len() / 3;
    // SAFETY: [f32; 4] has f32's alignment and no padding: the column's first len / 4
    // pixels, as the RGB resizer lays them out.
    let column: &[[f32; 4]] =
        std::slice::from_raw_parts(column.as_ptr().cast::<[f32; 4]>(), column.len() / 4);
    for x in 0..n_out {
        let s = h.start[x];
        let n = taps.min(sw - s);
        let ws = &h.weights[x * taps..x * taps + n];
        let px = &column[s..s + n];
        let mut acc = _mm_setzero_ps();
        for (&w, p) in ws.iter().zip(px) {
            acc = _mm_fmadd_ps(_mm_set1_ps(w), _mm_loadu_ps(p.as_ptr()), acc);
        }
        let i = _mm_cvtps_epi32(acc);
        let b = _mm_packus_epi16(_mm_packs_epi32(i, i), _mm_setzero_si128());
        let v = (_mm_cvtsi128_si32(b) as u32).to_le_bytes();
        out[x * 3..x * 3 + 3].copy_from_slice(&v[..3]);
    }
}

/// The grey horizontal pass: eight taps at a time (the taps are padded to whole vectors with
/// zero weights, the column with zeros past its last pixel), summed across the vector.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn horizontal_grey_avx2(h: &Filter, column: &[f32], out: &mut [u8]) {
    use std::arch::x86_64::*;
    let taps = h.taps;
    debug_assert_eq!(taps % 8, 0);
    for (x, o) in out.iter_mut().enumerate() {
        let s = h.start[x];
        let ws = &h.weights[x * taps..(x + 1) * taps];
        let px = &column[s..s + taps];
        let mut acc = _mm256_setzero_ps();
        for (w, p) in ws.chunks_exact(8).zip(px.chunks_exact(8)) {
            acc = _mm256_fmadd_ps(
                _mm256_loadu_ps(w.as_ptr()),
                _mm256_loadu_ps(p.as_ptr()),
                acc,
            );
        }
        let q = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
        let q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
        *o = (_mm_cvtss_f32(q) + 0.5).clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_stay_in_range() {
        for (src, dst) in [(8000, 4096), (4032, 4032), (100, 7), (5, 3), (3, 1)] {
            let f = Filter::new(src, dst, 1);
            for i in 0..dst {
                let s: f32 = f.taps_of(i).iter().sum();
                assert!((s - 1.0).abs() < 1e-4, "{src}->{dst} at {i}: {s}");
                assert!(f.start[i] < src && f.end(i, src) <= src);
            }
        }
    }

    #[test]
    fn a_flat_image_stays_flat_and_flipping_mirrors_rows() {
        let (sw, sh, dw, dh) = (37, 29, 11, 9);
        let mut r = Resizer::<3>::new(sw, sh, dw, dh, false);
        let mut f = Resizer::<3>::new(sw, sh, dw, dh, true);
        for y in 0..sh {
            let row: Vec<u8> = (0..sw).flat_map(|_| [200, (y * 8) as u8, 7]).collect();
            r.push(&row);
        }
        for y in (0..sh).rev() {
            let row: Vec<u8> = (0..sw).flat_map(|_| [200, (y * 8) as u8, 7]).collect();
            f.push(&row);
        }
        let (a, b) = (r.finish(), f.finish());
        assert_eq!(a, b);
        assert!(a.chunks(3).all(|p| p[0] == 200 && p[2] == 7));
        // The green ramp still rises from top to bottom.
        let g = |y: usize| a[y * dw * 3 + 1];
        assert!((0..dh - 1).all(|y| g(y) < g(y + 1)), "{a:?}");
    }

    #[test]
    fn grey_scales_like_rgb_with_equal_channels() {
        // A grey page with detail (a ramp, stripes, noise), through both resizers: each grey
        // output pixel is the RGB one's channels (within 1 for the order of the sums), over
        // sizes whose taps are and are not whole vectors, shrinking and not.
        for (sw, sh, dw, dh) in [
            (1000, 700, 409, 287),
            (37, 29, 11, 9),
            (64, 40, 64, 40),
            (9, 5, 3, 2),
        ] {
            let mut state = 0x1234_5678u32;
            let page: Vec<Vec<u8>> = (0..sh)
                .map(|y| {
                    (0..sw)
                        .map(|x| {
                            state ^= state << 13;
                            state ^= state >> 17;
                            state ^= state << 5;
                            if (x / 13) % 2 == 0 {
                                ((x + y) % 256) as u8
                            } else {
                                state as u8
                            }
                        })
                        .collect()
                })
                .collect();
            let mut g = Resizer::<1>::new(sw, sh, dw, dh, false);
            let mut c = Resizer::<3>::new(sw, sh, dw, dh, false);
            for row in &page {
                g.push(row);
                c.push(&row.iter().flat_map(|&v| [v; 3]).collect::<Vec<_>>());
            }
            let (g, c) = (g.finish(), c.finish());
            assert_eq!((g.len(), c.len()), (dw * dh, dw * dh * 3));
            for (i, (&a, p)) in g.iter().zip(c.chunks_exact(3)).enumerate() {
                assert!(p[0] == p[1] && p[1] == p[2], "{sw}x{sh} at {i}: {p:?}");
                assert!(
                    a.abs_diff(p[0]) <= 1,
                    "{sw}x{sh} at {i}: grey {a}, rgb {}",
                    p[0]
                );
            }
        }
    }
}
