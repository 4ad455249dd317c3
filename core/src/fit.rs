//! Fitting an image to a provider's limits. An image within them is sent byte for byte as
//! given. One over them, in a format piaoju decodes (JPEG, PNG, BMP), is turned upright by its
//! EXIF orientation, scaled down (Lanczos3) so its longest side is within the maximum, and
//! encoded as JPEG at a falling quality, then scaled down further, until its base64 fits.
//! Never upscaled; a PDF is never touched; a header claiming more than [`MAX_PIXELS`] is
//! refused before anything is allocated.
//!
//! Without the `fit` feature (no codecs built), an image over the limits is refused as with
//! `image_fit: "off"`: the decoding and encoding below are left out.
#![cfg_attr(not(feature = "fit"), allow(dead_code))]

use std::borrow::Cow;

use serde::Serialize;
#[cfg(feature = "fit")]
use zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};

use crate::error::{Error, ErrorCode, Result};
use crate::image::{base64_len, ImageFormat, ImageInfo};

/// The most pixels piaoju decodes (a 48-megapixel photo has 48 million).
pub const MAX_PIXELS: u64 = 100_000_000;

/// JPEG qualities tried in turn, before scaling further down.
const QUALITIES: [u8; 4] = [92, 85, 75, 65];
/// Rounds of scaling down after the longest side fits (each aims at the size limit).
const MAX_ROUNDS: usize = 8;

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
    provider: &str,
) -> Result<(Cow<'a, [u8]>, ImageReport)> {
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
    if fit == ImageFit::Off || !decodable || cfg!(not(feature = "fit")) {
        return Err(refusal);
    }
    let (w, h) = info.size.expect("raster formats have a size");
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(error(
            ErrorCode::ImageTooComplex,
            format!("the image claims {w}x{h} px; piaoju decodes at most {MAX_PIXELS} pixels"),
        ));
    }
    let (jpeg, width, height, quality) = fit_image(bytes, info.format, limits, provider)?;
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

/// An RGB image, 3 bytes a pixel, rows top to bottom.
#[derive(Clone)]
struct Rgb {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    error(
        ErrorCode::ImageCorrupt,
        format!("the image cannot be decoded: {what}"),
    )
}

/// RGB from RGBA or gray-alpha: transparent pixels are laid on white.
fn flatten(pixels: &[u8], channels: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(pixels.len() / channels * 3);
    for px in pixels.chunks_exact(channels) {
        let (rgb, alpha): (&[u8], u16) = match channels {
            4 => (&px[..3], u16::from(px[3])),
            2 => (&px[..1], u16::from(px[1])),
            _ => (px, 255),
        };
        let on_white = |c: u8| ((u16::from(c) * alpha + 255 * (255 - alpha)) / 255) as u8;
        match rgb.len() {
            1 => out.extend_from_slice(&[on_white(rgb[0]); 3]),
            _ => out.extend(rgb.iter().map(|&c| on_white(c))),
        }
    }
    out
}

#[cfg(feature = "fit")]
fn decode(bytes: &[u8], format: ImageFormat) -> Result<Rgb> {
    let options = DecoderOptions::default()
        .set_max_width(1 << 16)
        .set_max_height(1 << 16);
    match format {
        ImageFormat::Jpeg => {
            let options = options.jpeg_set_out_colorspace(ColorSpace::RGB);
            let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
            let pixels = d.decode().map_err(|e| corrupt(format!("{e:?}")))?;
            let (width, height) = d.dimensions().ok_or_else(|| corrupt("no dimensions"))?;
            Ok(Rgb {
                width,
                height,
                pixels,
            })
        }
        ImageFormat::Bmp => {
            let mut d = zune_bmp::BmpDecoder::new_with_options(ZCursor::new(bytes), options);
            let pixels = d.decode().map_err(|e| corrupt(format!("{e:?}")))?;
            let (width, height) = d.dimensions().ok_or_else(|| corrupt("no dimensions"))?;
            let channels = d.colorspace().map_or(3, |c| c.num_components());
            Ok(Rgb {
                width,
                height,
                pixels: if channels == 3 {
                    pixels
                } else {
                    flatten(&pixels, channels)
                },
            })
        }
        ImageFormat::Png => {
            let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
            decoder
                .set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
            let mut reader = decoder.read_info().map_err(corrupt)?;
            let size = reader
                .output_buffer_size()
                .ok_or_else(|| corrupt("too large"))?;
            let mut buf = vec![0; size];
            let frame = reader.next_frame(&mut buf).map_err(corrupt)?;
            buf.truncate(frame.buffer_size());
            let channels = frame.color_type.samples();
            Ok(Rgb {
                width: frame.width as usize,
                height: frame.height as usize,
                pixels: if channels == 3 {
                    buf
                } else {
                    flatten(&buf, channels)
                },
            })
        }
        _ => Err(corrupt("not a raster format")),
    }
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

/// The image as it is meant to be seen, for an EXIF orientation (2–8).
fn orient(img: &Rgb, orientation: u16) -> Rgb {
    let (w, h) = (img.width, img.height);
    let swap = orientation >= 5;
    let (ow, oh) = if swap { (h, w) } else { (w, h) };
    let mut pixels = vec![0u8; img.pixels.len()];
    for oy in 0..oh {
        for ox in 0..ow {
            let (sx, sy) = match orientation {
                2 => (w - 1 - ox, oy),
                3 => (w - 1 - ox, h - 1 - oy),
                4 => (ox, h - 1 - oy),
                5 => (oy, ox),
                6 => (oy, h - 1 - ox),
                7 => (w - 1 - oy, h - 1 - ox),
                _ => (w - 1 - oy, ox), // 8
            };
            let (s, o) = ((sy * w + sx) * 3, (oy * ow + ox) * 3);
            pixels[o..o + 3].copy_from_slice(&img.pixels[s..s + 3]);
        }
    }
    Rgb {
        width: ow,
        height: oh,
        pixels,
    }
}

#[cfg(feature = "fit")]
fn scale(img: &Rgb, width: usize, height: usize) -> Result<Cow<'_, Rgb>> {
    if (width, height) == (img.width, img.height) {
        return Ok(Cow::Borrowed(img));
    }
    let mut resizer = resize::new(
        img.width,
        img.height,
        width,
        height,
        resize::Pixel::RGB8,
        resize::Type::Lanczos3,
    )
    .map_err(|e| corrupt(format!("cannot scale: {e:?}")))?;
    let mut pixels = vec![0u8; width * height * 3];
    // SAFETY: RGB<u8> is #[repr(C)] of three u8 (size 3, alignment 1), so a byte buffer of
    // whole pixels is a pixel buffer; the resizer writes straight into the result.
    let (src, dst) = unsafe {
        (
            std::slice::from_raw_parts(
                img.pixels.as_ptr().cast::<resize::px::RGB<u8>>(),
                img.pixels.len() / 3,
            ),
            std::slice::from_raw_parts_mut(
                pixels.as_mut_ptr().cast::<resize::px::RGB<u8>>(),
                width * height,
            ),
        )
    };
    resizer
        .resize(src, dst)
        .map_err(|e| corrupt(format!("cannot scale: {e:?}")))?;
    Ok(Cow::Owned(Rgb {
        width,
        height,
        pixels,
    }))
}

#[cfg(feature = "fit")]
fn encode(img: &Rgb, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder
        .encode(
            &img.pixels,
            img.width as u16,
            img.height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .map_err(|e| error(ErrorCode::Internal, format!("cannot encode JPEG: {e}")))?;
    Ok(out)
}

/// Decode, scale, orient and encode until the limits are met.
#[cfg(feature = "fit")]
fn fit_image(
    bytes: Cow<'_, [u8]>,
    format: ImageFormat,
    limits: &Limits,
    provider: &str,
) -> Result<(Vec<u8>, u32, u32, u8)> {
    let orientation = if format == ImageFormat::Jpeg {
        exif_orientation(&bytes)
    } else {
        1
    };
    let img = decode(&bytes, format)?;
    drop(bytes); // the input is no longer needed (when piaoju read it, its memory is freed)
    let long = img.width.max(img.height) as f64;
    let mut factor = limits
        .max_side
        .map_or(1.0, |m| (f64::from(m) / long).min(1.0));
    for _ in 0..MAX_ROUNDS {
        let w = ((img.width as f64 * factor).floor() as usize).max(1);
        let h = ((img.height as f64 * factor).floor() as usize).max(1);
        if let Some(min) = limits.min_side {
            if w.min(h) < min as usize {
                return Err(error(
                    ErrorCode::ImageTooSmall,
                    format!(
                        "the image cannot be fitted to {provider}'s limits: at {w}x{h} px its shortest side would be below {min} px"
                    ),
                ));
            }
        }
        if w > usize::from(u16::MAX) || h > usize::from(u16::MAX) {
            return Err(error(
                ErrorCode::ImageDimensionsTooLarge,
                format!("the image is {w}x{h} px; JPEG allows at most 65535 px a side"),
            ));
        }
        let scaled = scale(&img, w, h)?;
        let upright = if (2..=8).contains(&orientation) {
            Cow::Owned(orient(&scaled, orientation))
        } else {
            scaled
        };
        let mut last = 0;
        for quality in QUALITIES {
            let jpeg = encode(&upright, quality)?;
            let b64 = base64_len(jpeg.len());
            if limits.max_base64.is_none_or(|max| b64 <= max) {
                return Ok((jpeg, upright.width as u32, upright.height as u32, quality));
            }
            last = b64;
        }
        // Still too large at the lowest quality: scale down towards the size limit.
        let max = limits.max_base64.unwrap_or(last) as f64;
        factor *= (max / last as f64).sqrt() * 0.95;
    }
    Err(error(
        ErrorCode::ImageTooLarge,
        format!("the image could not be fitted to {provider}'s size limit"),
    ))
}

/// Without the codecs, never called (`prepare` refuses first).
#[cfg(not(feature = "fit"))]
fn fit_image(
    _: Cow<'_, [u8]>,
    _: ImageFormat,
    _: &Limits,
    provider: &str,
) -> Result<(Vec<u8>, u32, u32, u8)> {
    Err(error(
        ErrorCode::Internal,
        format!("this build of piaoju cannot fit images to {provider}'s limits"),
    ))
}

#[cfg(all(test, feature = "fit"))]
pub(crate) mod tests {
    use super::*;

    /// A noisy RGB image with a red top-left corner block.
    pub fn noisy(width: usize, height: usize, seed: u32) -> Vec<u8> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        let mut px = Vec::with_capacity(width * height * 3);
        for y in 0..height {
            for x in 0..width {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                if x < width / 8 && y < height / 8 {
                    px.extend_from_slice(&[255, 0, 0]);
                } else {
                    let base = ((x + y) % 256) as u8;
                    px.extend_from_slice(&[base, (state & 0xFF) as u8, (state >> 8 & 0xFF) as u8]);
                }
            }
        }
        px
    }

    pub fn jpeg(width: usize, height: usize, quality: u8, orientation: Option<u16>) -> Vec<u8> {
        let img = Rgb {
            width,
            height,
            pixels: noisy(width, height, 7),
        };
        let mut out = encode(&img, quality).unwrap();
        if let Some(o) = orientation {
            // An APP1 Exif segment (big-endian TIFF, one IFD entry: Orientation) after SOI.
            let mut exif = b"Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
            exif.extend_from_slice(&o.to_be_bytes());
            exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            let mut seg = vec![0xFF, 0xE1];
            seg.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
            seg.extend_from_slice(&exif);
            out.splice(2..2, seg);
        }
        out
    }

    fn juhe() -> Limits {
        Limits {
            max_base64: Some(crate::spec::JUHE_MAX_BASE64_LEN),
            min_side: Some(crate::spec::JUHE_MIN_SIDE),
            max_side: Some(crate::spec::JUHE_MAX_SIDE),
        }
    }

    fn run(bytes: Vec<u8>, fit: ImageFit) -> Result<(Vec<u8>, ImageReport)> {
        let info = crate::image::inspect(&bytes)?;
        let (out, report) = prepare(Cow::Owned(bytes), info, &juhe(), fit, "Juhe")?;
        Ok((out.into_owned(), report))
    }

    fn red_at(jpeg: &[u8], corner_x: bool, corner_y: bool) -> bool {
        let img = decode(jpeg, ImageFormat::Jpeg).unwrap();
        let x = if corner_x { img.width - 4 } else { 3 };
        let y = if corner_y { img.height - 4 } else { 3 };
        let p = &img.pixels[(y * img.width + x) * 3..][..3];
        p[0] > 200 && p[1] < 60 && p[2] < 60
    }

    #[test]
    fn orientation_is_read_from_exif() {
        assert_eq!(exif_orientation(&jpeg(16, 16, 90, Some(6))), 6);
        assert_eq!(exif_orientation(&jpeg(16, 16, 90, Some(3))), 3);
        assert_eq!(exif_orientation(&jpeg(16, 16, 90, None)), 1);
        assert_eq!(exif_orientation(b"\xFF\xD8\xFF\xE1\x00"), 1);
    }

    #[test]
    fn an_image_within_the_limits_is_sent_as_given() {
        let small = jpeg(640, 480, 90, Some(6));
        let (out, report) = run(small.clone(), ImageFit::Auto).unwrap();
        assert_eq!(out, small);
        assert!(!report.fitted);
        assert_eq!(report.original, report.sent);
    }

    #[test]
    fn a_turned_over_long_photo_is_fitted_upright() {
        // 5000x3000 stored, orientation 6: meant to be seen as 3000x5000.
        let (out, report) = run(jpeg(5000, 3000, 90, Some(6)), ImageFit::Auto).unwrap();
        assert!(report.fitted);
        let (w, h) = (report.sent.width.unwrap(), report.sent.height.unwrap());
        assert!(h > w && h <= 4096, "{w}x{h}");
        assert!(base64_len(out.len()) <= crate::spec::JUHE_MAX_BASE64_LEN);
        // The stored top-left corner is now the top-right one.
        assert!(red_at(&out, true, false) && !red_at(&out, false, false));
        assert_eq!(exif_orientation(&out), 1);
    }

    #[test]
    fn off_keeps_the_refusals_and_bombs_cost_nothing() {
        let e = run(jpeg(5000, 100, 90, None), ImageFit::Off).unwrap_err();
        assert_eq!(e.code, ErrorCode::ImageDimensionsTooLarge);
        // A PNG header claiming 20000x20000: refused from the header alone.
        let mut bomb = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        bomb.extend_from_slice(&20000u32.to_be_bytes());
        bomb.extend_from_slice(&20000u32.to_be_bytes());
        bomb.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        let e = run(bomb, ImageFit::Auto).unwrap_err();
        assert_eq!(e.code, ErrorCode::ImageTooComplex);
        let e = run(jpeg(10, 10, 90, None), ImageFit::Auto).unwrap_err();
        assert_eq!(e.code, ErrorCode::ImageTooSmall);
    }

    #[test]
    fn transparency_is_laid_on_white() {
        assert_eq!(
            flatten(&[10, 20, 30, 0, 10, 20, 30, 255], 4),
            [255, 255, 255, 10, 20, 30]
        );
        assert_eq!(flatten(&[0, 0], 2), [255, 255, 255]);
    }
}
