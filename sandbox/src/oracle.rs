//! The sandbox's own reading of what a client sends: image headers, Juhe's limits and the
//! Beijing clock. Written independently of the client's code on purpose: the sandbox is the
//! client's test oracle, so a bug in the client's header parser or limits must not pass here.

use std::time::{SystemTime, UNIX_EPOCH};

/// Juhe's documented limits, as the sandbox enforces them.
pub(crate) const JUHE_BASE64_LIMIT: usize = 6 << 20;
pub(crate) const JUHE_SIDES: std::ops::RangeInclusive<u32> = 15..=4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Jpeg,
    Png,
    Bmp,
    Pdf,
    /// GIF, WebP or TIFF: images no provider here accepts.
    OtherImage,
    Other,
}

/// The kind of a file by its first bytes, and its pixel size when its header gives one
/// (`None` for PDF, unknown files and headers that are cut short or inconsistent).
pub(crate) fn sniff(b: &[u8]) -> (FileKind, Option<(u32, u32)>) {
    match b {
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => (FileKind::Png, png(b)),
        [0xFF, 0xD8, 0xFF, ..] => (FileKind::Jpeg, jpeg(b)),
        [b'B', b'M', ..] => (FileKind::Bmp, bmp(b)),
        [b'%', b'P', b'D', b'F', b'-', ..] => (FileKind::Pdf, None),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..]
        | [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..]
        | [b'I', b'I', b'*', 0, ..]
        | [b'M', b'M', 0, b'*', ..] => (FileKind::OtherImage, None),
        _ => (FileKind::Other, None),
    }
}

fn u32_at(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    })
}

fn u16_at(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let bytes: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(u32::from(if big_endian {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    }))
}

fn nonzero((w, h): (u32, u32)) -> Option<(u32, u32)> {
    (w > 0 && h > 0).then_some((w, h))
}

fn png(b: &[u8]) -> Option<(u32, u32)> {
    // The first chunk must be IHDR: length, type, then width and height.
    if b.get(12..16)? != b"IHDR" {
        return None;
    }
    nonzero((u32_at(b, 16, true)?, u32_at(b, 20, true)?))
}

fn jpeg(b: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while b.get(at) == Some(&0xFF) && b.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if *b.get(at)? != 0xFF {
            return None;
        }
        let marker = *b.get(at + 1)?;
        match marker {
            0xD8 | 0x01 | 0xD0..=0xD7 => at += 2,
            0xD9 | 0xDA => return None,
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                // SOFn: length, precision, height, width.
                let h = u16_at(b, at + 5, true)?;
                let w = u16_at(b, at + 7, true)?;
                return nonzero((w, h));
            }
            _ => {
                let len = u16_at(b, at + 2, true)? as usize;
                if len < 2 {
                    return None;
                }
                at += 2 + len;
            }
        }
    }
}

fn bmp(b: &[u8]) -> Option<(u32, u32)> {
    match u32_at(b, 14, false)? {
        12 => nonzero((u16_at(b, 18, false)?, u16_at(b, 20, false)?)),
        n if n >= 40 => {
            let w = u32_at(b, 18, false)? as i32;
            let h = u32_at(b, 22, false)? as i32;
            // A negative height is a top-down bitmap.
            (w > 0 && h != 0 && h != i32::MIN).then(|| (w as u32, h.unsigned_abs()))
        }
        _ => None,
    }
}

/// `yyyyMMddHHmmss` in Beijing time (UTC+8), counted year by year from 1970.
pub(crate) fn beijing_stamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) + 8 * 3600;
    let mut days = secs / 86_400;
    let leap = |y: u64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let mut year = 1970;
    while days >= if leap(year) { 366 } else { 365 } {
        days -= if leap(year) { 366 } else { 365 };
        year += 1;
    }
    let months = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut month = 0;
    while days >= months[month] {
        days -= months[month];
        month += 1;
    }
    let s = secs % 86_400;
    format!(
        "{year:04}{:02}{:02}{:02}{:02}{:02}",
        month + 1,
        days + 1,
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sizes_from_headers() {
        let mut png_header = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png_header.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 20]);
        assert_eq!(sniff(&png_header), (FileKind::Png, Some((256, 20))));
        assert_eq!(sniff(&png_header[..20]), (FileKind::Png, None));
        let jpeg_header = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0, 30, 0, 40,
        ];
        assert_eq!(sniff(&jpeg_header), (FileKind::Jpeg, Some((40, 30))));
        assert_eq!(sniff(b"%PDF-1.4"), (FileKind::Pdf, None));
        assert_eq!(sniff(b"GIF89a"), (FileKind::OtherImage, None));
        assert_eq!(sniff(b"hello"), (FileKind::Other, None));
    }

    #[test]
    fn clock() {
        let t = UNIX_EPOCH + Duration::from_secs(1_747_880_130);
        assert_eq!(beijing_stamp(t), "20250522101530");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_222_399); // 2024-02-29T15:59:59Z
        assert_eq!(beijing_stamp(t), "20240229235959");
    }
}
