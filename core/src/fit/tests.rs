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
    let img = Raster {
        width,
        height,
        channels: 3,
        pixels: noisy(width, height, 7),
    };
    let out = encode(&img, quality, &free(), 0).unwrap();
    match orientation {
        Some(o) => with_exif(out, o),
        None => out,
    }
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
    let img = Raster {
        width: w,
        height: h,
        channels: 3,
        pixels,
    };
    let src = encode(&img, 95, &free(), 0).unwrap();
    let decoded = decode_scaled(&src, ImageFormat::Jpeg, (w, h), &free()).unwrap();
    let diff = |a: &Raster, b: &Raster| -> f64 {
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

// ----- grey sources: fitted as grey (one-component) JPEGs ------------------------------------

/// The number of components in a JPEG's frame header (SOFn).
fn sof_components(jpeg: &[u8]) -> u8 {
    let mut at = 2;
    while at + 10 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            return jpeg[at + 9];
        }
        at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
    }
    panic!("no frame header")
}

/// `jpeg` with an APP1 Exif segment (big-endian TIFF, one IFD entry: Orientation `o`) after
/// its SOI.
fn with_exif(mut jpeg: Vec<u8>, o: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    exif.extend_from_slice(&o.to_be_bytes());
    exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    seg.extend_from_slice(&exif);
    jpeg.splice(2..2, seg);
    jpeg
}

/// A bottom-up BMP of `bpp` (1, 4, 8) bits a pixel: palette index `index(x, y)` at (x, y)
/// (y from the top).
fn palette_bmp(
    w: usize,
    h: usize,
    bpp: usize,
    palette: &[[u8; 3]],
    index: impl Fn(usize, usize) -> u8,
) -> Vec<u8> {
    let stride = (bpp * w).div_ceil(32) * 4;
    let offset = 54 + 4 * palette.len();
    let mut b = b"BM".to_vec();
    b.extend_from_slice(&((offset + stride * h) as u32).to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&(offset as u32).to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&(w as i32).to_le_bytes());
    b.extend_from_slice(&(h as i32).to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&(bpp as u16).to_le_bytes());
    b.extend_from_slice(&[0; 16]); // compression, image size, resolution
    b.extend_from_slice(&(palette.len() as u32).to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    for &[r, g, bl] in palette {
        b.extend_from_slice(&[bl, g, r, 0]);
    }
    for y in (0..h).rev() {
        let mut row = vec![0u8; stride];
        for x in 0..w {
            let bit = x * bpp;
            row[bit / 8] |= index(x, y) << (8 - bpp - bit % 8);
        }
        b.extend_from_slice(&row);
    }
    b
}

/// A PNG of `color` (8 bits a sample) whose samples at (x, y) are `px(x, y)`.
fn png_of(
    w: usize,
    h: usize,
    color: png::ColorType,
    palette: Option<(Vec<u8>, Option<Vec<u8>>)>,
    px: impl Fn(usize, usize) -> Vec<u8>,
) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut e = png::Encoder::new(&mut out, w as u32, h as u32);
        e.set_color(color);
        e.set_depth(png::BitDepth::Eight);
        if let Some((p, trns)) = palette {
            e.set_palette(p);
            if let Some(t) = trns {
                e.set_trns(t);
            }
        }
        let mut writer = e.write_header().unwrap();
        let px = &px;
        let data: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| px(x, y)))
            .collect();
        writer.write_image_data(&data).unwrap();
    }
    out
}

/// A one-component JPEG (made by the jpeg-encoder crate, not by piaoju's encoder).
fn grey_jpeg(w: usize, h: usize, px: impl Fn(usize, usize) -> u8) -> Vec<u8> {
    let px = &px;
    let data: Vec<u8> = (0..h).flat_map(|y| (0..w).map(move |x| px(x, y))).collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 95)
        .encode(&data, w as u16, h as u16, jpeg_encoder::ColorType::Luma)
        .unwrap();
    out
}

/// The fitted JPEG decoded: its channels and the mean level of its left and right fifths.
fn sides(jpeg: &[u8]) -> (usize, f64, f64) {
    let (w, h) = jpeg_dims(jpeg).unwrap();
    let img = decode_scaled(jpeg, ImageFormat::Jpeg, (w, h), &free()).unwrap();
    let c = img.channels;
    let mean = |x0: usize, x1: usize| {
        let mut sum = 0u64;
        for y in 0..h {
            for x in x0..x1 {
                for k in 0..c {
                    sum += u64::from(img.pixels[(y * w + x) * c + k]);
                }
            }
        }
        sum as f64 / (h * (x1 - x0) * c) as f64
    };
    (c, mean(0, w / 5), mean(w - w / 5, w))
}

/// Fits `image` (over Juhe's limits) and checks the result: within the limits, `components`
/// in its frame, `size` as sent, its left and right sides near the levels given.
fn fits_as(
    name: &str,
    image: Vec<u8>,
    components: u8,
    size: (u32, u32),
    (left, right): (f64, f64),
) {
    let (out, report) = run(image, ImageFit::Auto).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(report.fitted, "{name}");
    assert_eq!(report.sent.format, "jpeg", "{name}");
    assert_eq!(
        (report.sent.width, report.sent.height),
        (Some(size.0), Some(size.1)),
        "{name}"
    );
    assert_eq!(jpeg_dims(&out).unwrap(), (size.0 as usize, size.1 as usize));
    assert_eq!(report.sent.bytes, out.len() as u64);
    assert!(
        base64_len(out.len()) <= crate::spec::JUHE_MAX_BASE64_LEN,
        "{name}"
    );
    assert_eq!(sof_components(&out), components, "{name}: components");
    let (channels, l, r) = sides(&out);
    assert_eq!(channels, usize::from(components), "{name}");
    assert!(
        (l - left).abs() < 4.0,
        "{name}: left side {l}, expected {left}"
    );
    assert!(
        (r - right).abs() < 4.0,
        "{name}: right side {r}, expected {right}"
    );
}

#[test]
fn grey_scans_are_fitted_as_grey_jpegs() {
    // 5000x1200 pages, dark on the left half, light on the right: 4096x983 sent.
    let (w, h) = (5000, 1200);
    let size = (4096, 983);
    let left = |x: usize| x < w / 2;
    // 1 bit, black and white.
    let bw = palette_bmp(w, h, 1, &[[0; 3], [255; 3]], |x, _| u8::from(!left(x)));
    fits_as("1-bit BMP", bw, 1, size, (0.0, 255.0));
    // 8 bits, a grey palette in reverse order (index i is level 255 - i), padded rows.
    let reversed: Vec<[u8; 3]> = (0..=255u8).map(|i| [255 - i; 3]).collect();
    let (w8, size8) = (4999, (4096, 983));
    let bmp8 = palette_bmp(
        w8,
        h,
        8,
        &reversed,
        |x, _| if x < w8 / 2 { 225 } else { 35 },
    );
    fits_as("8-bit grey BMP", bmp8, 1, size8, (30.0, 220.0));
    // 4 bits, 16 grey levels.
    let levels: Vec<[u8; 3]> = (0..16u8).map(|i| [i * 17; 3]).collect();
    let bmp4 = palette_bmp(w, h, 4, &levels, |x, _| if left(x) { 2 } else { 13 });
    fits_as("4-bit grey BMP", bmp4, 1, size, (34.0, 221.0));
    // Grey PNG; grey with alpha (transparent on the left: laid on white); a grey palette.
    let level = |x: usize| if left(x) { 30u8 } else { 220 };
    let png_grey = png_of(w, h, png::ColorType::Grayscale, None, |x, _| vec![level(x)]);
    fits_as("grey PNG", png_grey, 1, size, (30.0, 220.0));
    let png_ga = png_of(w, h, png::ColorType::GrayscaleAlpha, None, |x, _| {
        if left(x) {
            vec![0, 0]
        } else {
            vec![40, 255]
        }
    });
    fits_as("grey-alpha PNG", png_ga, 1, size, (255.0, 40.0));
    let pal: Vec<u8> = [10u8, 240].iter().flat_map(|&v| [v; 3]).collect();
    let png_pal = png_of(w, h, png::ColorType::Indexed, Some((pal, None)), |x, _| {
        vec![u8::from(!left(x))]
    });
    fits_as("grey palette PNG", png_pal, 1, size, (10.0, 240.0));
    // A one-component JPEG.
    let jpeg = grey_jpeg(w, h, |x, _| level(x));
    fits_as("grey JPEG", jpeg, 1, size, (30.0, 220.0));
}

#[test]
fn a_turned_grey_jpeg_is_fitted_upright_and_grey() {
    // Stored 5000x1200, dark on top, light below; orientation 6 (turn 90 degrees clockwise):
    // seen as 1200x5000, light on the left (the stored bottom), dark on the right.
    let jpeg = with_exif(
        grey_jpeg(5000, 1200, |_, y| if y < 600 { 20 } else { 230 }),
        6,
    );
    fits_as("turned grey JPEG", jpeg, 1, (983, 4096), (230.0, 20.0));
}

#[test]
fn a_grey_jpeg_that_only_needs_a_lower_quality_stays_grey() {
    // 3000x2000 of grey noise at quality 95: over 4.5 MB, within 4096 px; requantized.
    let mut state = 0x2545_F491u32;
    let noise: Vec<u8> = (0..3000 * 2000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let src = grey_jpeg(3000, 2000, |x, y| noise[y * 3000 + x]);
    assert!(
        src.len() > crate::spec::JUHE_MAX_BASE64_LEN / 4 * 3,
        "{}",
        src.len()
    );
    let (out, report) = run(src, ImageFit::Auto).unwrap();
    assert!(report.fitted);
    assert_eq!(
        (report.sent.width, report.sent.height),
        (Some(3000), Some(2000))
    );
    assert!(report.quality.unwrap() < 95);
    assert!(base64_len(out.len()) <= crate::spec::JUHE_MAX_BASE64_LEN);
    assert_eq!(sof_components(&out), 1);
    // Turned (orientation 6), its coefficients turned too: 4000x3000 stored, dark noise on
    // the top third, light below; seen 3000x4000, the light part on the left.
    let (w, h) = (4000, 3000);
    let noise: Vec<u8> = (0..w * h)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let level = |x: usize, y: usize| {
        let v = noise[y * w + x];
        if y < h / 3 {
            v / 3
        } else {
            170 + v / 3
        }
    };
    let mean = |rows: std::ops::Range<usize>| {
        let n = rows.len() * w;
        let sum: usize = rows
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| usize::from(level(x, y)))
            .sum();
        sum as f64 / n as f64
    };
    // The seen left fifth is the stored bottom fifth; the right fifth the top one.
    let (left, right) = (mean(h - h / 5..h), mean(0..h / 5));
    let turned = with_exif(grey_jpeg(w, h, level), 6);
    assert!(
        turned.len() > crate::spec::JUHE_MAX_BASE64_LEN / 4 * 3,
        "{}",
        turned.len()
    );
    fits_as(
        "turned grey JPEG, requantized",
        turned,
        1,
        (3000, 4000),
        (left, right),
    );
}

#[test]
fn a_palette_with_one_colour_stays_rgb() {
    // Grey palettes but for one red entry (unused by the pixels): RGB, as before.
    let (w, h) = (5000, 1200);
    let left = |x: usize| x < w / 2;
    let mut reds: Vec<[u8; 3]> = (0..=255u8).map(|i| [i; 3]).collect();
    reds[200] = [255, 0, 0];
    let bmp = palette_bmp(w, h, 8, &reds, |x, _| if left(x) { 30 } else { 220 });
    fits_as("8-bit BMP, one colour", bmp, 3, (4096, 983), (30.0, 220.0));
    let bw = palette_bmp(w, h, 1, &[[0; 3], [255, 255, 254]], |x, _| {
        u8::from(!left(x))
    });
    fits_as("1-bit BMP, off-white", bw, 3, (4096, 983), (0.0, 254.7));
    let mut pal: Vec<u8> = [10u8, 240].iter().flat_map(|&v| [v; 3]).collect();
    pal.extend_from_slice(&[0, 0, 255]);
    let png_pal = png_of(
        w,
        h,
        png::ColorType::Indexed,
        Some((pal.clone(), None)),
        |x, _| vec![u8::from(!left(x))],
    );
    fits_as(
        "palette PNG, one colour",
        png_pal,
        3,
        (4096, 983),
        (10.0, 240.0),
    );
    // A grey palette with transparency: left RGB (as the brief of the grey path says).
    pal.truncate(6);
    let png_trns = png_of(
        w,
        h,
        png::ColorType::Indexed,
        Some((pal, Some(vec![255, 255]))),
        |x, _| vec![u8::from(!left(x))],
    );
    fits_as(
        "grey palette PNG with tRNS",
        png_trns,
        3,
        (4096, 983),
        (10.0, 240.0),
    );
}

#[test]
fn a_truncated_grey_scan_is_corrupt() {
    let (w, h) = (5000, 1200);
    let page = |x: usize, y: usize| ((x / 3 + y * 7) % 251) as u8;
    let jpeg = grey_jpeg(w, h, page);
    let png = png_of(w, h, png::ColorType::Grayscale, None, |x, y| {
        vec![page(x, y)]
    });
    let bmp = palette_bmp(w, h, 1, &[[0; 3], [255; 3]], |x, y| page(x, y) & 1);
    for (name, image) in [
        ("grey JPEG cut at 60 %", &jpeg[..jpeg.len() * 6 / 10]),
        ("grey JPEG without its EOI", &jpeg[..jpeg.len() - 2]),
        ("grey PNG cut at 50 %", &png[..png.len() / 2]),
        ("1-bit BMP less 100 bytes", &bmp[..bmp.len() - 100]),
    ] {
        let e = run(image.to_vec(), ImageFit::Auto).unwrap_err();
        assert_eq!(e.code, ErrorCode::ImageCorrupt, "{name}: {e}");
        assert!(e.message.contains("ends early"), "{name}: {e}");
    }
}
