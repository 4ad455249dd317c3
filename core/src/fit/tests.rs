//! Fitting's tests (feature `fit`); its image makers are shared with other modules' tests.

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

fn free() -> Budget<'static> {
    Budget {
        deadline: None,
        provider: Provider::Juhe,
    }
}

pub fn jpeg(width: usize, height: usize, quality: u8, orientation: Option<u16>) -> Vec<u8> {
    let img = Rgb {
        width,
        height,
        pixels: noisy(width, height, 7),
    };
    let mut out = encode(&img, quality, &free(), 0).unwrap();
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
    let juhe = juhe();
    let (out, report) = prepare(Cow::Owned(bytes), info, &juhe, fit, Provider::Juhe, None)?;
    Ok((out.into_owned(), report))
}

fn red_at(jpeg: &[u8], corner_x: bool, corner_y: bool) -> bool {
    let (w, h) = jpeg_dims(jpeg).unwrap();
    let img = decode_scaled(jpeg, ImageFormat::Jpeg, (w, h), &free()).unwrap();
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
fn requantized_coefficients_turn_like_the_pixels() {
    // 64x48 px of smooth colour (whole 16x16 MCUs: every turn is lossless), a red corner.
    let (w, h) = (64, 48);
    let mut pixels = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let red = x < 16 && y < 16;
            pixels.extend_from_slice(&if red {
                [250, 10, 10]
            } else {
                [(x * 3) as u8, (y * 4) as u8, 120]
            });
        }
    }
    let img = Rgb {
        width: w,
        height: h,
        pixels,
    };
    let src = encode(&img, 95, &free(), 0).unwrap();
    let decoded = decode_scaled(&src, ImageFormat::Jpeg, (w, h), &free()).unwrap();
    let diff = |a: &Rgb, b: &Rgb| -> f64 {
        assert_eq!((a.width, a.height), (b.width, b.height));
        let sum: u64 = a
            .pixels
            .iter()
            .zip(&b.pixels)
            .map(|(&x, &y)| u64::from(x.abs_diff(y)))
            .sum();
        sum as f64 / a.pixels.len() as f64
    };
    for o in 1..=8u16 {
        let out = match jpeg::transcode(&src, o, &[75], src.len(), usize::MAX, &free()) {
            Ok(jpeg::Transcoded::Done { jpeg, .. }) => jpeg,
            _ => panic!("orientation {o}: not transcoded"),
        };
        assert_eq!(exif_orientation(&out), 1);
        let (ow, oh) = jpeg_dims(&out).unwrap();
        let got = decode_scaled(&out, ImageFormat::Jpeg, (ow, oh), &free()).unwrap();
        let want = if o == 1 {
            decoded.clone()
        } else {
            orient(&decoded, o)
        };
        let d = diff(&got, &want);
        assert!(d < 3.0, "orientation {o}: mean difference {d}");
        if o > 1 && o < 5 {
            // Turned the wrong way, it would differ a lot: the test can fail.
            assert!(diff(&got, &decoded) > 10.0, "orientation {o}");
        }
    }
    // A 4:4:4 photo is left to the decoder (re-encoded 4:2:0, as the pixels would be).
    let mut full = Vec::new();
    let mut e = jpeg_encoder::Encoder::new(&mut full, 95);
    e.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
    e.encode(
        &img.pixels,
        w as u16,
        h as u16,
        jpeg_encoder::ColorType::Rgb,
    )
    .unwrap();
    let r = jpeg::transcode(&full, 1, &[75], full.len(), usize::MAX, &free()).unwrap();
    assert!(matches!(r, jpeg::Transcoded::NotHere));
}

#[test]
fn the_estimate_picks_the_quality_a_full_encode_confirms() {
    // A noisy 1024x768 photo re-encoded to fit between its sizes at 85 and at 75: the
    // estimates choose 75 (one full encode), and it fits.
    let src = jpeg(1024, 768, 95, None);
    let size = |q: u8| match jpeg::transcode(&src, 1, &[q], usize::MAX, usize::MAX, &free()) {
        Ok(jpeg::Transcoded::Done { jpeg, .. }) => jpeg.len(),
        _ => panic!("not transcoded"),
    };
    let (s85, s75) = (size(85), size(75));
    assert!(s85 > s75 * 11 / 10, "{s85} {s75}");
    let max = (s85 + s75) / 2;
    let Ok(jpeg::Transcoded::Done { jpeg, quality, .. }) =
        jpeg::transcode(&src, 1, &QUALITIES, max, usize::MAX, &free())
    else {
        panic!("not transcoded")
    };
    assert_eq!((quality, jpeg.len()), (75, s75));
    // Below the size at 65: too large, with an estimate near that size.
    let s65 = size(65);
    match jpeg::transcode(&src, 1, &QUALITIES, s65 / 2, usize::MAX, &free()) {
        Ok(jpeg::Transcoded::TooLarge(e)) => {
            assert!(e > s65 * 8 / 10 && e < s65 * 12 / 10, "{e} {s65}")
        }
        _ => panic!("fitted below its size at 65"),
    }
}

#[test]
fn transparency_is_laid_on_white() {
    let mut out = [0u8; 6];
    to_rgb(&[10, 20, 30, 0, 10, 20, 30, 255], 4, &mut out);
    assert_eq!(out, [255, 255, 255, 10, 20, 30]);
    let mut out = [0u8; 3];
    to_rgb(&[0, 0], 2, &mut out);
    assert_eq!(out, [255, 255, 255]);
}
