//! A PNG's rows, as RGB, through the png crate (feature `fit`).

use super::{corrupt, error, to_rgb, truncated, Rows, MAX_INTERLACED_PNG_BYTES};
use crate::error::{Error, ErrorCode, Result};

/// A PNG's rows (an interlaced PNG is decoded whole first: its rows come in passes).
pub(super) struct PngRows<'a> {
    reader: png::Reader<std::io::Cursor<&'a [u8]>>,
    width: usize,
    height: usize,
    channels: usize,
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

    fn next(&mut self, row: &mut [u8]) -> Result<()> {
        let line = self.width * self.channels;
        if let Some(whole) = &self.whole {
            to_rgb(
                &whole[self.y * line..(self.y + 1) * line],
                self.channels,
                row,
            );
        } else {
            let r = self.reader.next_row().map_err(png_error)?;
            let r = r.ok_or_else(truncated)?;
            to_rgb(r.data(), self.channels, row);
        }
        self.y += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        // Data after the last row is not needed (the end chunk may be missing).
        Ok(())
    }
}
