//! The C ABI of piaoju. Every body runs inside a panic boundary; every pointer is checked.
//! Parsing, preflight and error mapping all happen in the core crate: this layer only moves
//! bytes and strings across the boundary.

#![allow(non_camel_case_types)]
// Raw pointers are checked for NULL before use in every function; the safety contract for
// non-NULL pointers is in each function's documentation (the generated header).
#![allow(clippy::missing_safety_doc)]

use std::ffi::{c_char, CStr, CString};
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use piaoju_core::boundary::catch_panic;
use piaoju_core::{Client, Config, DocumentType, Error, ErrorCode};

/// An OCR client: configuration, connection pool and access-token cache.
///
/// Opaque. Thread-safe: one client may be used from many threads at once.
/// Create with pj_client_new(), destroy with pj_client_free().
pub struct pj_client {
    inner: Client,
}

fn invalid(msg: &str) -> Error {
    Error::new(ErrorCode::InvalidArgument, msg)
}

/// Allocate a C string for the caller. JSON never holds a NUL byte (serde escapes it), but a
/// stray one is replaced rather than trusted.
fn to_c_string(s: String) -> *mut c_char {
    match CString::new(s) {
        Ok(c) => c.into_raw(),
        Err(e) => {
            let cleaned: Vec<u8> = e.into_vec().into_iter().filter(|&b| b != 0).collect();
            CString::new(cleaned).expect("NUL bytes removed").into_raw()
        }
    }
}

unsafe fn write_out(out: *mut *mut c_char, s: String) {
    if !out.is_null() {
        *out = to_c_string(s);
    }
}

unsafe fn borrow_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(invalid(&format!("{what} is NULL")));
    }
    CStr::from_ptr(p)
        .to_str()
        .map_err(|_| invalid(&format!("{what} is not valid UTF-8")))
}

unsafe fn borrow_client<'a>(client: *const pj_client) -> Result<&'a Client, Error> {
    if client.is_null() {
        return Err(invalid("client is NULL"));
    }
    Ok(&(*client).inner)
}

unsafe fn borrow_bytes<'a>(p: *const u8, len: usize) -> Result<&'a [u8], Error> {
    if p.is_null() {
        return Err(invalid("image is NULL"));
    }
    if len > isize::MAX as usize {
        return Err(invalid("image_len is out of range"));
    }
    Ok(std::slice::from_raw_parts(p, len))
}

/// The panic boundary of every function that reports through a JSON out-parameter: runs `body`,
/// writes its result (or the error) as JSON into `*out`, returns the status.
unsafe fn guard_json(
    out: *mut *mut c_char,
    body: impl FnOnce() -> Result<String, Error>,
) -> ErrorCode {
    match catch_panic(body) {
        Ok(json) => {
            write_out(out, json);
            ErrorCode::Ok
        }
        Err(e) => {
            write_out(out, e.to_json());
            e.code
        }
    }
}

/// Create a client.
///
/// `config_json`: the configuration JSON (README, "Configuration"), borrowed for the call. A
/// JSON object is the whole configuration ("{}" is empty; the environment is not read); NULL
/// reads the PIAOJU_* environment variables instead; anything else is PJ_STATUS_INVALID_CONFIG.
/// `out_client`: receives the new client on success (owned by the caller, free it with
/// pj_client_free()); left untouched on failure. Must not be NULL.
/// `out_error_json`: may be NULL. On failure receives the error JSON (free it with
/// pj_string_free()); on success is set to NULL.
///
/// Returns PJ_STATUS_OK, or a usage status (invalid JSON, unknown key, wrong type, NULL
/// `out_client`, invalid UTF-8). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pj_client_new(
    config_json: *const c_char,
    out_client: *mut *mut pj_client,
    out_error_json: *mut *mut c_char,
) -> ErrorCode {
    let created = catch_panic(|| {
        if out_client.is_null() {
            return Err(invalid("out_client is NULL"));
        }
        let text = if config_json.is_null() {
            None
        } else {
            Some(borrow_str(config_json, "config_json")?)
        };
        let config = Config::resolve(text)?;
        Client::new(config)
    });
    match created {
        Ok(client) => {
            *out_client = Box::into_raw(Box::new(pj_client { inner: client }));
            if !out_error_json.is_null() {
                *out_error_json = std::ptr::null_mut();
            }
            ErrorCode::Ok
        }
        Err(e) => {
            write_out(out_error_json, e.to_json());
            e.code
        }
    }
}

/// Destroy a client. NULL is ignored. The client must not be in use by another thread, and
/// must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn pj_client_free(client: *mut pj_client) {
    if !client.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(client))));
    }
}

/// Where the image of a recognize call comes from.
enum ImageArg {
    Bytes(*const u8, usize),
    Path(*const c_char),
}

/// The shared body of the four recognize functions.
unsafe fn recognize(
    client: *const pj_client,
    document_type: DocumentType,
    image: ImageArg,
    out_json: *mut *mut c_char,
) -> ErrorCode {
    guard_json(out_json, || {
        if out_json.is_null() {
            // The result would be lost: refuse before anything is sent (and paid for).
            return Err(invalid("out_json is NULL"));
        }
        let client = borrow_client(client)?;
        let document = match image {
            ImageArg::Bytes(p, len) => client.recognize(document_type, borrow_bytes(p, len)?)?,
            ImageArg::Path(p) => {
                client.recognize(document_type, Path::new(borrow_str(p, "path")?))?
            }
        };
        Ok(document.to_json())
    })
}

/// Recognize a shopping receipt (Juhe) from image bytes in memory.
///
/// `client`: borrowed; may be shared by several threads at once. `image`/`image_len`: the file's
/// bytes (jpg, png or bmp), borrowed for the call.
/// `out_json`: must not be NULL (PJ_STATUS_INVALID_ARGUMENT before anything is sent); always
/// set, to the receipt JSON on success or to the error JSON on failure; free it with
/// pj_string_free().
/// Returns PJ_STATUS_OK or the error's status. Blocks for at most the configured timeout.
#[no_mangle]
pub unsafe extern "C" fn pj_recognize_shopping_receipt(
    client: *const pj_client,
    image: *const u8,
    image_len: usize,
    out_json: *mut *mut c_char,
) -> ErrorCode {
    recognize(
        client,
        DocumentType::ShoppingReceipt,
        ImageArg::Bytes(image, image_len),
        out_json,
    )
}

/// Recognize a shopping receipt (Juhe) from an image file.
///
/// `path`: UTF-8 path, borrowed for the call. Otherwise as pj_recognize_shopping_receipt().
#[no_mangle]
pub unsafe extern "C" fn pj_recognize_shopping_receipt_file(
    client: *const pj_client,
    path: *const c_char,
    out_json: *mut *mut c_char,
) -> ErrorCode {
    recognize(
        client,
        DocumentType::ShoppingReceipt,
        ImageArg::Path(path),
        out_json,
    )
}

/// Recognize a used-car sales invoice (ChinaUMS) from image bytes in memory (png, jpg or pdf).
///
/// Ownership, thread-safety and failure behaviour as pj_recognize_shopping_receipt().
#[no_mangle]
pub unsafe extern "C" fn pj_recognize_used_car_invoice(
    client: *const pj_client,
    image: *const u8,
    image_len: usize,
    out_json: *mut *mut c_char,
) -> ErrorCode {
    recognize(
        client,
        DocumentType::UsedCarInvoice,
        ImageArg::Bytes(image, image_len),
        out_json,
    )
}

/// Recognize a used-car sales invoice (ChinaUMS) from a file (png, jpg or pdf).
///
/// Ownership, thread-safety and failure behaviour as pj_recognize_shopping_receipt_file().
#[no_mangle]
pub unsafe extern "C" fn pj_recognize_used_car_invoice_file(
    client: *const pj_client,
    path: *const c_char,
    out_json: *mut *mut c_char,
) -> ErrorCode {
    recognize(
        client,
        DocumentType::UsedCarInvoice,
        ImageArg::Path(path),
        out_json,
    )
}

/// One call, JSON in and JSON out, for hosts that can only pass strings.
///
/// `request_json` (borrowed): {"config": {...}, "operation": "shopping_receipt" |
/// "used_car_invoice", "image_path": "..." | "image_base64": "..."}. A "config" object is the
/// whole configuration; without a "config" key the PIAOJU_* environment variables are read.
/// Returns {"ok": true, "result": {...}} or {"ok": false, "error": {...}}; never NULL, even for
/// NULL or malformed input. The caller owns the result: free it with pj_string_free().
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pj_call(request_json: *const c_char) -> *mut c_char {
    let out = catch_panic(|| {
        let text = borrow_str(request_json, "request_json")?;
        Ok(piaoju_core::call_json(text))
    });
    to_c_string(out.unwrap_or_else(|e| format!("{{\"ok\":false,\"error\":{}}}", e.to_json())))
}

/// Free a string returned by this library. NULL is ignored. Each string is freed once.
#[no_mangle]
pub unsafe extern "C" fn pj_string_free(s: *mut c_char) {
    if !s.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(CString::from_raw(s))));
    }
}

/// The library version ("MAJOR.MINOR.PATCH"), equal to PIAOJU_VERSION of the header this
/// library was built with. Static: never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn pj_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The stable name of a status ("ok", "image_too_small", ...), or "unknown" for a value that is
/// not a status. Any value may be passed. Static: never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn pj_status_name(status: MaybeUninit<ErrorCode>) -> *const c_char {
    // SAFETY: ErrorCode is repr(u32): the argument is any 32-bit value from C, read as such
    // and matched against the catalogue, never trusted as an ErrorCode.
    let raw: u32 = unsafe { std::mem::transmute::<MaybeUninit<ErrorCode>, u32>(status) };
    let name = match ErrorCode::from_u32(raw) {
        Some(code) => code.name(),
        None => "unknown",
    };
    STATUS_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| c.as_ptr())
        .unwrap_or(c"unknown".as_ptr())
}

/// NUL-terminated copies of every status name, built once.
static STATUS_NAMES: std::sync::LazyLock<Vec<(&'static str, CString)>> =
    std::sync::LazyLock::new(|| {
        ErrorCode::ALL
            .iter()
            .map(|c| (c.name(), CString::new(c.name()).expect("names have no NUL")))
            .collect()
    });
