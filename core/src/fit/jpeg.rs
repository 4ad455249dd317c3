//! JPEG through libjpeg-turbo's code (mozjpeg-sys builds it from source): decoding straight
//! to M/8 of the size, row by row; re-encoding a photo's own DCT coefficients at a lower
//! quality (and turning them upright) without decoding them to pixels; encoding RGB rows.
//!
//! libjpeg reports a fatal error by calling `error_exit`, which must not return: ours unwinds
//! with [`std::panic::resume_unwind`] (so no panic hook prints anything) to the
//! `catch_unwind` of [`run`] around the libjpeg call, and the struct is then only destroyed.
//! Warnings that say data is missing (the file ends early, a scan ends before its blocks) and
//! a deadline that runs out (checked by libjpeg's progress callback, once per row of blocks)
//! unwind the same way.

use std::ffi::{c_int, c_uint, c_ulong, c_void};
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use mozjpeg_sys as j;

use super::{Budget, Rows};
use crate::error::Result;

mod transcode;
pub(in crate::fit) use transcode::{transcode, Transcoded};

/// Why libjpeg stopped: the payload it unwinds with.
enum Stop {
    Failed(String),
    Truncated,
    Expired,
}

/// What libjpeg's callbacks can reach (through `client_data`).
struct Ctx<'b> {
    budget: &'b Budget<'b>,
}

fn run<T>(budget: &Budget<'_>, f: impl FnOnce() -> T) -> Result<T> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| match payload.downcast::<Stop>() {
        Ok(stop) => match *stop {
            Stop::Failed(m) => super::corrupt(m),
            Stop::Truncated => super::truncated(),
            Stop::Expired => budget.expired(),
        },
        Err(other) => panic::resume_unwind(other),
    })
}

unsafe extern "C-unwind" fn error_exit(cinfo: &mut j::jpeg_common_struct) {
    let buf = [0u8; 80];
    if let Some(format) = (*cinfo.err).format_message {
        format(cinfo, &buf);
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let message = String::from_utf8_lossy(&buf[..end]).into_owned();
    panic::resume_unwind(Box::new(Stop::Failed(message)))
}

unsafe extern "C-unwind" fn emit_message(cinfo: &mut j::jpeg_common_struct, level: c_int) {
    if level < 0 {
        let code = (*cinfo.err).msg_code;
        // The data ends early (no EOI: libjpeg would insert one and paint the rest grey), a
        // scan ends before its blocks, or restart markers are lost: data is missing.
        if code == j::JWRN_JPEG_EOF as c_int
            || code == j::JWRN_HIT_MARKER as c_int
            || code == j::JWRN_MUST_RESYNC as c_int
        {
            panic::resume_unwind(Box::new(Stop::Truncated));
        }
        (*cinfo.err).num_warnings += 1;
    }
}

unsafe extern "C-unwind" fn on_progress(cinfo: &mut j::jpeg_common_struct) {
    let ctx = &*(cinfo.client_data as *const Ctx<'_>);
    if ctx.budget.is_over() {
        panic::resume_unwind(Box::new(Stop::Expired));
    }
}

/// The error manager, progress callback and context of one libjpeg struct (boxed: libjpeg
/// keeps pointers to them).
struct Hooks<'b> {
    err: Box<j::jpeg_error_mgr>,
    progress: Box<j::jpeg_progress_mgr>,
    ctx: Box<Ctx<'b>>,
}

impl<'b> Hooks<'b> {
    fn new(budget: &'b Budget<'b>) -> Self {
        // SAFETY: both are plain C structs of integers, pointers and optional function
        // pointers, for which all-zero is a valid value; jpeg_std_error fills the first.
        let mut err: Box<j::jpeg_error_mgr> = Box::new(unsafe { std::mem::zeroed() });
        unsafe { j::jpeg_std_error(&mut err) };
        err.error_exit = Some(error_exit);
        err.emit_message = Some(emit_message);
        let mut progress: Box<j::jpeg_progress_mgr> = Box::new(unsafe { std::mem::zeroed() });
        progress.progress_monitor = Some(on_progress);
        Hooks {
            err,
            progress,
            ctx: Box::new(Ctx { budget }),
        }
    }

    fn attach(&mut self, common: &mut j::jpeg_common_struct) {
        common.err = &mut *self.err;
        common.progress = &mut *self.progress;
        common.client_data = (&*self.ctx as *const Ctx<'_>).cast_mut().cast::<c_void>();
    }
}

/// A libjpeg decompressor reading `bytes`.
struct Decompress<'a, 'b> {
    cinfo: Box<j::jpeg_decompress_struct>,
    hooks: Hooks<'b>,
    budget: &'b Budget<'b>,
    _bytes: PhantomData<&'a [u8]>,
}

impl<'a, 'b> Decompress<'a, 'b> {
    /// Reads the header.
    fn new(bytes: &'a [u8], budget: &'b Budget<'b>) -> Result<Self> {
        let mut hooks = Hooks::new(budget);
        // SAFETY: zeroed, then initialized by jpeg_create_decompress (which keeps `err`).
        let mut cinfo: Box<j::jpeg_decompress_struct> = Box::new(unsafe { std::mem::zeroed() });
        cinfo.common.err = &mut *hooks.err;
        run(budget, || unsafe { j::jpeg_create_decompress(&mut *cinfo) })?;
        hooks.attach(&mut cinfo.common);
        let mut d = Decompress {
            cinfo,
            hooks,
            budget,
            _bytes: PhantomData,
        };
        let cinfo = &mut *d.cinfo;
        run(budget, || unsafe {
            j::jpeg_mem_src(cinfo, bytes.as_ptr(), bytes.len() as c_ulong);
            j::jpeg_read_header(cinfo, 1);
        })?;
        Ok(d)
    }

    fn size(&self) -> (usize, usize) {
        (
            self.cinfo.image_width as usize,
            self.cinfo.image_height as usize,
        )
    }
}

impl Drop for Decompress<'_, '_> {
    fn drop(&mut self) {
        let cinfo = &mut *self.cinfo;
        let _ = run(self.budget, || unsafe { j::jpeg_destroy_decompress(cinfo) });
        let _ = &self.hooks;
    }
}

/// A JPEG's rows, decoded at `num`/8 of its size, as grey (a one-component JPEG) or RGB.
pub(super) struct JpegRows<'a, 'b> {
    d: Decompress<'a, 'b>,
    /// CMYK output (Adobe's inverted when true) converted to RGB here.
    cmyk: Option<bool>,
    /// 1 (grey) or 3.
    channels: usize,
    buf: Vec<u8>,
    width: usize,
    height: usize,
}

/// The width and height a decode at `num`/8 gives (libjpeg rounds up).
pub(super) fn scaled(width: usize, height: usize, num: usize) -> (usize, usize) {
    ((width * num).div_ceil(8), (height * num).div_ceil(8))
}

impl<'a, 'b> JpegRows<'a, 'b> {
    pub fn new(bytes: &'a [u8], num: usize, budget: &'b Budget<'b>) -> Result<Self> {
        let mut d = Decompress::new(bytes, budget)?;
        let cinfo = &mut *d.cinfo;
        let cmyk = match cinfo.jpeg_color_space {
            // Adobe's inverted CMYK: what CMYK JPEGs are in practice (Pillow assumes so too).
            j::J_COLOR_SPACE::JCS_CMYK | j::J_COLOR_SPACE::JCS_YCCK => Some(true),
            _ => None,
        };
        let grey =
            cinfo.num_components == 1 && cinfo.jpeg_color_space == j::J_COLOR_SPACE::JCS_GRAYSCALE;
        cinfo.out_color_space = if cmyk.is_some() {
            j::J_COLOR_SPACE::JCS_CMYK
        } else if grey {
            j::J_COLOR_SPACE::JCS_GRAYSCALE
        } else {
            j::J_COLOR_SPACE::JCS_RGB
        };
        cinfo.scale_num = num as c_uint;
        cinfo.scale_denom = 8;
        run(budget, || unsafe { j::jpeg_start_decompress(cinfo) })?;
        let (width, height) = (cinfo.output_width as usize, cinfo.output_height as usize);
        let components = cinfo.output_components as usize;
        Ok(JpegRows {
            d,
            cmyk,
            channels: if grey { 1 } else { 3 },
            buf: vec![0; width * components],
            width,
            height,
        })
    }
}

impl Rows for JpegRows<'_, '_> {
    fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn next(&mut self, row: &mut [u8]) -> Result<()> {
        let cinfo = &mut *self.d.cinfo;
        let target: &mut [u8] = if self.cmyk.is_some() {
            &mut self.buf
        } else {
            &mut *row
        };
        let mut ptr = target.as_mut_ptr();
        let read = run(self.d.budget, || unsafe {
            j::jpeg_read_scanlines(cinfo, &mut ptr, 1)
        })?;
        if read != 1 {
            return Err(super::truncated());
        }
        if let Some(inverted) = self.cmyk {
            for (px, cmyk) in row.chunks_exact_mut(3).zip(self.buf.chunks_exact(4)) {
                let k = u32::from(if inverted { cmyk[3] } else { 255 - cmyk[3] });
                for c in 0..3 {
                    let v = u32::from(if inverted { cmyk[c] } else { 255 - cmyk[c] });
                    px[c] = ((v * k + 127) / 255) as u8;
                }
            }
        }
        Ok(())
    }

    /// Reads to the end of the image: a file without its EOI is refused here.
    fn finish(&mut self) -> Result<()> {
        let cinfo = &mut *self.d.cinfo;
        run(self.d.budget, || unsafe {
            j::jpeg_finish_decompress(cinfo)
        })?;
        Ok(())
    }
}

/// A growing buffer as libjpeg's destination.
#[repr(C)]
struct VecDest {
    mgr: j::jpeg_destination_mgr,
    out: Vec<u8>,
}

unsafe extern "C-unwind" fn dest_init(cinfo: &mut j::jpeg_compress_struct) {
    let dest = &mut *(cinfo.dest as *mut VecDest);
    dest.out.clear();
    dest.mgr.next_output_byte = dest.out.as_mut_ptr();
    dest.mgr.free_in_buffer = dest.out.capacity();
}

unsafe extern "C-unwind" fn dest_empty(cinfo: &mut j::jpeg_compress_struct) -> j::boolean {
    // The whole buffer is full (libjpeg's contract): keep it and offer more room.
    let dest = &mut *(cinfo.dest as *mut VecDest);
    let len = dest.out.capacity();
    dest.out.set_len(len);
    dest.out.reserve(len.max(1 << 16));
    dest.mgr.next_output_byte = dest.out.as_mut_ptr().add(len);
    dest.mgr.free_in_buffer = dest.out.capacity() - len;
    1
}

unsafe extern "C-unwind" fn dest_term(cinfo: &mut j::jpeg_compress_struct) {
    let dest = &mut *(cinfo.dest as *mut VecDest);
    let len = dest.out.capacity() - dest.mgr.free_in_buffer;
    dest.out.set_len(len);
}

/// A libjpeg compressor writing into a Vec, with libjpeg-turbo's defaults (baseline,
/// standard tables).
struct Compress<'b> {
    cinfo: Box<j::jpeg_compress_struct>,
    dest: Box<VecDest>,
    _hooks: Hooks<'b>,
    budget: &'b Budget<'b>,
}

impl<'b> Compress<'b> {
    fn new(budget: &'b Budget<'b>, capacity: usize) -> Result<Self> {
        // The first buffer: what is expected, within reason (it grows as needed).
        let capacity = capacity.clamp(1 << 16, 64 << 20);
        let mut hooks = Hooks::new(budget);
        // SAFETY: as in Decompress::new.
        let mut cinfo: Box<j::jpeg_compress_struct> = Box::new(unsafe { std::mem::zeroed() });
        cinfo.common.err = &mut *hooks.err;
        run(budget, || unsafe { j::jpeg_create_compress(&mut *cinfo) })?;
        hooks.attach(&mut cinfo.common);
        let mut dest = Box::new(VecDest {
            // SAFETY: pointers and optional function pointers: zero is valid.
            mgr: unsafe { std::mem::zeroed() },
            out: Vec::with_capacity(capacity),
        });
        dest.mgr.init_destination = Some(dest_init);
        dest.mgr.empty_output_buffer = Some(dest_empty);
        dest.mgr.term_destination = Some(dest_term);
        cinfo.dest = &mut dest.mgr;
        let c = &mut *cinfo;
        run(budget, || unsafe {
            j::jpeg_c_set_int_param(
                c,
                j::J_INT_PARAM::JINT_COMPRESS_PROFILE,
                j::JCP_FASTEST as c_int,
            );
        })?;
        Ok(Compress {
            cinfo,
            dest,
            _hooks: hooks,
            budget,
        })
    }

    fn take(mut self) -> Vec<u8> {
        std::mem::take(&mut self.dest.out)
    }
}

impl Drop for Compress<'_> {
    fn drop(&mut self) {
        let cinfo = &mut *self.cinfo;
        let _ = run(self.budget, || unsafe { j::jpeg_destroy_compress(cinfo) });
    }
}

/// Encode grey (`channels` 1: one component) or RGB pixels (3: 4:2:0), rows top to bottom,
/// at `quality`, standard Huffman tables (optimized ones are 5 % smaller but cost a second
/// pass: measured, more than the encode).
pub(super) fn encode(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    quality: u8,
    budget: &Budget<'_>,
    capacity: usize,
) -> Result<Vec<u8>> {
    let mut c = Compress::new(budget, capacity)?;
    let cinfo = &mut *c.cinfo;
    cinfo.image_width = width as c_uint;
    cinfo.image_height = height as c_uint;
    cinfo.input_components = channels as c_int;
    cinfo.in_color_space = if channels == 1 {
        j::J_COLOR_SPACE::JCS_GRAYSCALE
    } else {
        j::J_COLOR_SPACE::JCS_RGB
    };
    run(budget, || unsafe {
        j::jpeg_set_defaults(cinfo);
        j::jpeg_set_quality(cinfo, c_int::from(quality), 1);
        j::jpeg_start_compress(cinfo, 1);
    })?;
    let stride = width * channels;
    const BATCH: usize = 16;
    let mut rows = [std::ptr::null::<u8>(); BATCH];
    let mut y = 0;
    while y < height {
        budget.check()?;
        let n = BATCH.min(height - y);
        for (i, r) in rows.iter_mut().take(n).enumerate() {
            *r = pixels[(y + i) * stride..].as_ptr();
        }
        let done = run(budget, || unsafe {
            j::jpeg_write_scanlines(cinfo, rows.as_ptr(), n as c_uint)
        })?;
        y += done as usize;
    }
    run(budget, || unsafe { j::jpeg_finish_compress(cinfo) })?;
    Ok(c.take())
}
