//! Re-encoding a JPEG's DCT coefficients at a lower quality, turned upright losslessly, without
//! decoding it to pixels (libjpeg-turbo's coefficient API and transupp).

use std::ffi::{c_int, c_uint, c_void};

use mozjpeg_sys as j;

use super::*;

/// The zigzag order: the natural index of the k-th coefficient coded.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The factors `from / to` that requantize coefficients quantized by `from` to `to`.
fn ratios(from: &[u16; 64], to: &[u16; 64]) -> [f32; 64] {
    let mut r = [0f32; 64];
    for k in 0..64 {
        r[k] = f32::from(from[k]) / f32::from(to[k].max(1));
    }
    r
}

/// A block requantized: `c * from / to`, rounded half away from zero (vectorized).
#[inline]
fn requantize(block: &j::JBLOCK, ratio: &[f32; 64]) -> j::JBLOCK {
    let mut out = [0i16; 64];
    for k in 0..64 {
        let v = f32::from(block[k]) * ratio[k];
        // SAFETY: |c| < 2^15 and from / to <= 255: the product is far within i32.
        out[k] = unsafe { (v + 0.5f32.copysign(v)).to_int_unchecked::<i32>() } as i16;
    }
    out
}

fn bits(v: i32) -> u32 {
    32 - v.unsigned_abs().leading_zeros()
}

/// Huffman symbol counts of one component class (DC and AC) and the extra bits.
struct Tally {
    dc: [u32; 16],
    ac: [u32; 256],
    extra: u64,
}

impl Tally {
    fn new() -> Self {
        Tally {
            dc: [0; 16],
            ac: [0; 256],
            extra: 0,
        }
    }

    /// One row of blocks, requantized by `ratio`.
    fn row(&mut self, blocks: &[j::JBLOCK], ratio: &[f32; 64]) {
        let mut prev = 0i32;
        for block in blocks {
            let block = requantize(block, ratio);
            let dc = i32::from(block[0]);
            let s = bits(dc - prev);
            prev = dc;
            self.dc[s as usize] += 1;
            self.extra += u64::from(s);
            let mut run = 0usize;
            for &k in &ZIGZAG[1..] {
                let v = block[k];
                if v == 0 {
                    run += 1;
                    continue;
                }
                while run > 15 {
                    self.ac[0xF0] += 1;
                    run -= 16;
                }
                let s = bits(i32::from(v));
                self.ac[(run << 4) | s as usize] += 1;
                self.extra += u64::from(s);
                run = 0;
            }
            if run > 0 {
                self.ac[0] += 1;
            }
        }
    }

    /// Coded bits: the counts' entropy (optimized Huffman tables come within a few per cent
    /// of it; the standard tables, which are used, within about 5-8 % more on photos).
    fn bits(&self) -> f64 {
        fn entropy(counts: &[u32]) -> f64 {
            let n: f64 = counts.iter().map(|&c| f64::from(c)).sum();
            counts
                .iter()
                .filter(|&&c| c > 0)
                .map(|&c| f64::from(c) * (n / f64::from(c)).log2())
                .sum()
        }
        entropy(&self.dc) + entropy(&self.ac) + self.extra as f64
    }
}

/// transupp.h's `jpeg_transform_info` as the vendored C code declares it (mozjpeg-sys 2.2's
/// Rust binding lacks the four `drop_*` fields, so C would write past its end), with spare room
/// after it. Passed to jtransform_* by pointer.
#[repr(C)]
#[allow(dead_code)] // written by C
struct TransformInfo {
    transform: j::JXFORM_CODE,
    perfect: j::boolean,
    trim: j::boolean,
    force_grayscale: j::boolean,
    crop: j::boolean,
    slow_hflip: j::boolean,
    /// crop_width, crop_width_set, ... crop_yoffset_set.
    crop_fields: [c_uint; 8],
    drop_ptr: *mut c_void,
    drop_coef_arrays: *mut c_void,
    num_components: c_int,
    workspace_coef_arrays: *mut c_void,
    /// output_width, output_height, x_crop_offset, y_crop_offset, drop_width, drop_height.
    dims: [c_uint; 6],
    imcu_sample: [c_int; 2],
    spare: [u64; 8],
}

impl TransformInfo {
    fn ptr(&mut self) -> *mut j::jpeg_transform_info {
        (self as *mut TransformInfo).cast()
    }
}

/// What re-encoding the coefficients gave: the JPEG, its size and quality, or what the
/// caller should do instead.
pub(in crate::fit) enum Transcoded {
    Done {
        jpeg: Vec<u8>,
        width: usize,
        height: usize,
        quality: u8,
    },
    /// Even the lowest quality is estimated at this many bytes: scale down.
    TooLarge(usize),
    /// Not possible without decoding (an orientation whose blocks do not tile the image, a
    /// colour space other than YCbCr or grey): decode to pixels instead.
    NotHere,
}

/// Re-encode a JPEG's DCT coefficients at the highest of `qualities` whose size is within
/// `max_bytes`, turned upright by `orientation` (losslessly, when its blocks tile the image):
/// no inverse and forward DCT, no colour conversion, no resampling of the chroma.
pub(in crate::fit) fn transcode(
    bytes: &[u8],
    orientation: u16,
    qualities: &[u8],
    max_bytes: usize,
    max_coefficient_bytes: usize,
    budget: &Budget<'_>,
) -> Result<Transcoded> {
    let mut d = Decompress::new(bytes, budget)?;
    let src = &mut *d.cinfo;
    // The coefficients are held whole (twice when turned): 128 bytes a block.
    let blocks: usize = (0..src.num_components.max(0) as usize)
        .map(|ci| {
            // SAFETY: jpeg_read_header filled num_components entries.
            let comp = unsafe { &*src.comp_info.add(ci) };
            comp.width_in_blocks as usize * comp.height_in_blocks as usize
        })
        .sum();
    let copies = if orientation > 1 { 2 } else { 1 };
    if blocks.saturating_mul(128 * copies) > max_coefficient_bytes {
        return Ok(Transcoded::NotHere);
    }
    // YCbCr 4:2:0 (what phones write, and what a re-encode gives) or grey: the coefficients
    // are kept as they are sampled. A 4:4:4 or 4:2:2 photo is decoded and re-encoded 4:2:0
    // instead (its chroma alone would need a lower quality or a smaller image).
    // SAFETY: jpeg_read_header filled num_components entries.
    let sampling: Vec<(c_int, c_int)> = (0..src.num_components.max(0) as usize)
        .map(|ci| unsafe {
            let comp = &*src.comp_info.add(ci);
            (comp.h_samp_factor, comp.v_samp_factor)
        })
        .collect();
    let ok_space = matches!(
        (src.jpeg_color_space, sampling.as_slice()),
        (j::J_COLOR_SPACE::JCS_YCbCr, [(2, 2), (1, 1), (1, 1)])
            | (j::J_COLOR_SPACE::JCS_GRAYSCALE, [_])
    );
    if !ok_space {
        return Ok(Transcoded::NotHere);
    }
    let transform = match orientation {
        2 => j::JXFORM_CODE_JXFORM_FLIP_H,
        3 => j::JXFORM_CODE_JXFORM_ROT_180,
        4 => j::JXFORM_CODE_JXFORM_FLIP_V,
        5 => j::JXFORM_CODE_JXFORM_TRANSPOSE,
        6 => j::JXFORM_CODE_JXFORM_ROT_90,
        7 => j::JXFORM_CODE_JXFORM_TRANSVERSE,
        8 => j::JXFORM_CODE_JXFORM_ROT_270,
        _ => j::JXFORM_CODE_JXFORM_NONE,
    };
    // SAFETY: a C struct of integers and pointers; zero is "no cropping, no options".
    let mut info: Box<TransformInfo> = Box::new(unsafe { std::mem::zeroed() });
    info.transform = transform;
    info.perfect = 1;
    if transform != j::JXFORM_CODE_JXFORM_NONE {
        let possible = run(budget, || unsafe {
            j::jtransform_request_workspace(src, info.ptr())
        })?;
        if possible == 0 {
            return Ok(Transcoded::NotHere);
        }
    }
    let src_coefs = run(budget, || unsafe { j::jpeg_read_coefficients(src) })?;
    let transposed = matches!(orientation, 5..=8);
    let transpose = |t: &[u16; 64]| -> [u16; 64] {
        let mut o = [0u16; 64];
        for (i, v) in o.iter_mut().enumerate() {
            *v = t[(i % 8) * 8 + i / 8];
        }
        o
    };

    // Estimate each quality's size on every 16th row of blocks.
    let mut c = Compress::new(budget, 0)?;
    let mem = src.common.mem;
    let mut chosen = None;
    let mut last_estimate = 0usize;
    let mut estimates = Vec::new();
    for &q in qualities {
        budget.check()?;
        let cinfo = &mut *c.cinfo;
        let tables = run(budget, || unsafe {
            j::jpeg_set_quality(cinfo, c_int::from(q), 1);
            [
                (*cinfo.quant_tbl_ptrs[0]).quantval,
                (*cinfo.quant_tbl_ptrs[1]).quantval,
            ]
        })?;
        let mut total = 0.0;
        for ci in 0..src.num_components as usize {
            // SAFETY: comp_info has num_components entries; after jpeg_read_coefficients
            // each one's quant_table is the table its coefficients were quantized by.
            let comp = unsafe { &*src.comp_info.add(ci) };
            let from = unsafe { (*comp.quant_table).quantval };
            let to = if ci == 0 { tables[0] } else { tables[1] };
            // The source is in its own orientation: so must the output's tables be.
            let to = if transposed { transpose(&to) } else { to };
            let ratio = ratios(&from, &to);
            let mut tally = Tally::new();
            let (w, h) = (
                comp.width_in_blocks as usize,
                comp.height_in_blocks as usize,
            );
            let mut sampled = 0;
            for row in (0..h).step_by(16) {
                let blocks = run(budget, || unsafe {
                    let access = (*mem).access_virt_barray.expect("libjpeg memory manager");
                    let rows = access(&mut src.common, *src_coefs.add(ci), row as c_uint, 1, 0);
                    std::slice::from_raw_parts(*rows, w)
                })?;
                tally.row(blocks, &ratio);
                sampled += 1;
            }
            if sampled > 0 {
                total += tally.bits() * h as f64 / sampled as f64;
            }
        }
        // Standard Huffman tables over entropy, stuffed 0xFF bytes, markers and tables.
        let estimate = (total / 8.0 * 1.08) as usize + 700;
        estimates.push((q, estimate));
        last_estimate = estimate;
        if estimate <= max_bytes {
            chosen = Some(q);
            break;
        }
    }
    drop(c);
    let Some(first) = chosen else {
        return Ok(Transcoded::TooLarge(last_estimate));
    };
    // A higher quality estimated just over the limit is tried first.
    let mut order: Vec<u8> = estimates
        .iter()
        .filter(|&&(q, e)| q != first && (e as f64) < max_bytes as f64 * 1.06)
        .map(|&(q, _)| q)
        .collect();
    order.push(first);
    order.extend(qualities.iter().copied().filter(|&q| q < first));

    for (attempt, q) in order.into_iter().enumerate() {
        budget.check()?;
        if attempt > 0 && transform == j::JXFORM_CODE_JXFORM_NONE {
            // Without a transform the coefficients were requantized in place: read them again.
            d = Decompress::new(bytes, budget)?;
            let src = &mut *d.cinfo;
            run(budget, || unsafe { j::jpeg_read_coefficients(src) })?;
        }
        let jpeg = write_coefficients(&mut d, &mut info, transform, q, budget, max_bytes)?;
        if jpeg.len() <= max_bytes {
            let (w, h) = d.size();
            let (w, h) = if transposed { (h, w) } else { (w, h) };
            return Ok(Transcoded::Done {
                jpeg,
                width: w,
                height: h,
                quality: q,
            });
        }
        last_estimate = jpeg.len();
    }
    Ok(Transcoded::TooLarge(last_estimate))
}

/// One full re-encode of the coefficients `d` has read, at quality `q`.
fn write_coefficients(
    d: &mut Decompress<'_, '_>,
    info: &mut TransformInfo,
    transform: j::JXFORM_CODE,
    q: u8,
    budget: &Budget<'_>,
    capacity: usize,
) -> Result<Vec<u8>> {
    let src = &mut *d.cinfo;
    let mut c = Compress::new(budget, capacity)?;
    let dst = &mut *c.cinfo;
    // jpeg_read_coefficients returns the same arrays when called again.
    let src_coefs = run(budget, || unsafe { j::jpeg_read_coefficients(src) })?;
    let mut from = [[0u16; 64]; 4];
    let dst_coefs = run(budget, || unsafe {
        j::jpeg_copy_critical_parameters(src, dst);
        let arrays = if transform == j::JXFORM_CODE_JXFORM_NONE {
            src_coefs
        } else {
            j::jtransform_adjust_parameters(src, dst, src_coefs, info.ptr())
        };
        // The tables the coefficients are quantized by, in the output's orientation.
        for (ci, table) in from
            .iter_mut()
            .enumerate()
            .take(dst.num_components as usize)
        {
            let comp = &*dst.comp_info.add(ci);
            *table = (*dst.quant_tbl_ptrs[comp.quant_tbl_no as usize]).quantval;
        }
        j::jpeg_set_quality(dst, c_int::from(q), 1);
        for ci in 0..dst.num_components as usize {
            (*dst.comp_info.add(ci)).quant_tbl_no = c_int::from(ci != 0);
        }
        j::jpeg_write_coefficients(dst, arrays);
        arrays
    })?;
    // Requantize into the output's arrays: in place without a transform (they are the
    // source's, read again for another quality), else turning each block as it is copied
    // (what jtransform_execute_transform does, with the requantization in the same pass).
    // Every array lives in the source's memory manager.
    let (t, hflip, vflip) = match transform {
        j::JXFORM_CODE_JXFORM_FLIP_H => (false, true, false),
        j::JXFORM_CODE_JXFORM_ROT_180 => (false, true, true),
        j::JXFORM_CODE_JXFORM_FLIP_V => (false, false, true),
        j::JXFORM_CODE_JXFORM_TRANSPOSE => (true, false, false),
        j::JXFORM_CODE_JXFORM_ROT_90 => (true, true, false),
        j::JXFORM_CODE_JXFORM_TRANSVERSE => (true, true, true),
        j::JXFORM_CODE_JXFORM_ROT_270 => (true, false, true),
        _ => (false, false, false),
    };
    let mem = src.common.mem;
    for (ci, from) in from.iter().enumerate().take(dst.num_components as usize) {
        // SAFETY: num_components entries; each names one of the tables set above.
        let comp = unsafe { &*dst.comp_info.add(ci) };
        let to = unsafe { (*dst.quant_tbl_ptrs[comp.quant_tbl_no as usize]).quantval };
        let ratio = ratios(from, &to);
        // The factor (sign included) for each coefficient of a source block: requantized in
        // the source's order, then transposed when the transform transposes.
        let mut signed = [0f32; 64];
        for (k, r) in ratio.iter().enumerate() {
            let (v, u) = (k / 8, k % 8);
            let negative = (hflip && u % 2 == 1) ^ (vflip && v % 2 == 1);
            let i = if t { u * 8 + v } else { k };
            signed[i] = if negative { -r } else { *r };
        }
        let (w, h) = (
            comp.width_in_blocks as usize,
            comp.height_in_blocks as usize,
        );
        // Row pointers of both arrays, fetched once: the arrays are wholly in memory
        // (jmemnobs has no backing store), so the rows stay where they are.
        let mut rows = |array: j::jvirt_barray_ptr, n: usize, writable: bool| {
            run(budget, || unsafe {
                let access = (*mem).access_virt_barray.expect("libjpeg memory manager");
                (0..n)
                    .map(|r| {
                        *access(
                            &mut src.common,
                            array,
                            r as c_uint,
                            1,
                            j::boolean::from(writable),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        };
        // SAFETY (for the reads and writes below): each row holds its component's
        // width_in_blocks blocks; the source is `h` x `w` blocks transposed, `w` x `h` not.
        let out = rows(unsafe { *dst_coefs.add(ci) }, h, true)?;
        if transform == j::JXFORM_CODE_JXFORM_NONE {
            for (by, &row) in out.iter().enumerate() {
                if by % 64 == 0 {
                    budget.check()?;
                }
                for block in unsafe { std::slice::from_raw_parts_mut(row, w) } {
                    *block = requantize(block, &signed);
                }
            }
            continue;
        }
        let input = rows(unsafe { *src_coefs.add(ci) }, if t { w } else { h }, false)?;
        // A horizontal flip is done in place (jtransform asks no workspace for it): each row
        // is copied before it is written.
        let in_place = input.first() == out.first();
        let mut copy: Vec<j::JBLOCK> = Vec::new();
        // Tiles of 8 output columns: a transposed source is read in 8 streams, not in 64.
        for tile in (0..w).step_by(8) {
            budget.check()?;
            for (by, &row) in out.iter().enumerate() {
                let y1 = if vflip { h - 1 - by } else { by };
                if in_place {
                    if tile > 0 {
                        break;
                    }
                    copy.clear();
                    copy.extend_from_slice(unsafe { std::slice::from_raw_parts(row, w) });
                    for (bx, block) in unsafe { std::slice::from_raw_parts_mut(row, w) }
                        .iter_mut()
                        .enumerate()
                    {
                        *block = requantize(&copy[w - 1 - bx], &signed);
                    }
                    continue;
                }
                for bx in tile..(tile + 8).min(w) {
                    let x1 = if hflip { w - 1 - bx } else { bx };
                    let (sy, sx) = if t { (x1, y1) } else { (y1, x1) };
                    let q = requantize(unsafe { &*input[sy].add(sx) }, &signed);
                    let block = unsafe { &mut *row.add(bx) };
                    if t {
                        for v in 0..8 {
                            for u in 0..8 {
                                block[v * 8 + u] = q[u * 8 + v];
                            }
                        }
                    } else {
                        *block = q;
                    }
                }
            }
        }
    }
    run(budget, || unsafe { j::jpeg_finish_compress(dst) })?;
    Ok(c.take())
}
