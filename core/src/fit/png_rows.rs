//! A PNG's rows, as grey or RGB, through the png crate (feature `fit`).

use super::{corrupt, error, to_grey, to_rgb, truncated, Rows, MAX_INTERLACED_PNG_BYTES};
use crate::error::{Error, ErrorCode, Result};

/// A PNG's rows (an interlaced PNG is decoded whole first: its rows come in passes).
pub(super) struct PngRows<'a> {
    reader: png::Reader<std::io::Cursor<&'a [u8]>>,
    width: usize,
    height: usize,
    /// Samples a pixel as decoded (after expansion).
    channels: usize,
    /// Grey rows: grey or grey-alpha (laid on white), or a palette of grey entries only and
    /// no transparency.
    grey: bool,
    whole: Option<Vec<u8>>,
    y: usize,
}

impl<'a> PngRows<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Result<Self> {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        decoder.set_limits(png::Limits {
            bytes: MAX_INTERLACED_PNG_BYTES,
        });
        let mut reader = decoder.read_info().map_err(png_error)?;
        let (width, height) = (reader.info().width as usize, reader.info().height as usize);
        let channels = reader.output_color_type().0.samples();
        let info = reader.info();
        let grey = match info.color_type {
            png::ColorType::Grayscale | png::ColorType::GrayscaleAlpha => true,
            png::ColorType::Indexed => {
                info.trns.is_none()
                    && channels == 3
                    && info
                        .palette
                        .as_ref()
                        .is_some_and(|p| p.chunks_exact(3).all(|c| c[0] == c[1] && c[1] == c[2]))
            }
            _ => false,
        };
        let whole = if reader.info().interlaced {
            let size = reader
                .output_buffer_size()
                .filter(|&n| n <= MAX_INTERLACED_PNG_BYTES)
                .ok_or_else(|| {
                    error(
                        ErrorCode::ImageTooComplex,
                        format!(
                            "the image is an interlaced PNG of {width}x{height} px; piaoju decodes interlaced PNGs of at most {MAX_INTERLACED_PNG_BYTES} bytes of pixels"
                        ),
                    )
                })?;
            let mut buf = vec![0; size];
            reader.next_frame(&mut buf).map_err(png_error)?;
            Some(buf)
        } else {
            None
        };
        Ok(PngRows {
            reader,
            width,
            height,
            channels,
            grey,
            whole,
            y: 0,
        })
    }
}

fn png_error(e: png::DecodingError) -> Error {
    match e {
        png::DecodingError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            truncated()
        }
        e => corrupt(e),
    }
}

impl Rows for PngRows<'_> {
    fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn channels(&self) -> usize {
        if self.grey {
            1
        } else {
            3
        }
    }

    fn next(&mut self, row: &mut [u8]) -> Result<()> {
        let line = self.width * self.channels;
        let convert = if self.grey { to_grey } else { to_rgb };
        if let Some(whole) = &self.whole {
            convert(
                &whole[self.y * line..(self.y + 1) * line],
                self.channels,
                row,
            );
        } else {
            let r = self.reader.next_row().map_err(png_error)?;
            let r = r.ok_or_else(truncated)?;
            convert(r.data(), self.channels, row);
        }
        self.y += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        // Data after the last row is not needed (the end chunk may be missing).
        Ok(())
    }
}
