//! Text that crosses to a host whose strings are not UTF-8 (a GBK code page, an ANSI API):
//! ASCII-only JSON (`ascii_json`), byte-order marks before JSON, and file names shown
//! unambiguously when they are not UTF-8.

use std::borrow::Cow;
use std::fmt::Write;
use std::path::Path;

/// The same JSON text in pure ASCII: every character outside ASCII becomes a `\uXXXX` escape
/// (a surrogate pair beyond the Basic Multilingual Plane). Once parsed it is the same value as
/// the input, and it survives any code-page conversion of the host.
///
/// `json` must be JSON text (as serde_json writes it): characters outside ASCII occur only
/// inside strings there, where `\uXXXX` means the same character. Text that is already ASCII
/// is returned as it is.
pub fn ascii_json(json: &str) -> Cow<'_, str> {
    if json.is_ascii() {
        return Cow::Borrowed(json);
    }
    let extra = json.bytes().filter(|b| !b.is_ascii()).count() * 4;
    let mut out = String::with_capacity(json.len() + extra);
    let mut units = [0u16; 2];
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    Cow::Owned(out)
}

/// The text without a leading UTF-8 byte-order mark (Notepad's "UTF-8" saves one).
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A path for a message or a result, lossless and unambiguous: on Unix, a file name is bytes.
/// A UTF-8 name shows as it is, but for each control character as `\xNN`; a name that is not
/// UTF-8 (GBK bytes, as unzip leaves a Windows archive's names) is in no known encoding, so it
/// shows ASCII as it is and every other byte as `\xNN` (never as a character that its bytes
/// happen to make). A backslash shows as `\\`. Two different paths never show the same.
/// Elsewhere, the path as the system displays it.
pub fn display_path(path: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        let mut out = String::with_capacity(bytes.len());
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                for c in text.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        c if c.is_control() => {
                            for b in c.encode_utf8(&mut [0; 4]).bytes() {
                                let _ = write!(out, "\\x{b:02X}");
                            }
                        }
                        c => out.push(c),
                    }
                }
            }
            Err(_) => {
                for &b in bytes {
                    match b {
                        b'\\' => out.push_str("\\\\"),
                        b if b.is_ascii() && !b.is_ascii_control() => out.push(char::from(b)),
                        b => {
                            let _ = write!(out, "\\x{b:02X}");
                        }
                    }
                }
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_becomes_escapes_and_parses_to_the_same_value() {
        let v = serde_json::json!({"shop_name": "多又好超市", "emoji": "票😀", "plain": "a\"b\\c"});
        let text = v.to_string();
        let ascii = ascii_json(&text);
        assert!(ascii.is_ascii(), "{ascii}");
        assert!(ascii.contains("\\u591a\\u53c8"), "{ascii}");
        // Beyond the BMP: a surrogate pair.
        assert!(ascii.contains("\\ud83d\\ude00"), "{ascii}");
        let back: serde_json::Value = serde_json::from_str(&ascii).unwrap();
        assert_eq!(back, v);
        assert!(matches!(ascii_json("{\"a\":1}"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_bom_is_stripped_once_and_only_at_the_start() {
        assert_eq!(strip_bom("\u{feff}{}"), "{}");
        assert_eq!(strip_bom("{}"), "{}");
        assert_eq!(strip_bom("\u{feff}\u{feff}{}"), "\u{feff}{}");
        assert_eq!(strip_bom(" \u{feff}{}"), " \u{feff}{}");
    }

    #[cfg(unix)]
    #[test]
    fn paths_that_are_not_utf8_show_every_byte() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let show = |b: &[u8]| display_path(Path::new(OsStr::from_bytes(b)));
        // 发票1.png and 单票1.png in GBK: different names, different messages. Every byte that
        // is not ASCII is escaped, 票 (C6 B1) too, although those two bytes alone happen to be
        // valid UTF-8 (for Ʊ): the name is in no known encoding.
        let fa = show(b"/tmp/\xb7\xa2\xc6\xb11.png");
        let dan = show(b"/tmp/\xb5\xa5\xc6\xb11.png");
        assert_eq!(fa, "/tmp/\\xB7\\xA2\\xC6\\xB11.png");
        assert_eq!(dan, "/tmp/\\xB5\\xA5\\xC6\\xB11.png");
        assert_eq!(show("/tmp/发票.png".as_bytes()), "/tmp/发票.png");
        // A literal backslash cannot pass for an escaped byte, nor a newline for a line break.
        assert_eq!(show(b"/tmp/\\xB7"), "/tmp/\\\\xB7");
        assert_eq!(show(b"/tmp/a\nb"), "/tmp/a\\x0Ab");
    }
}
