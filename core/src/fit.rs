//! Fitting an image to a provider's limits. An image within them is sent byte for byte as
//! given. One over them, in a format piaoju decodes (JPEG, PNG, BMP), is turned upright by its
//! EXIF orientation, scaled down (Lanczos3) so its longest side is within the maximum, and
//! encoded as JPEG at a falling quality, then scaled down further, until its base64 fits.
//! Never upscaled; a PDF is never touched; a header claiming more than [`MAX_PIXELS`] is
//! refused before anything is allocated.
//!
//! How, cheaply: a JPEG that only needs a lower quality has its DCT coefficients requantized
//! (and turned upright losslessly), never decoded to pixels ([`jpeg::transcode`]); otherwise
//! a JPEG is decoded straight to the smallest M/8 of its size at least as large as needed, and
//! every format's rows go through a streaming resizer as they are decoded ([`resize`]), so only
//! the fitted image is ever held whole. A grey source (a one-component JPEG, a grey PNG, a PNG
//! or BMP whose palette is all grey: what scanners write) stays grey throughout: one channel
//! decoded, scaled and encoded (a one-component JPEG), a third of the RGB work. The quality is
//! chosen from estimates (the coefficients' entropy, or a sample of stripes encoded), so one
//! full encode is usually the only one. The call's deadline is checked between rows and
//! blocks: when it runs out, a `timeout`, and nothing is sent.
//!
//! Without the `fit` feature (no codecs built: neither libjpeg-turbo nor png), an image over
//! the limits is refused as with `image_fit: "off"`: the decoding and encoding are left out.
#![cfg_attr(not(feature = "fit"), allow(dead_code))]

mod bmp;
#[cfg(feature = "fit")]
mod jpeg;
#[cfg(feature = "fit")]
mod png_rows;
mod resize;

use std::borrow::Cow;

use serde::Serialize;

use crate::deadline::Deadline;
use crate::error::{Error, ErrorCode, Provider, Result};
use crate::image::{base64_len, ImageFormat, ImageInfo};

/// The most pixels piaoju decodes (a 48-megapixel photo has 48 million).
pub const MAX_PIXELS: u64 = 100_000_000;

/// JPEG qualities tried in turn, before scaling further down.
const QUALITIES: [u8; 4] = [92, 85, 75, 65];
/// Rounds of scaling down after the longest side fits (each aims at the size limit).
const MAX_ROUNDS: usize = 8;
/// With no side limit, an image over the size limit is first scaled to at most this many
/// pixels (its RGB, 72 MB, is what is held whole; a 4.5 MiB JPEG of more is a blank page).
const MAX_WORKING_PIXELS: u64 = 24_000_000;
/// The largest DCT coefficient buffer (and its rotated copy) re-encoded without decoding.
const MAX_TRANSCODE_BYTES: usize = 160 << 20;
/// An interlaced PNG is decoded whole before it is resized: at most this many bytes.
const MAX_INTERLACED_PNG_BYTES: usize = 160 << 20;

/// Whether over-limit images are fitted (`"auto"`, the default) or refused (`"off"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ImageFit {
    /// Fit an image over the limits (the default).
    #[default]
    Auto,
    /// Refuse an image over the limits.
    Off,
}

/// A provider's limits; `None` is no limit.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    pub max_base64: Option<usize>,
    pub min_side: Option<u32>,
    pub max_side: Option<u32>,
}

/// One image as piaoju saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ImageDescription {
    /// `"jpeg"`, `"png"`, `"bmp"`, `"pdf"`.
    pub format: &'static str,
    /// In pixels; `None` for a PDF.
    pub width: Option<u32>,
    /// In pixels; `None` for a PDF.
    pub height: Option<u32>,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What was done to the image before it was sent (every result's `image`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ImageReport {
    /// Whether the image was re-encoded to fit the provider's limits.
    pub fitted: bool,
    /// The image as given.
    pub original: ImageDescription,
    /// The image as sent.
    pub sent: ImageDescription,
    /// The JPEG quality of a fitted image.
    pub quality: Option<u8>,
}

fn describe(info: &ImageInfo, bytes: usize) -> ImageDescription {
    ImageDescription {
        format: info.format.name(),
        width: info.size.map(|s| s.0),
        height: info.size.map(|s| s.1),
        bytes: bytes as u64,
    }
}

fn error(code: ErrorCode, message: String) -> Error {
    Error::new(code, message)
}

/// The image to send for these limits: the bytes as given when they are within them, else a
/// fitted JPEG (with `fit` Auto), else the error that says which limit is exceeded.
pub(crate) fn prepare<'a>(
    bytes: Cow<'a, [u8]>,
    info: ImageInfo,
    limits: &Limits,
    fit: ImageFit,
    provider: Provider,
    deadline: Option<&Deadline>,
) -> Result<(Cow<'a, [u8]>, ImageReport)> {
    let budget = Budget { deadline, provider };
    let provider = provider.label();
    let original = describe(&info, bytes.len());
    let b64 = base64_len(bytes.len());
    if let (Some((w, h)), Some(min)) = (info.size, limits.min_side) {
        if w.min(h) < min {
            return Err(error(
                ErrorCode::ImageTooSmall,
                format!("the image is {w}x{h} px; {provider} needs a shortest side of at least {min} px"),
            ));
        }
    }
    let too_large = limits.max_base64.filter(|&max| b64 > max).map(|max| {
        error(
            ErrorCode::ImageTooLarge,
            format!(
                "the image's base64 text would be {b64} bytes; {provider} accepts at most {max}"
            ),
        )
    });
    let too_long = match (info.size, limits.max_side) {
        (Some((w, h)), Some(max)) if w.max(h) > max => Some(error(
            ErrorCode::ImageDimensionsTooLarge,
            format!(
                "the image is {w}x{h} px; {provider} accepts a longest side of at most {max} px"
            ),
        )),
        _ => None,
    };
    let Some(refusal) = too_large.or(too_long) else {
        let sent = original.clone();
        return Ok((
            bytes,
            ImageReport {
                fitted: false,
                original,
                sent,
                quality: None,
            },
        ));
    };
    let decodable = matches!(
        info.format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Bmp
    );
    if fit == ImageFit::Off || !decodable {
        return Err(refusal);
    }
    if cfg!(not(feature = "fit")) {
        let mut refusal = refusal;
        refusal
            .message
            .push_str(" (this build of piaoju cannot fit images: built without the `fit` feature)");
        return Err(refusal);
    }
    let (w, h) = info.size.expect("raster formats have a size");
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(error(
            ErrorCode::ImageTooComplex,
            format!("the image claims {w}x{h} px; piaoju decodes at most {MAX_PIXELS} pixels"),
        ));
    }
    let (jpeg, width, height, quality) =
        fit_image(bytes, info.format, (w, h), limits, provider, &budget)?;
    let sent = ImageDescription {
        format: "jpeg",
        width: Some(width),
        height: Some(height),
        bytes: jpeg.len() as u64,
    };
    Ok((
        Cow::Owned(jpeg),
        ImageReport {
            fitted: true,
            original,
            sent,
            quality: Some(quality),
        },
    ))
}

/// The call's deadline, as fitting sees it.
pub(crate) struct Budget<'a> {
    deadline: Option<&'a Deadline>,
    provider: Provider,
}

impl Budget<'_> {
    fn is_over(&self) -> bool {
        self.deadline
            .is_some_and(|d| d.remaining(self.provider, "fitting the image").is_err())
    }

    fn expired(&self) -> Error {
        match self.deadline {
            Some(d) => d.expired(self.provider, "fitting the image"),
            None => error(ErrorCode::Timeout, "fitting the image took too long".into()),
        }
    }

    /// A `timeout` once the deadline has passed.
    fn check(&self) -> Result<()> {
        if self.is_over() {
            return Err(self.expired());
        }
        Ok(())
    }
}

/// An image held whole: grey (1 byte a pixel) or RGB (3), rows top to bottom.
#[derive(Clone)]
struct Raster {
    width: usize,
    height: usize,
    /// 1 (grey) or 3 (RGB).
    channels: usize,
    pixels: Vec<u8>,
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    error(
        ErrorCode::ImageCorrupt,
        format!("the image cannot be decoded: {what}"),
    )
}

/// Data missing: the file ends early, or a part of it is cut short. The same code as a
/// truncated header (`image_corrupt`): the file was read; what it holds is not a whole image.
fn truncated() -> Error {
    error(
        ErrorCode::ImageCorrupt,
        "the image data ends early (the file is truncated or damaged); nothing was sent".into(),
    )
}

/// A decoder giving an image's rows one at a time, as grey or RGB.
trait Rows {
    fn size(&self) -> (usize, usize);
    /// 1 when every pixel is grey (a one-component JPEG, a grey PNG, a grey palette): the rows
    /// are then grey, scaled and encoded as grey; else 3 (RGB).
    fn channels(&self) -> usize;
    /// Whether the rows come bottom row first.
    fn bottom_up(&self) -> bool {
        false
    }
    /// The next row, `width * channels` bytes.
    fn next(&mut self, row: &mut [u8]) -> Result<()>;
    /// After the last row: whatever checks the end of the data.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// RGB from gray, gray-alpha, RGB or RGBA samples: transparent pixels are laid on white.
fn to_rgb(src: &[u8], channels: usize, out: &mut [u8]) {
    let on_white = |c: u8, a: u8| {
        let a = u16::from(a);
        ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8
    };
    match channels {
        3 => out.copy_from_slice(&src[..out.len()]),
        1 => out
            .chunks_exact_mut(3)
            .zip(src)
            .for_each(|(o, &g)| o.fill(g)),
        2 => out
            .chunks_exact_mut(3)
            .zip(src.chunks_exact(2))
            .for_each(|(o, p)| o.fill(on_white(p[0], p[1]))),
        _ => out
            .chunks_exact_mut(3)
            .zip(src.chunks_exact(4))
            .for_each(|(o, p)| {
                for c in 0..3 {
                    o[c] = on_white(p[c], p[3]);
                }
            }),
    }
}

/// Grey from gray, gray-alpha or grey RGB (a grey palette expanded) samples: transparent
/// pixels are laid on white, as [`to_rgb`] does.
fn to_grey(src: &[u8], channels: usize, out: &mut [u8]) {
    match channels {
        1 => out.copy_from_slice(&src[..out.len()]),
        2 => out.iter_mut().zip(src.chunks_exact(2)).for_each(|(o, p)| {
            let a = u16::from(p[1]);
            *o = ((u16::from(p[0]) * a + 255 * (255 - a)) / 255) as u8;
        }),
        _ => out
            .iter_mut()
            .zip(src.chunks_exact(channels))
            .for_each(|(o, p)| *o = p[0]),
    }
}

/// Every row of `rows`, scaled to `width` x `height` as they come.
fn pump(rows: &mut dyn Rows, width: usize, height: usize, budget: &Budget<'_>) -> Result<Raster> {
    let (sw, sh) = rows.size();
    let channels = rows.channels();
    let flip = rows.bottom_up();
    let pixels = if (sw, sh) == (width, height) {
        let stride = sw * channels;
        let mut pixels = vec![0u8; stride * sh];
        for i in 0..sh {
            budget.check()?;
            let y = if flip { sh - 1 - i } else { i };
            rows.next(&mut pixels[y * stride..(y + 1) * stride])?;
        }
        pixels
    } else if channels == 1 {
        stream::<1>(rows, (width, height), flip, budget)?
    } else {
        stream::<3>(rows, (width, height), flip, budget)?
    };
    rows.finish()?;
    Ok(Raster {
        width,
        height,
        channels,
        pixels,
    })
}

/// The rows of `rows` (`C` channels) through the resizer.
fn stream<const C: usize>(
    rows: &mut dyn Rows,
    (width, height): (usize, usize),
    flip: bool,
    budget: &Budget<'_>,
) -> Result<Vec<u8>> {
    let (sw, sh) = rows.size();
    let mut row = vec![0u8; sw * C];
    let mut resizer = resize::Resizer::<C>::new(sw, sh, width, height, flip);
    for _ in 0..sh {
        budget.check()?;
        rows.next(&mut row)?;
        resizer.push(&row);
    }
    Ok(resizer.finish())
}

#[cfg(feature = "fit")]
/// Decode `bytes` scaled to `width` x `height` (in its stored orientation).
fn decode_scaled(
    bytes: &[u8],
    format: ImageFormat,
    (width, height): (usize, usize),
    budget: &Budget<'_>,
) -> Result<Raster> {
    match format {
        ImageFormat::Jpeg => {
            let (w, h) = jpeg_dims(bytes)?;
            // The smallest DCT scale at least as large as the target.
            let num = (1..=8)
                .find(|&n| {
                    let (sw, sh) = jpeg::scaled(w, h, n);
                    sw >= width && sh >= height
                })
                .unwrap_or(8);
            pump(
                &mut jpeg::JpegRows::new(bytes, num, budget)?,
                width,
                height,
                budget,
            )
        }
        ImageFormat::Png => pump(&mut png_rows::PngRows::new(bytes)?, width, height, budget),
        ImageFormat::Bmp => pump(&mut bmp::BmpRows::new(bytes)?, width, height, budget),
        _ => Err(corrupt("not a raster format")),
    }
}

#[cfg(feature = "fit")]
fn jpeg_dims(bytes: &[u8]) -> Result<(usize, usize)> {
    let info = crate::image::inspect(bytes)?;
    let (w, h) = info.size.ok_or_else(|| corrupt("no dimensions"))?;
    Ok((w as usize, h as usize))
}

/// Scale an image held whole (a second round, after the first missed the size limit).
fn scale(img: &Raster, width: usize, height: usize, budget: &Budget<'_>) -> Result<Raster> {
    fn rows<const C: usize>(
        img: &Raster,
        (width, height): (usize, usize),
        budget: &Budget<'_>,
    ) -> Result<Vec<u8>> {
        let mut resizer = resize::Resizer::<C>::new(img.width, img.height, width, height, false);
        for row in img.pixels.chunks_exact(img.width * C) {
            budget.check()?;
            resizer.push(row);
        }
        Ok(resizer.finish())
    }
    let pixels = if img.channels == 1 {
        rows::<1>(img, (width, height), budget)?
    } else {
        rows::<3>(img, (width, height), budget)?
    };
    Ok(Raster {
        width,
        height,
        channels: img.channels,
        pixels,
    })
}

/// The EXIF orientation (1–8) of a JPEG; 1 when it has none.
fn exif_orientation(jpeg: &[u8]) -> u16 {
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if marker == 0xDA || len < 2 {
            break;
        }
        let segment = jpeg.get(at + 4..at + 2 + len).unwrap_or(&[]);
        if marker == 0xE1 && segment.starts_with(b"Exif\0\0") {
            return tiff_orientation(&segment[6..]).unwrap_or(1);
        }
        at += 2 + len;
    }
    1
}

fn tiff_orientation(tiff: &[u8]) -> Option<u16> {
    let big = match tiff.get(..4)? {
        b"MM\0*" => true,
        b"II*\0" => false,
        _ => return None,
    };
    let u16_at = |i: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(i..i + 2)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(i..i + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let entries = usize::from(u16_at(ifd)?);
    (0..entries.min(512))
        .map(|i| ifd + 2 + 12 * i)
        .find(|&e| u16_at(e) == Some(0x0112))
        .and_then(|e| u16_at(e + 8))
        .filter(|o| (1..=8).contains(o))
}

/// The image as it is meant to be seen, for an EXIF orientation (2–8), in tiles of 32x32
/// pixels so that turning a photo reads and writes memory in order.
fn orient(img: &Raster, orientation: u16) -> Raster {
    if img.channels == 1 {
        orient_px::<1>(img, orientation)
    } else {
        orient_px::<3>(img, orientation)
    }
}

fn orient_px<const C: usize>(img: &Raster, orientation: u16) -> Raster {
    let (w, h) = (img.width, img.height);
    let swap = orientation >= 5;
    let (ow, oh) = if swap { (h, w) } else { (w, h) };
    let mut pixels = vec![0u8; img.pixels.len()];
    const TILE: usize = 32;
    for ty in (0..oh).step_by(TILE) {
        for tx in (0..ow).step_by(TILE) {
            for oy in ty..(ty + TILE).min(oh) {
                for ox in tx..(tx + TILE).min(ow) {
                    let (sx, sy) = match orientation {
                        2 => (w - 1 - ox, oy),
                        3 => (w - 1 - ox, h - 1 - oy),
                        4 => (ox, h - 1 - oy),
                        5 => (oy, ox),
                        6 => (oy, h - 1 - ox),
                        7 => (w - 1 - oy, h - 1 - ox),
                        _ => (w - 1 - oy, ox), // 8
                    };
                    let (s, o) = ((sy * w + sx) * C, (oy * ow + ox) * C);
                    pixels[o..o + C].copy_from_slice(&img.pixels[s..s + C]);
                }
            }
        }
    }
    Raster {
        width: ow,
        height: oh,
        channels: C,
        pixels,
    }
}

#[cfg(feature = "fit")]
fn encode(img: &Raster, quality: u8, budget: &Budget<'_>, capacity: usize) -> Result<Vec<u8>> {
    jpeg::encode(
        &img.pixels,
        img.width,
        img.height,
        img.channels,
        quality,
        budget,
        capacity,
    )
}

/// What one size gave.
enum Fitted {
    Done(Vec<u8>, u8),
    /// Even the lowest quality is (estimated) this many bytes.
    TooLarge(usize),
}

/// Every 8th band of 16 rows (whole MCU rows): an image an eighth the size that compresses
/// like the whole.
fn stripes(img: &Raster) -> Raster {
    let stride = img.width * img.channels;
    let mut pixels = Vec::with_capacity(img.pixels.len() / 7);
    let mut height = 0;
    for band in (0..img.height).step_by(128) {
        let end = (band + 16).min(img.height);
        pixels.extend_from_slice(&img.pixels[band * stride..end * stride]);
        height += end - band;
    }
    Raster {
        width: img.width,
        height,
        channels: img.channels,
        pixels,
    }
}

#[cfg(feature = "fit")]
/// The highest quality whose JPEG is at most `max_bytes`, chosen from estimates made on a
/// sample of stripes, then encoded once (again only when the estimate missed).
fn encode_fitting(img: &Raster, max_bytes: Option<usize>, budget: &Budget<'_>) -> Result<Fitted> {
    let Some(max) = max_bytes else {
        let jpeg = encode(img, QUALITIES[0], budget, 0)?;
        return Ok(Fitted::Done(jpeg, QUALITIES[0]));
    };
    let mut estimates = Vec::new();
    let mut chosen = None;
    if img.height >= 512 {
        let sample = stripes(img);
        let ratio = img.height as f64 / sample.height as f64;
        for q in QUALITIES {
            let n = encode(&sample, q, budget, 0)?.len();
            let estimate = (n as f64 * ratio) as usize;
            estimates.push((q, estimate));
            if estimate <= max {
                chosen = Some(q);
                break;
            }
        }
    } else {
        chosen = Some(QUALITIES[0]);
    }
    // A quality estimated just over the limit is tried first, in case it fits after all.
    let near = |e: usize| (e as f64) < max as f64 * 1.06;
    let mut order: Vec<u8> = estimates
        .iter()
        .filter(|&&(q, e)| Some(q) != chosen && near(e))
        .map(|&(q, _)| q)
        .collect();
    match chosen {
        Some(first) => {
            order.push(first);
            order.extend(QUALITIES.iter().copied().filter(|&q| q < first));
        }
        None if order.is_empty() => {
            return Ok(Fitted::TooLarge(estimates.last().map_or(max * 2, |e| e.1)));
        }
        None => {}
    }
    let mut last = 0;
    for q in order {
        let jpeg = encode(img, q, budget, max)?;
        if jpeg.len() <= max {
            return Ok(Fitted::Done(jpeg, q));
        }
        last = jpeg.len();
    }
    Ok(Fitted::TooLarge(last))
}

fn scaled_size(
    (w, h): (usize, usize),
    factor: f64,
    limits: &Limits,
    provider: &str,
) -> Result<(usize, usize)> {
    let nw = ((w as f64 * factor).floor() as usize).clamp(1, w);
    let nh = ((h as f64 * factor).floor() as usize).clamp(1, h);
    if let Some(min) = limits.min_side {
        if nw.min(nh) < min as usize {
            return Err(error(
                ErrorCode::ImageTooSmall,
                format!(
                    "the image cannot be fitted to {provider}'s limits: at {nw}x{nh} px its shortest side would be below {min} px"
                ),
            ));
        }
    }
    if nw > usize::from(u16::MAX) || nh > usize::from(u16::MAX) {
        return Err(error(
            ErrorCode::ImageDimensionsTooLarge,
            format!("the image is {nw}x{nh} px; JPEG allows at most 65535 px a side"),
        ));
    }
    Ok((nw, nh))
}

/// The factor that brings an image of `bytes` bytes (at the lowest quality) to the limit.
fn shrink(max: usize, bytes: usize) -> f64 {
    (max as f64 / bytes.max(1) as f64).sqrt().min(1.0) * 0.95
}

#[cfg(feature = "fit")]
/// Decode, scale, orient and encode until the limits are met.
fn fit_image(
    bytes: Cow<'_, [u8]>,
    format: ImageFormat,
    (w, h): (u32, u32),
    limits: &Limits,
    provider: &str,
    budget: &Budget<'_>,
) -> Result<(Vec<u8>, u32, u32, u8)> {
    budget.check()?;
    let (w, h) = (w as usize, h as usize);
    let orientation = if format == ImageFormat::Jpeg {
        exif_orientation(&bytes)
    } else {
        1
    };
    let max_bytes = limits.max_base64.map(|b64| b64 / 4 * 3);
    let mut factor = match limits.max_side {
        Some(m) => (f64::from(m) / w.max(h) as f64).min(1.0),
        None => (MAX_WORKING_PIXELS as f64 / (w * h) as f64).sqrt().min(1.0),
    };
    let mut size = scaled_size((w, h), factor, limits, provider)?;

    // A JPEG that only needs a lower quality: requantize its coefficients.
    if let (ImageFormat::Jpeg, Some(max), true) = (format, max_bytes, size == (w, h)) {
        match jpeg::transcode(
            &bytes,
            orientation,
            &QUALITIES,
            max,
            MAX_TRANSCODE_BYTES,
            budget,
        )? {
            jpeg::Transcoded::Done {
                jpeg,
                width,
                height,
                quality,
            } => return Ok((jpeg, width as u32, height as u32, quality)),
            jpeg::Transcoded::TooLarge(estimate) => {
                factor *= shrink(max, estimate);
                size = scaled_size((w, h), factor, limits, provider)?;
            }
            jpeg::Transcoded::NotHere => {}
        }
    }

    // Decode and scale row by row; only the result is held whole.
    let img = decode_scaled(&bytes, format, size, budget)?;
    drop(bytes); // the input is no longer needed (when piaoju read it, its memory is freed)
    let mut img = if (2..=8).contains(&orientation) {
        budget.check()?;
        orient(&img, orientation)
    } else {
        img
    };
    for round in 0..MAX_ROUNDS {
        if round > 0 {
            let size = scaled_size((img.width, img.height), factor, limits, provider)?;
            img = scale(&img, size.0, size.1, budget)?;
        }
        match encode_fitting(&img, max_bytes, budget)? {
            Fitted::Done(jpeg, quality) => {
                return Ok((jpeg, img.width as u32, img.height as u32, quality));
            }
            Fitted::TooLarge(bytes) => factor = shrink(max_bytes.unwrap_or(bytes), bytes),
        }
    }
    Err(error(
        ErrorCode::ImageTooLarge,
        format!("the image could not be fitted to {provider}'s size limit"),
    ))
}

/// Fit `bytes` to Juhe's limits with no deadline: for `examples/fit_bench.rs` only.
#[cfg(feature = "bench")]
#[doc(hidden)]
pub fn bench_resize(sw: usize, sh: usize, dw: usize, dh: usize) -> usize {
    let mut r = resize::Resizer::<3>::new(sw, sh, dw, dh, false);
    let row: Vec<u8> = (0..sw * 3).map(|i| (i * 7) as u8).collect();
    for _ in 0..sh {
        r.push(&row);
    }
    r.finish().len()
}

#[cfg(feature = "bench")]
#[doc(hidden)]
pub fn bench_fit(bytes: &[u8]) -> Result<(Vec<u8>, ImageReport)> {
    let info = crate::image::inspect(bytes)?;
    let (out, report) = prepare(
        Cow::Borrowed(bytes),
        info,
        &crate::juhe::LIMITS,
        ImageFit::Auto,
        Provider::Juhe,
        None,
    )?;
    Ok((out.into_owned(), report))
}

/// Without the codecs, never called (`prepare` refuses first).
#[cfg(not(feature = "fit"))]
fn fit_image(
    _: Cow<'_, [u8]>,
    _: ImageFormat,
    _: (u32, u32),
    _: &Limits,
    provider: &str,
    _: &Budget<'_>,
) -> Result<(Vec<u8>, u32, u32, u8)> {
    Err(error(
        ErrorCode::Internal,
        format!("this build of piaoju cannot fit images to {provider}'s limits"),
    ))
}

#[cfg(all(test, feature = "fit"))]
pub(crate) mod tests;
