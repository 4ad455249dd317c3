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
use std::sync::Arc;

use piaoju_core::bindings::{ascii_json, ascii_json_hint, catch_panic, Handles};
use piaoju_core::{Client, Config, DocumentType, Error, ErrorCode};

/// An OCR client: configuration, connection pool and access-token cache.
///
/// Opaque: a handle, never dereferenced by the library. Thread-safe: one client may be used
/// from many threads at once. Create with pj_client_new(), release with pj_client_free().
///
/// Handle rules: a handle names its client until pj_client_free(). Calls in flight when it is
/// freed end normally (or by their deadline); the client's memory, connections and files go
/// with the last of them. A freed handle, or a pointer that never came from pj_client_new(),
/// is refused with PJ_STATUS_INVALID_ARGUMENT ("client was freed or is not a client"), never
/// undefined behaviour; freeing it again does nothing. Handles are not reused.
pub struct pj_client {
    _opaque: [u8; 0],
}

/// The live clients, by handle.
static CLIENTS: Handles<Client> = Handles::new();

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

/// JSON for the host: pure ASCII when asked (`ascii_json`).
fn json_for_host(json: String, ascii: bool) -> String {
    if ascii {
        ascii_json(&json).into_owned()
    } else {
        json
    }
}

unsafe fn write_out(out: *mut *mut c_char, s: String, ascii: bool) {
    if !out.is_null() {
        *out = to_c_string(json_for_host(s, ascii));
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

/// A file path as the host gives it: on Unix its bytes, whatever their encoding (a file name
/// is bytes there; GBK-named files are read); elsewhere UTF-8, which the system converts
/// (Windows: to UTF-16).
unsafe fn borrow_path<'a>(p: *const c_char) -> Result<&'a Path, Error> {
    if p.is_null() {
        return Err(invalid("path is NULL"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(Path::new(std::ffi::OsStr::from_bytes(
            CStr::from_ptr(p).to_bytes(),
        )))
    }
    #[cfg(not(unix))]
    {
        Ok(Path::new(borrow_str(p, "path")?))
    }
}

/// The client a handle names, kept alive for the call.
fn client_of(client: *const pj_client) -> Result<Arc<Client>, Error> {
    if client.is_null() {
        return Err(invalid("client is NULL"));
    }
    CLIENTS.get(client as usize).ok_or_else(|| {
        invalid(
            "client was freed or is not a client (pj_client_free() was called on it, or it did not come from pj_client_new())",
        )
    })
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

/// Create a client.
///
/// `config_json`: the configuration JSON (docs/configuration.md), borrowed for the call; a
/// leading UTF-8 byte-order mark is ignored. A JSON object is the whole configuration ("{}" is
/// empty; the environment is not read); NULL reads the PIAOJU_* environment variables instead;
/// anything else is PJ_STATUS_INVALID_CONFIG.
/// `out_client`: receives the new client's handle on success (owned by the caller: release it
/// with pj_client_free(), once); left untouched on failure. Must not be NULL.
/// `out_error_json`: may be NULL. On failure receives the error JSON (free it with
/// pj_string_free()); on success is set to NULL. The error JSON is pure ASCII when the
/// configuration says "ascii_json": true, or (if it says nothing about it, is not JSON, or is
/// NULL) when PIAOJU_ASCII_JSON=1.
///
/// Returns PJ_STATUS_OK, or a usage status (invalid JSON, unknown key, wrong type, NULL
/// `out_client`, invalid UTF-8). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pj_client_new(
    config_json: *const c_char,
    out_client: *mut *mut pj_client,
    out_error_json: *mut *mut c_char,
) -> ErrorCode {
    // The configuration's ascii_json, once it is known.
    let mut ascii = None;
    let created = catch_panic(|| {
        if out_client.is_null() {
            return Err(invalid("out_client is NULL"));
        }
        let text = if config_json.is_null() {
            None
        } else {
            Some(borrow_str(config_json, "config_json")?)
        };
        let config = Config::resolve(text).inspect_err(|_| {
            ascii = Some(ascii_json_hint(text));
        })?;
        ascii = Some(config.ascii_json);
        Client::new(config)
    });
    match created {
        Ok(client) => {
            *out_client = CLIENTS.insert(client) as *mut pj_client;
            if !out_error_json.is_null() {
                *out_error_json = std::ptr::null_mut();
            }
            ErrorCode::Ok
        }
        Err(e) => {
            let ascii = ascii.unwrap_or_else(|| ascii_json_hint(None));
            write_out(out_error_json, e.to_json(), ascii);
            e.code
        }
    }
}

/// Release a client's handle. NULL, a handle already released and a pointer that is not a
/// client are ignored. Safe while other threads are calling with this client: their calls end
/// normally (or by their deadline), and the client goes with the last of them. The handle
/// must not be used afterwards (a call with it gets PJ_STATUS_INVALID_ARGUMENT). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pj_client_free(client: *mut pj_client) {
    if !client.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| CLIENTS.remove(client as usize)));
    }
}

/// Where the image of a recognize call comes from.
enum ImageArg {
    Bytes(*const u8, usize),
    Path(*const c_char),
}

/// The shared body of the four recognize functions: runs inside the panic boundary, writes
/// the result (or the error) as JSON into `*out_json`, returns the status.
unsafe fn recognize(
    client: *const pj_client,
    document_type: DocumentType,
    image: ImageArg,
    out_json: *mut *mut c_char,
) -> ErrorCode {
    let mut ascii = false;
    let outcome = catch_panic(|| {
        if out_json.is_null() {
            // The result would be lost: refuse before anything is sent (and paid for).
            return Err(invalid("out_json is NULL"));
        }
        let client = client_of(client)?;
        ascii = client.config().ascii_json;
        let document = match image {
            ImageArg::Bytes(p, len) => client.recognize(document_type, borrow_bytes(p, len)?)?,
            ImageArg::Path(p) => client.recognize(document_type, borrow_path(p)?)?,
        };
        Ok(document.to_json())
    });
    match outcome {
        Ok(json) => {
            write_out(out_json, json, ascii);
            ErrorCode::Ok
        }
        Err(e) => {
            write_out(out_json, e.to_json(), ascii);
            e.code
        }
    }
}

/// Recognize a shopping receipt (Juhe) from image bytes in memory.
///
/// `client`: a handle from pj_client_new(); may be shared by several threads at once, and
/// released by pj_client_free() during the call (the call ends normally). A freed handle or a
/// pointer that is not a client gives PJ_STATUS_INVALID_ARGUMENT.
/// `image`/`image_len`: the file's bytes (jpg, png or bmp), borrowed for the call.
/// `out_json`: must not be NULL (PJ_STATUS_INVALID_ARGUMENT before anything is sent); always
/// set, to the receipt JSON on success or to the error JSON on failure (pure ASCII when the
/// client's configuration has "ascii_json": true); free it with pj_string_free().
/// Returns PJ_STATUS_OK or the error's status. Blocks for at most the configured timeout:
/// never call it on a UI thread. Thread-safe.
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
/// `path`: NUL-terminated, borrowed for the call. On Unix (Linux, macOS) the bytes of the file
/// name as given, whatever their encoding: a name in GBK or any code page is read as the file
/// system holds it (a message shows bytes that are not UTF-8 as \xNN). On Windows, UTF-8,
/// converted to UTF-16 for the system (other code pages: not supported; pass the bytes with
/// pj_recognize_shopping_receipt() instead).
/// Otherwise as pj_recognize_shopping_receipt().
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
/// `request_json` (borrowed, UTF-8; a leading byte-order mark is ignored): {"config": {...},
/// "operation": "shopping_receipt" | "used_car_invoice", and one of "image_path": "..." (UTF-8,
/// as JSON text is), "image_path_hex": "..." (the path's bytes in hexadecimal, for a file name
/// that is not UTF-8; Unix) or "image_base64": "..."}. A "config" object is the whole
/// configuration; without a "config" key the PIAOJU_* environment variables are read.
/// Clients are kept for the next calls, one per (resolved) configuration, up to 16, the least
/// recently used going first: repeated calls with one configuration share its connections,
/// access token, rate limits (max_qps, max_in_flight), retry budget and cache.
/// Returns {"ok": true, "result": {...}} or {"ok": false, "error": {...}}; never NULL, even for
/// NULL or malformed input; pure ASCII when the configuration has "ascii_json": true (or, for
/// a request without "config" or one that cannot be read, PIAOJU_ASCII_JSON=1). The caller
/// owns the result: free it with pj_string_free(). Blocks for at most the configured timeout.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pj_call(request_json: *const c_char) -> *mut c_char {
    let out = catch_panic(|| {
        let text = borrow_str(request_json, "request_json")?;
        Ok(piaoju_core::bindings::call_json(text))
    });
    to_c_string(out.unwrap_or_else(|e| {
        json_for_host(
            format!("{{\"ok\":false,\"error\":{}}}", e.to_json()),
            ascii_json_hint(None),
        )
    }))
}

/// Free a string returned by this library (a char * result, error or pj_call() answer). NULL is
/// ignored. Each string is freed once, with this function only (never free(), a runtime's own
/// allocator or a string class's destructor). Thread-safe.
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
