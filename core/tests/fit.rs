//! Phone photos just work: over-limit images are fitted to Juhe's limits end to end. The
//! sandbox checks the limits with its own code, so a receipt coming back proves the fit; an
//! image within the limits reaches the sandbox byte for byte (answers registered by hash).

use piaoju::{Client, Config, ErrorCode};
use piaoju_sandbox::Sandbox;

/// Noise with structure: compresses like a photo of a receipt on a textured table, badly.
fn noisy(width: usize, height: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9u32;
    let mut px = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            px.extend_from_slice(&[(x / 7 + y / 5) as u8, state as u8, (state >> 8) as u8]);
        }
    }
    px
}

fn jpeg(width: usize, height: usize, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(
            &noisy(width, height),
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    out
}

fn png_image(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut e = png::Encoder::new(&mut out, width, height);
        e.set_color(png::ColorType::Rgba);
        let mut w = e.write_header().unwrap();
        let mut data = noisy(width as usize, height as usize);
        data = data
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 128])
            .collect();
        w.write_image_data(&data).unwrap();
    }
    out
}

/// A 24-bit bottom-up BMP.
fn bmp(width: usize, height: usize) -> Vec<u8> {
    let row = (width * 3).div_ceil(4) * 4;
    let size = 54 + row * height;
    let mut b = Vec::with_capacity(size);
    b.extend_from_slice(b"BM");
    b.extend_from_slice(&(size as u32).to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&(width as i32).to_le_bytes());
    b.extend_from_slice(&(height as i32).to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 24]);
    let px = noisy(width, height);
    for y in (0..height).rev() {
        for x in 0..width {
            let p = &px[(y * width + x) * 3..][..3];
            b.extend_from_slice(&[p[2], p[1], p[0]]);
        }
        b.resize(b.len() + row - width * 3, 0);
    }
    b
}

fn client(sb: &Sandbox, fit: &str) -> Client {
    let mut c: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    c["image_fit"] = fit.into();
    c["timeout_ms"] = 60_000.into();
    Client::new(Config::from_value(c).unwrap()).unwrap()
}

#[test]
fn over_limit_photos_and_scans_are_fitted() {
    let sb = Sandbox::start().unwrap();
    let c = client(&sb, "auto");
    for (name, image, min_original) in [
        ("4032x3024 noisy JPEG", jpeg(4032, 3024, 95), 4_500_000),
        ("8000x6000 JPEG", jpeg(8000, 6000, 60), 0),
        ("5000x3000 BMP", bmp(5000, 3000), 40_000_000),
    ] {
        assert!(image.len() > min_original, "{name}: {} bytes", image.len());
        let r = c.recognize_shopping_receipt(&image).unwrap();
        let report = r.image.expect("every result says what was sent");
        assert!(report.fitted, "{name}");
        assert_eq!(report.original.bytes, image.len() as u64);
        assert_eq!(report.sent.format, "jpeg");
        let (w, h) = (report.sent.width.unwrap(), report.sent.height.unwrap());
        assert!(w.max(h) <= 4096, "{name}: {w}x{h}");
        assert!(
            report.sent.bytes.div_ceil(3) * 4 <= 6 * 1024 * 1024,
            "{name}"
        );
        assert!(report.quality.is_some());
        // The aspect ratio is kept.
        let (ow, oh) = (
            report.original.width.unwrap(),
            report.original.height.unwrap(),
        );
        assert!(
            (f64::from(w) / f64::from(h) - f64::from(ow) / f64::from(oh)).abs() < 0.01,
            "{name}"
        );
        assert_eq!(r.shop_name.as_deref(), Some("多又好超市"), "{name}");
    }
    assert_eq!(sb.stats().juhe_requests, 3);
}

#[test]
fn images_within_the_limits_are_sent_byte_for_byte() {
    let sb = Sandbox::start().unwrap();
    let c = client(&sb, "auto");
    for (name, image) in [
        ("jpeg", jpeg(1200, 900, 90)),
        ("png", png_image(400, 300)),
        ("bmp", bmp(300, 200)),
    ] {
        let answer = format!(
            r#"{{"reason":"成功","error_code":0,"result":{{"orderid":"exact-{name}","data":{{}}}}}}"#
        );
        sb.register_answer(&image, 200, answer);
        let r = c.recognize_shopping_receipt(&image).unwrap();
        // Only these exact bytes (by SHA-256) get the registered answer.
        assert_eq!(
            r.order_id.as_deref(),
            Some(format!("exact-{name}").as_str())
        );
        let report = r.image.unwrap();
        assert!(!report.fitted && report.original == report.sent, "{name}");
        assert_eq!(report.quality, None);
    }
}

#[test]
fn off_keeps_the_refusals_and_bombs_are_refused_from_the_header() {
    let sb = Sandbox::start().unwrap();
    let off = client(&sb, "off");
    let e = off
        .recognize_shopping_receipt(&jpeg(5000, 200, 80))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ImageDimensionsTooLarge);
    let e = off
        .recognize_shopping_receipt(&bmp(2000, 1200))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ImageTooLarge);
    let auto = client(&sb, "auto");
    let mut bomb = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bomb.extend_from_slice(&20000u32.to_be_bytes());
    bomb.extend_from_slice(&20000u32.to_be_bytes());
    bomb.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    let e = auto.recognize_shopping_receipt(&bomb).unwrap_err();
    assert_eq!(e.code, ErrorCode::ImageTooComplex);
    // A PDF is never touched: over a configured ChinaUMS limit it is refused.
    let mut c: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    c["chinaums"]["max_base64_bytes"] = 1000.into();
    let ums = Client::new(Config::from_value(c).unwrap()).unwrap();
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.resize(2000, b' ');
    let e = ums.recognize_used_car_invoice(&pdf).unwrap_err();
    assert_eq!(e.code, ErrorCode::ImageTooLarge);
    assert_eq!(sb.stats().juhe_requests + sb.stats().ocr_requests, 0);
}

/// A baseline YCbCr (4:4:4) JPEG of `w` x `h` px whose every block is flat (DC difference 0,
/// then end of block), with one-code Huffman tables: two bits a block, all zero. A
/// 10 000 x 10 000 one is 1.2 MB: a small file claiming many pixels, legitimately.
fn flat_jpeg(w: u16, h: u16) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    j.extend_from_slice(&[0xFF, 0xDB, 0, 67, 0]);
    j.extend_from_slice(&[1; 64]);
    j.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8]);
    j.extend_from_slice(&h.to_be_bytes());
    j.extend_from_slice(&w.to_be_bytes());
    j.extend_from_slice(&[3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]);
    // DC table 0 and AC table 0: one code of length 1 each, for symbol 0 (DC: difference 0;
    // AC: end of block).
    for class in [0x00, 0x10] {
        j.extend_from_slice(&[0xFF, 0xC4, 0, 20, class, 1]);
        j.extend_from_slice(&[0; 15]);
        j.push(0);
    }
    j.extend_from_slice(&[0xFF, 0xDA, 0, 12, 3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]);
    let blocks = usize::from(w).div_ceil(8) * usize::from(h).div_ceil(8) * 3;
    j.resize(j.len() + (blocks * 2).div_ceil(8), 0);
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

/// An 8-bit RLE BMP of `w` x `h` px that is only its header, palette and an end-of-bitmap
/// mark: 1 080 bytes claiming every pixel (those the data skips are palette entry 0). Its
/// palette is coloured, or grey (`grey`: fitted as grey, one channel).
fn rle8_bmp(w: i32, h: i32, grey: bool) -> Vec<u8> {
    let mut b = b"BM".to_vec();
    b.extend_from_slice(&1080u32.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&(54u32 + 1024).to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&w.to_le_bytes());
    b.extend_from_slice(&h.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&8u16.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes()); // BI_RLE8
    b.extend_from_slice(&[0; 20]);
    for i in 0..256u32 {
        let i = i as u8;
        b.extend_from_slice(&if grey {
            [i, i, i, 0]
        } else {
            [i, 255 - i, 128, 0]
        });
    }
    b.extend_from_slice(&[0, 1]);
    b
}

/// A white RGB PNG of `w` x `h` px, compressed as well as zlib does: 100 megapixels in about
/// 300 KB.
fn blank_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = png::Encoder::new(&mut out, w, h);
    e.set_color(png::ColorType::Rgb);
    e.set_compression(png::Compression::High);
    let mut header = e.write_header().unwrap();
    let mut writer = header.stream_writer().unwrap();
    let row = vec![255u8; w as usize * 3];
    for _ in 0..h {
        std::io::Write::write_all(&mut writer, &row).unwrap();
    }
    writer.finish().unwrap();
    header.finish().unwrap();
    out
}

fn client_with_timeout(sb: &Sandbox, timeout_ms: u64) -> Client {
    let mut c: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    c["timeout_ms"] = timeout_ms.into();
    Client::new(Config::from_value(c).unwrap()).unwrap()
}

#[test]
fn fitting_counts_inside_the_deadline_and_a_timeout_sends_nothing() {
    // 10 000 x 10 000 px (within the 100-megapixel cap) in files of 1 KB to 1.2 MB: each takes
    // longer than its timeout (250 ms; 100 ms for the grey one) to decode and scale (a release
    // build too), so each call ends at its deadline, typed.
    let sb = Sandbox::start().unwrap();
    let timeout_ms = 250;
    let c = client_with_timeout(&sb, timeout_ms);
    let jpeg = flat_jpeg(10_000, 10_000);
    assert!(jpeg.len() < 1_200_000, "{}", jpeg.len());
    let bmp = rle8_bmp(10_000, 10_000, false);
    assert_eq!(bmp.len(), 1080);
    // Grey (a third of the work): a release build takes over 200 ms, so 100 ms for it.
    let grey_bmp = rle8_bmp(10_000, 10_000, true);
    let quick = client_with_timeout(&sb, 100);
    let png = blank_png(10_000, 10_000);
    assert!(png.len() < 400_000, "{}", png.len());
    for (name, image, c, timeout_ms) in [
        ("jpeg", &jpeg, &c, timeout_ms),
        ("bmp", &bmp, &c, timeout_ms),
        ("png", &png, &c, timeout_ms),
        ("grey bmp", &grey_bmp, &quick, 100),
    ] {
        let started = std::time::Instant::now();
        let e = c.recognize_shopping_receipt(image).unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(e.code, ErrorCode::Timeout, "{name}: {e}");
        assert!(!e.possibly_billed && e.attempts == 0, "{name}: {e:?}");
        // The deadline + 30 %, and at least 75 ms more (the 100 ms case on a loaded machine).
        let bound = std::time::Duration::from_millis((timeout_ms * 13 / 10).max(timeout_ms + 75));
        assert!(elapsed <= bound, "{name}: {elapsed:?} > {bound:?}");
    }
    assert_eq!(sb.stats().juhe_requests, 0);
    // With time enough, the same JPEG is fitted and sent (the PNG and BMP are measured by
    // bench/compare.py: 100 megapixels take seconds in this unoptimized build).
    let patient = client_with_timeout(&sb, 120_000);
    let sent = patient
        .recognize_shopping_receipt(&jpeg)
        .unwrap()
        .image
        .unwrap()
        .sent;
    assert_eq!((sent.width, sent.height), (Some(4096), Some(4096)));
    assert_eq!(sb.stats().juhe_requests, 1);
}

#[test]
fn a_jpeg_whose_data_ends_early_is_refused_before_any_request() {
    let sb = Sandbox::start().unwrap();
    let c = client(&sb, "auto");
    // Decoded scaled (5000 px > 4096), requantized (4032 px, over the size limit), and a
    // file that lacks only its end-of-image mark.
    let long = jpeg(5000, 3000, 90);
    let phone = jpeg(4032, 3024, 95);
    assert!(phone.len() > 4_718_592, "{}", phone.len());
    let flat = flat_jpeg(10_000, 10_000);
    for (name, image) in [
        ("5000x3000 cut at 10 %", &long[..long.len() / 10]),
        ("5000x3000 cut at 90 %", &long[..long.len() * 9 / 10]),
        ("4032x3024 cut at 50 %", &phone[..phone.len() / 2]),
        ("4032x3024 without its EOI", &phone[..phone.len() - 2]),
        ("10000x10000 cut at 60 %", &flat[..flat.len() * 6 / 10]),
    ] {
        let e = c.recognize_shopping_receipt(image).unwrap_err();
        assert_eq!(e.code, ErrorCode::ImageCorrupt, "{name}: {e}");
        assert!(e.message.contains("ends early"), "{name}: {e}");
    }
    // Truncated PNG and BMP files are refused the same way.
    let png = png_image(3000, 2000);
    let e = c
        .recognize_shopping_receipt(&png[..png.len() / 2])
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ImageCorrupt, "png: {e}");
    let b = bmp(5000, 3000);
    let e = c
        .recognize_shopping_receipt(&b[..b.len() - 100])
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ImageCorrupt, "bmp: {e}");
    assert_eq!(sb.stats().juhe_requests, 0);
}
