//! Request bodies that carry an image as base64, streamed: encoded (and, for a form, escaped) a
//! chunk at a time as the connection takes them, with the exact length known beforehand, so a
//! call never holds a second, larger copy of the image.

use std::io::Read;

use base64::Engine;

/// Input bytes encoded per chunk: a multiple of 3, so only the last chunk has padding.
const CHUNK: usize = 3 * 4096;

/// Two base64 characters (12 bits of input), escaped for a form body, packed in 8 bytes: the
/// text (2 to 6 bytes) and, in the last byte, its length.
fn pair_table() -> &'static [u64; 4096] {
    static TABLE: std::sync::OnceLock<Box<[u64; 4096]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let escaped = |c: u8| -> Vec<u8> {
            match c {
                b'+' => b"%2B".to_vec(),
                b'/' => b"%2F".to_vec(),
                c => vec![c],
            }
        };
        let mut table = Box::new([0u64; 4096]);
        for (i, entry) in table.iter_mut().enumerate() {
            let mut text = escaped(ALPHABET[i >> 6]);
            text.extend(escaped(ALPHABET[i & 63]));
            let mut bytes = [0u8; 8];
            bytes[..text.len()].copy_from_slice(&text);
            bytes[7] = text.len() as u8;
            *entry = u64::from_le_bytes(bytes);
        }
        table
    })
}

fn escape_byte(out: &mut Vec<u8>, c: u8) {
    match c {
        b'+' => out.extend_from_slice(b"%2B"),
        b'/' => out.extend_from_slice(b"%2F"),
        b'=' => out.extend_from_slice(b"%3D"),
        c => out.push(c),
    }
}

/// Append the form-escaped base64 of `input` (whole 3-byte groups and, at the end, the padded
/// tail): each 12 bits are looked up as their two escaped characters and stored with one
/// unaligned 8-byte write.
fn append_escaped(out: &mut Vec<u8>, input: &[u8]) {
    let table = pair_table();
    let whole = input.len() / 3 * 3;
    // At most 6 bytes for each 12 bits, and 8 written at a time: room for the last write.
    out.reserve(whole / 3 * 12 + 8);
    let mut len = out.len();
    let base = out.as_mut_ptr();
    for group in input[..whole].chunks_exact(3) {
        let bits = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        for half in [bits >> 12, bits & 0xFFF] {
            let entry = table[half as usize];
            // SAFETY: `reserve` above left 12 bytes a group plus 8 beyond `len`; the 8 bytes
            // are written unaligned, and only the entry's length is kept.
            unsafe { base.add(len).cast::<u64>().write_unaligned(entry.to_le()) };
            len += (entry >> 56) as usize;
        }
    }
    // SAFETY: every byte below `len` was written above.
    unsafe { out.set_len(len) };
    let rest = &input[whole..];
    if !rest.is_empty() {
        let tail = base64::engine::general_purpose::STANDARD.encode(rest);
        for c in tail.bytes() {
            escape_byte(out, c);
        }
    }
}

/// How many of the two base64 characters of 12 input bits are escaped (0, 1 or 2).
fn escape_counts() -> &'static [u8; 4096] {
    static COUNTS: std::sync::OnceLock<Box<[u8; 4096]>> = std::sync::OnceLock::new();
    COUNTS.get_or_init(|| {
        let mut counts = Box::new([0u8; 4096]);
        for (i, c) in counts.iter_mut().enumerate() {
            // Sextets 62 and 63 are '+' and '/'.
            *c = u8::from(i >> 6 >= 62) + u8::from(i & 63 >= 62);
        }
        counts
    })
}

/// The length of [`append_escaped`]'s output for `input`, computed without writing it: four
/// characters a group, and two more for each escaped one.
fn escaped_len(input: &[u8]) -> u64 {
    let counts = escape_counts();
    let whole = input.len() / 3 * 3;
    let count = |g: &[u8]| -> u32 {
        let bits = u32::from(g[0]) << 16 | u32::from(g[1]) << 8 | u32::from(g[2]);
        u32::from(counts[(bits >> 12) as usize]) + u32::from(counts[(bits & 0xFFF) as usize])
    };
    // Four groups at a time (two 48-bit loads), the rest one by one.
    let blocks = input[..whole].chunks_exact(12);
    let rest: u64 = blocks
        .remainder()
        .chunks_exact(3)
        .map(|g| u64::from(count(g)))
        .sum();
    let escapes: u64 = blocks
        .map(|b| {
            let lo = u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]]);
            let hi = u64::from_be_bytes([0, 0, b[6], b[7], b[8], b[9], b[10], b[11]]);
            let c = |v: u64| -> u32 {
                u32::from(counts[(v >> 36) as usize & 0xFFF])
                    + u32::from(counts[(v >> 24) as usize & 0xFFF])
                    + u32::from(counts[(v >> 12) as usize & 0xFFF])
                    + u32::from(counts[v as usize & 0xFFF])
            };
            u64::from(c(lo) + c(hi))
        })
        .sum::<u64>()
        + rest;
    let mut n = whole as u64 / 3 * 4 + 2 * escapes;
    let rest = &input[whole..];
    if !rest.is_empty() {
        let tail = base64::engine::general_purpose::STANDARD.encode(rest);
        n += tail
            .bytes()
            .map(|c| {
                if matches!(c, b'+' | b'/' | b'=') {
                    3
                } else {
                    1
                }
            })
            .sum::<u64>();
    }
    n
}

/// How an image is written into a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Standard base64, `+ / =` percent-escaped for `application/x-www-form-urlencoded`.
    FormEscaped,
    /// Standard base64, as it is (inside a JSON string).
    Plain,
}

/// A body: `prefix`, the image's base64 in the given encoding, `suffix`; read as a stream.
#[derive(Debug)]
pub struct ImageBody<'a> {
    prefix: Vec<u8>,
    image: &'a [u8],
    suffix: &'static [u8],
    encoding: Encoding,
    len: u64,
    /// Where the next chunk of the image starts; then the prefix/suffix stage.
    next: usize,
    stage: Stage,
    buf: Vec<u8>,
    at: usize,
    /// Bytes handed to the transport so far.
    sent: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Prefix,
    Image,
    Suffix,
    Done,
}

impl<'a> ImageBody<'a> {
    pub fn new(
        prefix: Vec<u8>,
        image: &'a [u8],
        suffix: &'static [u8],
        encoding: Encoding,
    ) -> ImageBody<'a> {
        let encoded = match encoding {
            Encoding::FormEscaped => escaped_len(image),
            Encoding::Plain => crate::image::base64_len(image.len()) as u64,
        };
        ImageBody {
            len: prefix.len() as u64 + encoded + suffix.len() as u64,
            prefix,
            image,
            suffix,
            encoding,
            next: 0,
            stage: Stage::Prefix,
            buf: Vec::with_capacity(CHUNK / 3 * 4 * 3 + 16),
            at: 0,
            sent: 0,
        }
    }

    /// The exact number of bytes the body reads as (its Content-Length).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The same body, from its start (to send it again, or to sign it and then send it); its
    /// length is already known.
    pub fn restart(&self) -> ImageBody<'a> {
        ImageBody {
            prefix: self.prefix.clone(),
            image: self.image,
            suffix: self.suffix,
            encoding: self.encoding,
            len: self.len,
            next: 0,
            stage: Stage::Prefix,
            buf: Vec::with_capacity(self.buf.capacity()),
            at: 0,
            sent: 0,
        }
    }

    /// The bytes read from it so far (handed to the transport to send).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Fill `buf` with the next piece; false at the end.
    fn refill(&mut self) -> bool {
        self.buf.clear();
        self.at = 0;
        loop {
            match self.stage {
                Stage::Prefix => {
                    self.buf.extend_from_slice(&self.prefix);
                    self.stage = Stage::Image;
                }
                Stage::Image if self.next < self.image.len() => {
                    let end = (self.next + CHUNK).min(self.image.len());
                    let chunk = &self.image[self.next..end];
                    match self.encoding {
                        Encoding::FormEscaped => append_escaped(&mut self.buf, chunk),
                        Encoding::Plain => {
                            let start = self.buf.len();
                            self.buf
                                .resize(start + crate::image::base64_len(chunk.len()), 0);
                            base64::engine::general_purpose::STANDARD
                                .encode_slice(chunk, &mut self.buf[start..])
                                .expect("sized by base64_len");
                        }
                    }
                    self.next = end;
                }
                Stage::Image => self.stage = Stage::Suffix,
                Stage::Suffix => {
                    self.buf.extend_from_slice(self.suffix);
                    self.stage = Stage::Done;
                }
                Stage::Done => return !self.buf.is_empty(),
            }
            if !self.buf.is_empty() {
                return true;
            }
        }
    }

    /// The whole body in one buffer (tests and benchmarks).
    #[cfg(any(test, feature = "bench"))]
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len as usize);
        self.restart()
            .read_to_end(&mut out)
            .expect("reading from memory never fails");
        out
    }
}

impl Read for ImageBody<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at >= self.buf.len() && !self.refill() {
            return Ok(0);
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        self.sent += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_exact_for_every_size_and_both_encodings() {
        let data: Vec<u8> = (0..40_000u32)
            .map(|i| ((i * 97 + 13) ^ (i >> 3)) as u8)
            .collect();
        for n in (0..300).chain([CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 2, 20_000]) {
            for encoding in [Encoding::FormEscaped, Encoding::Plain] {
                let body = ImageBody::new(b"key=k&image=".to_vec(), &data[..n], b"", encoding);
                let bytes = body.to_vec();
                assert_eq!(bytes.len() as u64, body.len(), "{n} {encoding:?}");
                let text = String::from_utf8(bytes).unwrap();
                let b64 = base64::engine::general_purpose::STANDARD.encode(&data[..n]);
                let want = match encoding {
                    Encoding::Plain => b64,
                    Encoding::FormEscaped => b64
                        .replace('+', "%2B")
                        .replace('/', "%2F")
                        .replace('=', "%3D"),
                };
                assert_eq!(text, format!("key=k&image={want}"), "{n} {encoding:?}");
            }
        }
    }

    #[test]
    fn reads_of_any_size_give_the_same_bytes() {
        let data: Vec<u8> = (0..50_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
            .collect();
        let body = ImageBody::new(
            b"{\"picBase64\":\"".to_vec(),
            &data,
            b"\"}",
            Encoding::Plain,
        );
        let whole = body.to_vec();
        for size in [1, 7, 4096, 100_000] {
            let mut r = body.restart();
            let mut got = Vec::new();
            let mut buf = vec![0; size];
            loop {
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, whole, "{size}");
        }
    }
}
