//! BMP rows, one at a time: uncompressed rows are read where they lie in the file (1, 4, 8,
//! 16, 24 and 32 bits a pixel, bit fields), RLE8 and RLE4 are decoded as they come. A file too
//! short for its uncompressed rows, or whose RLE data ends before its end-of-bitmap mark, is
//! refused as truncated; RLE pixels the data skips (delta, end of line, end of bitmap) are
//! palette entry 0. Rows come in the file's order (bottom-up files: bottom row first). A
//! palette whose entries are all grey (a scan: 1 bit black and white, 8 bits of grey levels)
//! gives grey rows, one byte a pixel; every other BMP gives RGB.

use super::{corrupt, truncated, Rows};
use crate::error::Result;

const RGB: u32 = 0;
const RLE8: u32 = 1;
const RLE4: u32 = 2;
const BITFIELDS: u32 = 3;
const ALPHABITFIELDS: u32 = 6;

/// A channel's mask, as shift and maximum value.
#[derive(Clone, Copy)]
struct Mask {
    shift: u32,
    max: u32,
}

impl Mask {
    fn new(mask: u32) -> Option<Mask> {
        (mask != 0).then(|| Mask {
            shift: mask.trailing_zeros(),
            max: mask >> mask.trailing_zeros(),
        })
    }

    fn get(self, v: u32) -> u8 {
        let x = (v >> self.shift) & self.max;
        ((x * 255 + self.max / 2) / self.max.max(1)) as u8
    }
}

pub(super) struct BmpRows<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
    top_down: bool,
    bpp: u32,
    compression: u32,
    palette: Vec<[u8; 3]>,
    /// A grey palette's levels by index (an index past its end: entry 0), else `None`.
    grey: Option<Box<[u8; 256]>>,
    /// Grey, 1 or 4 bits a pixel: the levels of the 8 (or 2) pixels of each byte value.
    unpack: Vec<[u8; 8]>,
    masks: [Option<Mask>; 4],
    /// Uncompressed: where pixel rows start and their stride.
    offset: usize,
    stride: usize,
    /// Rows given so far.
    row: usize,
    /// RLE: read position.
    at: usize,
    ended: bool,
    /// RLE delta: rows still to skip, and the column to resume at.
    skip_rows: usize,
    resume_x: usize,
}

fn u16_at(b: &[u8], i: usize) -> u32 {
    u32::from(u16::from_le_bytes([b[i], b[i + 1]]))
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl<'a> BmpRows<'a> {
    pub fn new(data: &'a [u8]) -> Result<Self> {
        if data.len() < 26 {
            return Err(truncated());
        }
        let offset = u32_at(data, 10) as usize;
        let dib = u32_at(data, 14) as usize;
        let (width, height, top_down, bpp, compression, colors);
        if dib == 12 {
            width = u16_at(data, 18) as usize;
            height = u16_at(data, 20) as usize;
            top_down = false;
            bpp = u16_at(data, 24);
            compression = RGB;
            colors = 0;
        } else {
            if dib < 40 || data.len() < 14 + 40 {
                return Err(corrupt("an unknown DIB header"));
            }
            let w = u32_at(data, 18) as i32;
            let h = u32_at(data, 22) as i32;
            if w <= 0 || h == 0 || h == i32::MIN {
                return Err(corrupt("invalid dimensions"));
            }
            width = w as usize;
            height = h.unsigned_abs() as usize;
            top_down = h < 0;
            bpp = u16_at(data, 28);
            compression = u32_at(data, 30);
            colors = u32_at(data, 46) as usize;
        }
        let palette_at = 14 + dib;
        let entry = if dib == 12 { 3 } else { 4 };
        let mut palette = Vec::new();
        if bpp <= 8 {
            let n = if colors == 0 {
                1 << bpp
            } else {
                colors.min(256)
            };
            for i in 0..n {
                let p = palette_at + i * entry;
                let Some(c) = data.get(p..p + 3) else { break };
                palette.push([c[2], c[1], c[0]]);
            }
            if palette.is_empty() {
                return Err(truncated());
            }
        }
        let grey = (!palette.is_empty() && palette.iter().all(|c| c[0] == c[1] && c[1] == c[2]))
            .then(|| {
                let mut levels = Box::new([palette[0][0]; 256]);
                for (l, c) in levels.iter_mut().zip(&palette) {
                    *l = c[0];
                }
                levels
            });
        let unpack = match (&grey, bpp) {
            (Some(levels), 1 | 4) => (0..=255u8)
                .map(|byte| {
                    let mut px = [0u8; 8];
                    let per = 8 / bpp as usize;
                    for (k, p) in px.iter_mut().take(per).enumerate() {
                        let index = (byte >> (8 - bpp as usize * (k + 1))) & (u8::MAX >> (8 - bpp));
                        *p = levels[usize::from(index)];
                    }
                    px
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut masks = [None; 4];
        match (compression, bpp) {
            (RGB, 16) => {
                masks = [
                    Mask::new(0x7C00),
                    Mask::new(0x03E0),
                    Mask::new(0x001F),
                    None,
                ]
            }
            (RGB, 32) => {
                masks = [
                    Mask::new(0xFF0000),
                    Mask::new(0xFF00),
                    Mask::new(0xFF),
                    None,
                ];
            }
            (BITFIELDS | ALPHABITFIELDS, 16 | 32) => {
                // In the header from V3 (56 bytes) on, else right after a 40-byte header.
                let n = if compression == ALPHABITFIELDS || dib >= 56 {
                    4
                } else {
                    3
                };
                for (i, m) in masks.iter_mut().enumerate().take(n) {
                    let p = 54 + 4 * i;
                    if p + 4 > data.len() {
                        return Err(truncated());
                    }
                    *m = Mask::new(u32_at(data, p));
                }
                if masks[..3].iter().any(Option::is_none) {
                    return Err(corrupt("a colour mask of zero"));
                }
            }
            (RLE8, 8) | (RLE4, 4) | (RGB, 1 | 4 | 8 | 24) => {}
            _ => {
                return Err(corrupt(format!(
                    "an unsupported BMP (compression {compression}, {bpp} bits a pixel)"
                )))
            }
        }
        let stride = (bpp as usize * width).div_ceil(32) * 4;
        if compression != RLE8 && compression != RLE4 {
            let end = stride
                .checked_mul(height)
                .and_then(|n| n.checked_add(offset));
            if end.is_none_or(|end| end > data.len()) {
                return Err(truncated());
            }
        } else if top_down {
            return Err(corrupt("a top-down RLE bitmap"));
        }
        Ok(BmpRows {
            data,
            width,
            height,
            top_down,
            bpp,
            compression,
            palette,
            grey,
            unpack,
            masks,
            offset,
            stride,
            row: 0,
            at: offset,
            ended: false,
            skip_rows: 0,
            resume_x: 0,
        })
    }

    fn color(&self, index: u8) -> [u8; 3] {
        *self
            .palette
            .get(usize::from(index))
            .unwrap_or(&self.palette[0])
    }

    /// The next RLE row's palette indices.
    fn rle_row(&mut self) -> Result<Vec<u8>> {
        let w = self.width;
        let mut row = vec![0u8; w];
        if self.ended {
            return Ok(row);
        }
        if self.skip_rows > 0 {
            self.skip_rows -= 1;
            return Ok(row);
        }
        let mut x = std::mem::take(&mut self.resume_x);
        let d = self.data;
        let four = self.compression == RLE4;
        loop {
            let (Some(&n), Some(&v)) = (d.get(self.at), d.get(self.at + 1)) else {
                return Err(truncated());
            };
            self.at += 2;
            if n > 0 {
                // A run of n pixels: v (RLE8), or v's two nibbles in turn (RLE4).
                for i in 0..usize::from(n) {
                    if x >= w {
                        break;
                    }
                    row[x] = if four {
                        if i % 2 == 0 {
                            v >> 4
                        } else {
                            v & 15
                        }
                    } else {
                        v
                    };
                    x += 1;
                }
                continue;
            }
            match v {
                0 => return Ok(row),
                1 => {
                    self.ended = true;
                    return Ok(row);
                }
                2 => {
                    let (Some(&dx), Some(&dy)) = (d.get(self.at), d.get(self.at + 1)) else {
                        return Err(truncated());
                    };
                    self.at += 2;
                    x += usize::from(dx);
                    if dy > 0 {
                        self.skip_rows = usize::from(dy) - 1;
                        self.resume_x = x;
                        return Ok(row);
                    }
                }
                n => {
                    // n literal pixels, padded to a 16-bit boundary.
                    let n = usize::from(n);
                    let bytes = if four { n.div_ceil(2) } else { n };
                    let Some(lit) = d.get(self.at..self.at + bytes) else {
                        return Err(truncated());
                    };
                    for i in 0..n {
                        if x >= w {
                            break;
                        }
                        row[x] = if four {
                            let b = lit[i / 2];
                            if i % 2 == 0 {
                                b >> 4
                            } else {
                                b & 15
                            }
                        } else {
                            lit[i]
                        };
                        x += 1;
                    }
                    self.at += bytes.div_ceil(2) * 2;
                }
            }
        }
    }
}

impl Rows for BmpRows<'_> {
    fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn bottom_up(&self) -> bool {
        !self.top_down
    }

    fn channels(&self) -> usize {
        if self.grey.is_some() {
            1
        } else {
            3
        }
    }

    fn next(&mut self, out: &mut [u8]) -> Result<()> {
        let y = self.row;
        self.row += 1;
        if self.compression == RLE8 || self.compression == RLE4 {
            let indices = self.rle_row()?;
            if let Some(levels) = &self.grey {
                for (px, &i) in out.iter_mut().zip(&indices) {
                    *px = levels[usize::from(i)];
                }
                return Ok(());
            }
            for (px, &i) in out.chunks_exact_mut(3).zip(&indices) {
                px.copy_from_slice(&self.color(i));
            }
            return Ok(());
        }
        let start = self.offset + y * self.stride;
        let src = &self.data[start..start + self.stride];
        if let Some(levels) = &self.grey {
            // Whole bytes at a time (8, 2 or 1 pixels each), through tables.
            fn bytes<const N: usize>(out: &mut [u8], src: &[u8], unpack: &[[u8; 8]]) {
                let whole = out.len() / N;
                let mut chunks = out.chunks_exact_mut(N);
                for (px, &b) in (&mut chunks).zip(src) {
                    px.copy_from_slice(&unpack[usize::from(b)][..N]);
                }
                let tail = chunks.into_remainder();
                if let Some(&b) = src.get(whole) {
                    let n = tail.len();
                    tail.copy_from_slice(&unpack[usize::from(b)][..n]);
                }
            }
            match self.bpp {
                1 => bytes::<8>(out, src, &self.unpack),
                4 => bytes::<2>(out, src, &self.unpack),
                _ => {
                    for (p, &i) in out.iter_mut().zip(src) {
                        *p = levels[usize::from(i)];
                    }
                }
            }
            return Ok(());
        }
        match self.bpp {
            1 | 4 | 8 => {
                let bpp = self.bpp as usize;
                let per = 8 / bpp;
                let mask = u8::MAX >> (8 - bpp);
                for (x, px) in out.chunks_exact_mut(3).enumerate() {
                    let byte = src[x / per];
                    let shift = 8 - bpp * (x % per + 1);
                    px.copy_from_slice(&self.color((byte >> shift) & mask));
                }
            }
            24 => {
                for (px, s) in out.chunks_exact_mut(3).zip(src.chunks_exact(3)) {
                    px.copy_from_slice(&[s[2], s[1], s[0]]);
                }
            }
            _ => {
                let bytes = self.bpp as usize / 8;
                let [r, g, b, a] = self.masks;
                let (r, g, b) = (r.expect("mask"), g.expect("mask"), b.expect("mask"));
                for (px, s) in out.chunks_exact_mut(3).zip(src.chunks_exact(bytes)) {
                    let v = if bytes == 2 {
                        u32::from(u16::from_le_bytes([s[0], s[1]]))
                    } else {
                        u32::from_le_bytes([s[0], s[1], s[2], s[3]])
                    };
                    let rgb = [r.get(v), g.get(v), b.get(v)];
                    match a {
                        // Transparent pixels are laid on white.
                        Some(a) => {
                            let alpha = u16::from(a.get(v));
                            for (o, c) in px.iter_mut().zip(rgb) {
                                *o = ((u16::from(c) * alpha + 255 * (255 - alpha)) / 255) as u8;
                            }
                        }
                        None => px.copy_from_slice(&rgb),
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BMP with a 40-byte header (and masks after it, if given), bottom-up unless `h` < 0.
    fn bmp(
        w: i32,
        h: i32,
        bpp: u16,
        compression: u32,
        palette: &[[u8; 4]],
        masks: &[u32],
        data: &[u8],
    ) -> Vec<u8> {
        let offset = 54 + 4 * (palette.len() + masks.len());
        let mut b = b"BM".to_vec();
        b.extend_from_slice(&((offset + data.len()) as u32).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&(offset as u32).to_le_bytes());
        b.extend_from_slice(&40u32.to_le_bytes());
        b.extend_from_slice(&w.to_le_bytes());
        b.extend_from_slice(&h.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&bpp.to_le_bytes());
        b.extend_from_slice(&compression.to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&(palette.len() as u32).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        for m in masks {
            b.extend_from_slice(&m.to_le_bytes());
        }
        for p in palette {
            b.extend_from_slice(p);
        }
        b.extend_from_slice(data);
        b
    }

    fn rows(file: &[u8]) -> Result<(bool, Vec<Vec<u8>>)> {
        let mut r = BmpRows::new(file)?;
        let (w, h) = r.size();
        let mut out = Vec::new();
        for _ in 0..h {
            let mut row = vec![0; w * r.channels()];
            r.next(&mut row)?;
            out.push(row);
        }
        Ok((r.bottom_up(), out))
    }

    const PAL: [[u8; 4]; 3] = [[0, 0, 0, 0], [255, 0, 0, 0], [0, 0, 255, 0]]; // black, blue, red

    #[test]
    fn rle8_runs_literals_deltas_and_an_early_end() {
        // Row 0 (bottom): 2 x index 1, literal [2, 1, 2]; end of line. Row 1: delta (1, 0),
        // one index 2, end of bitmap: the rest is index 0.
        let data = [2, 1, 0, 3, 2, 1, 2, 0, 0, 0, 0, 2, 1, 0, 1, 2, 0, 1];
        let (up, r) = rows(&bmp(5, 3, 8, RLE8, &PAL, &[], &data)).unwrap();
        assert!(up);
        let (b, bl, red) = ([0, 0, 0], [0, 0, 255], [255, 0, 0]);
        assert_eq!(r[0], [bl, bl, red, bl, red].concat());
        assert_eq!(r[1], [b, red, b, b, b].concat());
        assert_eq!(r[2], [b; 5].concat());
        // Data that stops before its end-of-bitmap mark is truncated.
        let e = rows(&bmp(5, 3, 8, RLE8, &PAL, &[], &data[..9])).unwrap_err();
        assert!(e.message.contains("ends early"), "{e}");
    }

    #[test]
    fn rle4_nibbles() {
        // 3 pixels alternating 1, 2; then a literal of 3 nibbles [2, 1, 2]; end of bitmap.
        let data = [3, 0x12, 0, 3, 0x21, 0x20, 0, 1];
        let (_, r) = rows(&bmp(6, 1, 4, RLE4, &PAL, &[], &data)).unwrap();
        let (bl, red) = ([0, 0, 255], [255, 0, 0]);
        assert_eq!(r[0], [bl, red, bl, red, bl, red].concat());
    }

    #[test]
    fn bit_fields_alpha_and_top_down_rows() {
        // 16-bit 5-6-5, top-down: one white and one pure green pixel, padded to 4 bytes.
        let data = [0xFF, 0xFF, 0xE0, 0x07];
        let (up, r) = rows(&bmp(
            2,
            -1,
            16,
            BITFIELDS,
            &[],
            &[0xF800, 0x07E0, 0x001F],
            &data,
        ))
        .unwrap();
        assert!(!up);
        assert_eq!(r[0], [255, 255, 255, 0, 255, 0]);
        // 32-bit with an alpha mask: a transparent red pixel is white, an opaque one red.
        let data = [0, 0, 255, 0, 0, 0, 255, 255];
        let masks = [0xFF_0000, 0xFF00, 0xFF, 0xFF00_0000];
        let (_, r) = rows(&bmp(2, 1, 32, ALPHABITFIELDS, &[], &masks, &data)).unwrap();
        assert_eq!(r[0], [255, 255, 255, 255, 0, 0]);
        // 1 bit a pixel through the palette; a short file is truncated.
        let (_, r) = rows(&bmp(3, 1, 1, RGB, &PAL[..2], &[], &[0b0100_0000, 0, 0, 0])).unwrap();
        assert_eq!(r[0], [0, 0, 0, 0, 0, 255, 0, 0, 0]);
        let e = rows(&bmp(3, 2, 24, RGB, &[], &[], &[0; 12])).unwrap_err();
        assert!(e.message.contains("ends early"), "{e}");
    }

    #[test]
    fn eight_bit_rows_through_the_palette_and_grey_palettes_give_grey_rows() {
        // 8 bits a pixel, uncompressed (the index mask of 8 bits once overflowed): red, blue,
        // black, padded to 4 bytes.
        let (_, r) = rows(&bmp(3, 1, 8, RGB, &PAL, &[], &[2, 1, 0, 0])).unwrap();
        assert_eq!(r[0], [255, 0, 0, 0, 0, 255, 0, 0, 0]);
        // Grey palettes: one byte a pixel, the entry's level (an index past the palette's end
        // is entry 0), at 8, 4 and 1 bits a pixel.
        let grey = [[9, 9, 9, 0], [200, 200, 200, 0], [77, 77, 77, 0]];
        let file = bmp(5, 1, 8, RGB, &grey, &[], &[1, 2, 0, 9, 1, 0, 0, 0]);
        assert_eq!(BmpRows::new(&file).unwrap().channels(), 1);
        let (_, r) = rows(&file).unwrap();
        assert_eq!(r[0], [200, 77, 9, 9, 200]);
        let (_, r) = rows(&bmp(3, 1, 4, RGB, &grey, &[], &[0x12, 0x00, 0, 0])).unwrap();
        assert_eq!(r[0], [200, 77, 9]);
        let (_, r) = rows(&bmp(
            10,
            1,
            1,
            RGB,
            &grey[..2],
            &[],
            &[0b1010_0000, 0b0100_0000, 0, 0],
        ))
        .unwrap();
        assert_eq!(r[0], [200, 9, 200, 9, 9, 9, 9, 9, 9, 200]);
        // RLE8 with a grey palette.
        let (_, r) = rows(&bmp(4, 1, 8, RLE8, &grey, &[], &[3, 2, 0, 1])).unwrap();
        assert_eq!(r[0], [77, 77, 77, 9]);
        // One entry not grey: RGB.
        assert_eq!(
            BmpRows::new(&bmp(1, 1, 8, RGB, &PAL, &[], &[0; 4]))
                .unwrap()
                .channels(),
            3
        );
    }
}
