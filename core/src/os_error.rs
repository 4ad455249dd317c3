//! Operating-system errors in English. The C library's `strerror` (and so Rust's `Display` of
//! an `io::Error`, and the resolver's `gai_strerror`) follows the host's locale: a plugin in a
//! Chinese or German ERP would put `没有那个文件或目录` or `Datei oder Verzeichnis nicht
//! gefunden` into piaoju's messages, in the host's code page. Messages say it in English
//! instead, from a table of errno names (or the `io::ErrorKind`), and the number goes into the
//! error's `os_error` field.

use std::io;

/// An OS error said in English, and its number (`errno`, or the Windows error code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OsError {
    pub text: String,
    pub code: Option<i32>,
}

/// Linux errno values: their names and what they mean, as glibc's English texts say it.
#[cfg(any(target_os = "linux", target_os = "android"))]
const ERRNO: &[(i32, &str, &str)] = &[
    (1, "EPERM", "operation not permitted"),
    (2, "ENOENT", "no such file or directory"),
    (4, "EINTR", "interrupted system call"),
    (5, "EIO", "input/output error"),
    (6, "ENXIO", "no such device or address"),
    (9, "EBADF", "bad file descriptor"),
    (11, "EAGAIN", "resource temporarily unavailable"),
    (12, "ENOMEM", "cannot allocate memory"),
    (13, "EACCES", "permission denied"),
    (16, "EBUSY", "device or resource busy"),
    (19, "ENODEV", "no such device"),
    (20, "ENOTDIR", "not a directory"),
    (21, "EISDIR", "is a directory"),
    (22, "EINVAL", "invalid argument"),
    (23, "ENFILE", "too many open files in system"),
    (24, "EMFILE", "too many open files"),
    (26, "ETXTBSY", "text file busy"),
    (27, "EFBIG", "file too large"),
    (28, "ENOSPC", "no space left on device"),
    (30, "EROFS", "read-only file system"),
    (32, "EPIPE", "broken pipe"),
    (36, "ENAMETOOLONG", "file name too long"),
    (40, "ELOOP", "too many levels of symbolic links"),
    (71, "EPROTO", "protocol error"),
    (
        97,
        "EAFNOSUPPORT",
        "address family not supported by protocol",
    ),
    (98, "EADDRINUSE", "address already in use"),
    (99, "EADDRNOTAVAIL", "cannot assign requested address"),
    (100, "ENETDOWN", "network is down"),
    (101, "ENETUNREACH", "network is unreachable"),
    (103, "ECONNABORTED", "software caused connection abort"),
    (104, "ECONNRESET", "connection reset by peer"),
    (105, "ENOBUFS", "no buffer space available"),
    (107, "ENOTCONN", "transport endpoint is not connected"),
    (110, "ETIMEDOUT", "connection timed out"),
    (111, "ECONNREFUSED", "connection refused"),
    (112, "EHOSTDOWN", "host is down"),
    (113, "EHOSTUNREACH", "no route to host"),
    (116, "ESTALE", "stale file handle"),
    (122, "EDQUOT", "disk quota exceeded"),
];

#[cfg(not(any(target_os = "linux", target_os = "android")))]
const ERRNO: &[(i32, &str, &str)] = &[];

/// What the OS said, in English: `no such file or directory (ENOENT: os error 2)`.
pub(crate) fn describe(e: &io::Error) -> OsError {
    match e.raw_os_error() {
        Some(n) => {
            let text = match ERRNO.iter().find(|(code, ..)| *code == n) {
                // No comma: messages land in CSV files read by simple tools.
                Some((_, name, meaning)) => format!("{meaning} ({name}: os error {n})"),
                // ErrorKind's text is Rust's own English, never the C library's.
                None => format!("{} (os error {n})", e.kind()),
            };
            OsError {
                text,
                code: Some(n),
            }
        }
        // An error made by Rust code, in English. (The resolver's, whose text is the C
        // library's gai_strerror in the host's locale, is described here too, but `http`
        // knows a lookup's failure by its type, drops this text and says it in its own words.)
        None => OsError {
            text: e.to_string(),
            code: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_are_english_with_their_number() {
        let missing = std::fs::read("/nonexistent-piaoju/x.png").unwrap_err();
        let d = describe(&missing);
        assert_eq!(d.code, missing.raw_os_error());
        #[cfg(target_os = "linux")]
        assert_eq!(d.text, "no such file or directory (ENOENT: os error 2)");
        // A number outside the table: the kind's English text.
        let odd = describe(&io::Error::from_raw_os_error(4000));
        assert_eq!(odd.code, Some(4000));
        assert!(odd.text.ends_with("(os error 4000)"), "{}", odd.text);
        // Errors made by Rust code keep their (English) text and have no number.
        let own = describe(&io::Error::new(
            io::ErrorKind::InvalidData,
            "bad certificate",
        ));
        assert_eq!(
            own,
            OsError {
                text: "bad certificate".into(),
                code: None
            }
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_table_holds_each_number_once() {
        let mut seen = std::collections::HashSet::new();
        for (n, name, _) in ERRNO {
            assert!(seen.insert(*n), "{n} {name}");
        }
    }
}
