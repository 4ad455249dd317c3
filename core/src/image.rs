//! Preflight: what a file is and how large, read from its magic bytes and header only,
//! so that a bad image is refused before any (paid) request is made.

use std::borrow::Cow;
use std::path::Path;

use crate::error::{Error, ErrorCode, Result};

/// Images larger than this are refused, whether a file (without being read), bytes or a
/// stream: no provider takes them, and fitting one (a BMP scan, a 48-megapixel photo) to the
/// limits starts from at most this much.
pub const MAX_IMAGE_LEN: u64 = 64 * 1024 * 1024;

/// An image format, known by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageFormat {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// BMP.
    Bmp,
    /// PDF (ChinaUMS reads its pages).
    Pdf,
    /// GIF (recognized to be refused).
    Gif,
    /// WebP (recognized to be refused).
    Webp,
    /// TIFF (recognized to be refused).
    Tiff,
    /// HEIC/HEIF (an iPhone's photos), recognized to say what to do with it.
    Heic,
    /// AVIF, recognized to say what to do with it.
    Avif,
}

impl ImageFormat {
    /// Its name in messages and results (`"jpeg"`).
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Png => "png",
            ImageFormat::Bmp => "bmp",
            ImageFormat::Pdf => "pdf",
            ImageFormat::Gif => "gif",
            ImageFormat::Webp => "webp",
            ImageFormat::Tiff => "tiff",
            ImageFormat::Heic => "heic",
            ImageFormat::Avif => "avif",
        }
    }

    /// The file name extensions of this format, lower case (`["jpg", "jpeg"]`).
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            ImageFormat::Jpeg => &["jpg", "jpeg"],
            ImageFormat::Png => &["png"],
            ImageFormat::Bmp => &["bmp"],
            ImageFormat::Pdf => &["pdf"],
            ImageFormat::Gif => &["gif"],
            ImageFormat::Webp => &["webp"],
            ImageFormat::Tiff => &["tif", "tiff"],
            ImageFormat::Heic => &["heic", "heif"],
            ImageFormat::Avif => &["avif"],
        }
    }

    /// The format of a file, from its first bytes (a dozen are enough); `None` for a file
    /// that is none of these.
    pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
        match inspect(bytes) {
            Ok(info) => Some(info.format),
            Err(_) => [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Bmp]
                .into_iter()
                .find(|f| match f {
                    ImageFormat::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
                    ImageFormat::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
                    _ => bytes.starts_with(b"BM"),
                }),
        }
    }

    /// What to do with an image of this format that a provider does not take.
    pub fn conversion_hint(self) -> &'static str {
        match self {
            ImageFormat::Heic => {
                "export it as JPEG (iPhone: Settings > Camera > Formats > Most Compatible takes \
                 JPEG photos; Photos on Windows or Preview on a Mac: Save as / Export as JPEG)"
            }
            ImageFormat::Pdf => "export the PDF's page as PNG or JPEG (receipts take images only)",
            _ => "convert it to JPEG or PNG",
        }
    }
}

/// The formats Juhe's receipt OCR accepts.
pub const JUHE_FORMATS: &[ImageFormat] = &[ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Bmp];
/// The formats ChinaUMS's invoice OCR accepts.
pub const CHINAUMS_FORMATS: &[ImageFormat] =
    &[ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Pdf];

/// What preflight learned about an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageInfo {
    /// The format, from the magic bytes.
    pub format: ImageFormat,
    /// Width and height in pixels; `None` for PDF.
    pub size: Option<(u32, u32)>,
}

/// An image to recognize: bytes in memory or a file to read.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ImageSource<'a> {
    /// The image's bytes.
    Bytes(&'a [u8]),
    /// A file, read when the call starts.
    Path(&'a Path),
}

impl<'a> From<&'a [u8]> for ImageSource<'a> {
    fn from(b: &'a [u8]) -> Self {
        ImageSource::Bytes(b)
    }
}
impl<'a> From<&'a Vec<u8>> for ImageSource<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        ImageSource::Bytes(b)
    }
}
impl<'a, const N: usize> From<&'a [u8; N]> for ImageSource<'a> {
    fn from(b: &'a [u8; N]) -> Self {
        ImageSource::Bytes(b)
    }
}
impl<'a> From<&'a Path> for ImageSource<'a> {
    fn from(p: &'a Path) -> Self {
        ImageSource::Path(p)
    }
}
impl<'a> From<&'a std::path::PathBuf> for ImageSource<'a> {
    fn from(p: &'a std::path::PathBuf) -> Self {
        ImageSource::Path(p)
    }
}

impl<'a> ImageSource<'a> {
    /// The image's bytes: borrowed, or read from the file.
    pub fn load(self) -> Result<Cow<'a, [u8]>> {
        let bytes = match self {
            ImageSource::Bytes(b) => Cow::Borrowed(b),
            ImageSource::Path(p) => Cow::Owned(read_file(p)?),
        };
        if bytes.len() as u64 > MAX_IMAGE_LEN {
            return Err(too_large(&format!("{} bytes", bytes.len())));
        }
        if bytes.is_empty() {
            return Err(Error::new(
                ErrorCode::ImageEmpty,
                "the image is empty (0 bytes)",
            ));
        }
        Ok(bytes)
    }
}

fn too_large(what: &str) -> Error {
    Error::new(
        ErrorCode::ImageTooLarge,
        format!("the image is {what}; the largest accepted is {MAX_IMAGE_LEN} bytes"),
    )
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    // The path as bytes, escaped where it is not UTF-8; the OS error in English (never the
    // host's locale), its number in `os_error`.
    let shown = crate::text::display_path(path);
    let unreadable = |e: std::io::Error| {
        let os = crate::os_error::describe(&e);
        Error::new(
            ErrorCode::ImageUnreadable,
            format!("cannot read image file {shown}: {}", os.text),
        )
        .with_os_error(os.code)
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorCode::ImageUnreadable,
            format!("image path {shown} is not a regular file"),
        ));
    }
    if meta.len() > MAX_IMAGE_LEN {
        return Err(too_large(&format!("file {shown} of {} bytes", meta.len())));
    }
    // At most one byte more than the limit, even if the file grew since its size was read.
    let mut data = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_IMAGE_LEN + 1).read_to_end(&mut data))
        .map_err(unreadable)?;
    Ok(data)
}

fn corrupt(format: ImageFormat, what: &str) -> Error {
    Error::new(
        ErrorCode::ImageCorrupt,
        format!("the {} header is {what}", format.name()),
    )
}

fn be16(b: &[u8], i: usize) -> u32 {
    u32::from(u16::from_be_bytes([b[i], b[i + 1]]))
}
fn le16(b: &[u8], i: usize) -> u32 {
    u32::from(u16::from_le_bytes([b[i], b[i + 1]]))
}
fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}
fn le32(b: &[u8], i: usize) -> i32 {
    i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Identify an image by its magic bytes and read its dimensions from the header.
pub fn inspect(bytes: &[u8]) -> Result<ImageInfo> {
    if bytes.is_empty() {
        return Err(Error::new(
            ErrorCode::ImageEmpty,
            "the image is empty (0 bytes)",
        ));
    }
    let format = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        ImageFormat::Png
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        ImageFormat::Jpeg
    } else if bytes.starts_with(b"BM") {
        ImageFormat::Bmp
    } else if bytes.starts_with(b"%PDF-") {
        ImageFormat::Pdf
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        ImageFormat::Gif
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        ImageFormat::Webp
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        ImageFormat::Tiff
    } else if let Some(format) = iso_media_image(bytes) {
        format
    } else {
        return Err(Error::new(
            ErrorCode::ImageFormatUnsupported,
            "the file is not an image piaoju recognizes (jpeg, png, bmp or pdf)",
        ));
    };
    let size = match format {
        ImageFormat::Png => Some(png_size(bytes)?),
        ImageFormat::Jpeg => Some(jpeg_size(bytes)?),
        ImageFormat::Bmp => Some(bmp_size(bytes)?),
        _ => None,
    };
    if let Some((w, h)) = size {
        if w == 0 || h == 0 {
            return Err(corrupt(format, "declaring a zero width or height"));
        }
    }
    Ok(ImageInfo { format, size })
}

/// HEIC/HEIF or AVIF: an ISO media file (`ftyp` box) whose brand is one of theirs.
fn iso_media_image(b: &[u8]) -> Option<ImageFormat> {
    if b.len() < 12 || &b[4..8] != b"ftyp" {
        return None;
    }
    match &b[8..12] {
        b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
            Some(ImageFormat::Heic)
        }
        b"avif" | b"avis" => Some(ImageFormat::Avif),
        _ => None,
    }
}

fn png_size(b: &[u8]) -> Result<(u32, u32)> {
    // signature (8), IHDR length (4), "IHDR" (4), width (4), height (4)
    if b.len() < 24 || &b[12..16] != b"IHDR" {
        return Err(corrupt(ImageFormat::Png, "truncated or missing IHDR"));
    }
    Ok((be32(b, 16), be32(b, 20)))
}

fn jpeg_size(b: &[u8]) -> Result<(u32, u32)> {
    let mut i = 2;
    loop {
        // skip fill bytes before a marker
        while i < b.len() && b[i] == 0xFF && i + 1 < b.len() && b[i + 1] == 0xFF {
            i += 1;
        }
        if i + 4 > b.len() || b[i] != 0xFF {
            return Err(corrupt(
                ImageFormat::Jpeg,
                "truncated before its frame header",
            ));
        }
        let marker = b[i + 1];
        if marker == 0xD9 || marker == 0xDA {
            return Err(corrupt(ImageFormat::Jpeg, "missing a frame header (SOF)"));
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = be16(b, i + 2) as usize;
        if len < 2 {
            return Err(corrupt(
                ImageFormat::Jpeg,
                "holding a segment of invalid length",
            ));
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            if i + 9 > b.len() || len < 7 {
                return Err(corrupt(ImageFormat::Jpeg, "truncated in its frame header"));
            }
            let h = be16(b, i + 5);
            let w = be16(b, i + 7);
            return Ok((w, h));
        }
        i += 2 + len;
    }
}

fn bmp_size(b: &[u8]) -> Result<(u32, u32)> {
    if b.len() < 26 {
        return Err(corrupt(ImageFormat::Bmp, "truncated"));
    }
    let dib = le32(b, 14);
    if dib == 12 {
        return Ok((le16(b, 18), le16(b, 20)));
    }
    if dib < 40 {
        return Err(corrupt(ImageFormat::Bmp, "of an unknown DIB header size"));
    }
    let w = le32(b, 18);
    let h = le32(b, 22);
    if w <= 0 || h == 0 || h == i32::MIN {
        return Err(corrupt(ImageFormat::Bmp, "declaring invalid dimensions"));
    }
    Ok((w as u32, h.unsigned_abs()))
}

/// The length of the standard, padded base64 text of `n` bytes.
pub fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Preflight for Juhe: jpg/jpeg/png/bmp (its size and sides are checked, or fitted, by
/// [`crate::fit::prepare`]).
pub fn preflight_juhe(bytes: &[u8]) -> Result<ImageInfo> {
    preflight(
        bytes,
        JUHE_FORMATS,
        "Juhe's receipt OCR takes jpg, jpeg, png and bmp",
    )
}

/// Preflight for ChinaUMS: png, jpg or pdf.
pub fn preflight_chinaums(bytes: &[u8]) -> Result<ImageInfo> {
    preflight(
        bytes,
        CHINAUMS_FORMATS,
        "ChinaUMS's invoice OCR takes png, jpg and pdf",
    )
}

/// The image's format and size, if the provider (`takes` says what it accepts) takes its
/// format; otherwise an error that names the format found and what to do with it.
fn preflight(bytes: &[u8], accepted: &[ImageFormat], takes: &str) -> Result<ImageInfo> {
    let info = inspect(bytes).map_err(|e| match e.code {
        ErrorCode::ImageFormatUnsupported => Error::new(e.code, format!("{}: {takes}", e.message))
            .with_hint(format!("give an image it takes ({takes})")),
        _ => e,
    })?;
    if !accepted.contains(&info.format) {
        return Err(Error::new(
            ErrorCode::ImageFormatUnsupported,
            format!(
                "this image is {}: {takes}",
                info.format.name().to_ascii_uppercase()
            ),
        )
        .with_hint(info.format.conversion_hint()));
    }
    Ok(info)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    pub fn jpeg_header(w: u16, h: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        v.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        v.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8]);
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&[1, 1, 0x11, 0, 0xFF, 0xD9]);
        v
    }

    fn bmp_header(w: i32, h: i32) -> Vec<u8> {
        let mut v = b"BM".to_vec();
        v.extend_from_slice(&[0; 12]);
        v.extend_from_slice(&40i32.to_le_bytes());
        v.extend_from_slice(&w.to_le_bytes());
        v.extend_from_slice(&h.to_le_bytes());
        v.extend_from_slice(&[0; 28]);
        v
    }

    #[test]
    fn photos_the_providers_do_not_take_are_named_with_what_to_do() {
        let heic = [&[0, 0, 0, 0x18][..], b"ftypheic", &[0; 12]].concat();
        let e = preflight_juhe(&heic).unwrap_err();
        assert_eq!(e.code, ErrorCode::ImageFormatUnsupported);
        assert_eq!(
            e.message,
            "this image is HEIC: Juhe's receipt OCR takes jpg, jpeg, png and bmp"
        );
        assert!(
            e.hint().unwrap().contains("export it as JPEG"),
            "{:?}",
            e.hint()
        );
        let avif = [&[0, 0, 0, 0x18][..], b"ftypavif", &[0; 12]].concat();
        assert_eq!(inspect(&avif).unwrap().format, ImageFormat::Avif);
        let webp = [b"RIFF".as_slice(), &[0; 4], b"WEBPVP8 ", &[0; 8]].concat();
        let e = preflight_chinaums(&webp).unwrap_err();
        assert!(
            e.message.starts_with("this image is WEBP: ChinaUMS"),
            "{}",
            e.message
        );
        assert_eq!(e.hint(), Some("convert it to JPEG or PNG"));
        let e = preflight_juhe(b"%PDF-1.7 ...").unwrap_err();
        assert!(e.hint().unwrap().contains("receipts take images only"));
        let e = preflight_juhe(b"hello, not an image").unwrap_err();
        assert_eq!(
            e.message,
            "the file is not an image piaoju recognizes (jpeg, png, bmp or pdf): Juhe's \
             receipt OCR takes jpg, jpeg, png and bmp"
        );
    }

    #[test]
    fn reads_dimensions_of_each_format() {
        assert_eq!(
            inspect(&png_header(640, 480)).unwrap().size,
            Some((640, 480))
        );
        assert_eq!(
            inspect(&jpeg_header(300, 20)).unwrap().size,
            Some((300, 20))
        );
        assert_eq!(inspect(&bmp_header(50, -40)).unwrap().size, Some((50, 40)));
        let pdf = inspect(b"%PDF-1.4\n").unwrap();
        assert_eq!((pdf.format, pdf.size), (ImageFormat::Pdf, None));
        assert_eq!(inspect(b"GIF89a....").unwrap().format, ImageFormat::Gif);
    }

    #[test]
    fn corrupt_and_unknown_headers() {
        assert_eq!(inspect(b"").unwrap_err().code, ErrorCode::ImageEmpty);
        assert_eq!(
            inspect(b"hello").unwrap_err().code,
            ErrorCode::ImageFormatUnsupported
        );
        assert_eq!(
            inspect(&png_header(1, 1)[..20]).unwrap_err().code,
            ErrorCode::ImageCorrupt
        );
        assert_eq!(
            inspect(&png_header(0, 10)).unwrap_err().code,
            ErrorCode::ImageCorrupt
        );
        assert_eq!(
            inspect(&jpeg_header(10, 10)[..12]).unwrap_err().code,
            ErrorCode::ImageCorrupt
        );
        assert_eq!(
            inspect(&[0xFF, 0xD8, 0xFF, 0xD9]).unwrap_err().code,
            ErrorCode::ImageCorrupt
        );
        assert_eq!(
            inspect(b"BM\0\0").unwrap_err().code,
            ErrorCode::ImageCorrupt
        );
    }

    #[test]
    fn juhe_limits_name_limit_and_value() {
        let preflight_juhe = |b: &[u8]| -> Result<ImageInfo> {
            let info = super::preflight_juhe(b)?;
            let off = crate::fit::ImageFit::Off;
            let juhe = crate::Provider::Juhe;
            crate::fit::prepare(
                Cow::Borrowed(b),
                info,
                &crate::juhe::LIMITS,
                off,
                juhe,
                None,
            )?;
            Ok(info)
        };
        let e = preflight_juhe(&png_header(14, 100)).unwrap_err();
        assert_eq!(e.code, ErrorCode::ImageTooSmall);
        assert!(
            e.message.contains("14x100") && e.message.contains("15 px"),
            "{}",
            e.message
        );
        let e = preflight_juhe(&png_header(4097, 100)).unwrap_err();
        assert_eq!(e.code, ErrorCode::ImageDimensionsTooLarge);
        assert!(
            e.message.contains("4097x100") && e.message.contains("4096"),
            "{}",
            e.message
        );
        assert!(preflight_juhe(&png_header(15, 4096)).is_ok());
        let e = preflight_juhe(b"%PDF-1.4").unwrap_err();
        assert_eq!(e.code, ErrorCode::ImageFormatUnsupported);
        // 4.5 MiB of raw bytes is exactly 6 MiB of base64: accepted; one more byte is not.
        let mut big = png_header(100, 100);
        big.resize(crate::spec::JUHE_MAX_BASE64_LEN / 4 * 3, 0);
        assert!(preflight_juhe(&big).is_ok());
        big.push(0);
        let e = preflight_juhe(&big).unwrap_err();
        assert_eq!(e.code, ErrorCode::ImageTooLarge);
        assert!(
            e.message.contains("6291460") && e.message.contains("6291456"),
            "{}",
            e.message
        );
    }

    #[test]
    fn chinaums_formats() {
        assert!(preflight_chinaums(b"%PDF-1.7").is_ok());
        assert!(preflight_chinaums(&jpeg_header(10, 10)).is_ok());
        assert_eq!(
            preflight_chinaums(&bmp_header(100, 100)).unwrap_err().code,
            ErrorCode::ImageFormatUnsupported
        );
    }

    #[test]
    fn files() {
        let dir = std::env::temp_dir().join(format!("piaoju-img-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.png");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(
            ImageSource::Path(&empty).load().unwrap_err().code,
            ErrorCode::ImageEmpty
        );
        let missing = dir.join("missing.png");
        let e = ImageSource::Path(&missing).load().unwrap_err();
        assert_eq!(e.code, ErrorCode::ImageUnreadable);
        assert!(e.message.contains("missing.png"));
        assert_eq!(
            ImageSource::Path(&dir).load().unwrap_err().code,
            ErrorCode::ImageUnreadable
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
