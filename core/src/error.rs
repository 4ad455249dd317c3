//! The error catalogue: one list of stable numeric codes shared by Rust, C and Python.
//!
//! Codes are grouped in bands by their hundreds digit:
//! 1xx usage, 2xx image, 3xx transport, 4xx authentication, 5xx quota and rate,
//! 6xx service, 7xx recognition, 8xx response, 9xx internal.
//! A code is never renumbered; a retired code stays listed as a comment.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// Which provider an error or a result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Provider {
    /// 聚合数据 (Juhe): shopping receipts.
    Juhe,
    /// 银联商务 (ChinaUMS): used-car sales invoices.
    Chinaums,
}

impl Provider {
    /// `"juhe"`, `"chinaums"`: its name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Juhe => "juhe",
            Provider::Chinaums => "chinaums",
        }
    }

    /// The provider's name in messages (`"Juhe"`, `"ChinaUMS"`).
    pub fn label(self) -> &'static str {
        match self {
            Provider::Juhe => "Juhe",
            Provider::Chinaums => "ChinaUMS",
        }
    }
}

/// The band an error code belongs to (its hundreds digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Band {
    /// 0: success (not an error).
    Success,
    /// 1xx: the caller's input is wrong; nothing was sent.
    Usage,
    /// 2xx: the image was refused before any request.
    Image,
    /// 3xx: the request did not complete.
    Transport,
    /// 4xx: credentials refused.
    Auth,
    /// 5xx: quota or rate.
    Quota,
    /// 6xx: the provider failed or is unavailable.
    Service,
    /// 7xx: the provider could not recognize the document.
    Recognition,
    /// 8xx: the answer could not be understood.
    Response,
    /// 9xx: a bug in piaoju.
    Internal,
}

impl Band {
    /// The band's name in JSON (`"transport"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Success => "success",
            Band::Usage => "usage",
            Band::Image => "image",
            Band::Transport => "transport",
            Band::Auth => "auth",
            Band::Quota => "quota",
            Band::Service => "service",
            Band::Recognition => "recognition",
            Band::Response => "response",
            Band::Internal => "internal",
        }
    }
}

/// Stable status and error codes, one list for Rust, C (`pj_status`) and Python (`.code`).
///
/// `Ok` (0) is success and is never the code of an [`Error`]; it is listed so that C's
/// `pj_status` and this enum are one list. Written out literally (no macro) so that cbindgen
/// reads it into the C header with every doc comment.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Success.
    Ok = 0,

    // 1xx usage: the caller's input is wrong; nothing was sent.
    /// A required argument is missing, NULL, not valid UTF-8 or out of range.
    InvalidArgument = 100,
    /// The configuration is malformed: bad JSON, an unknown key, a value of the wrong type or an invalid URL.
    InvalidConfig = 101,
    /// The credentials for the provider being called are not configured.
    MissingCredentials = 102,
    /// A one-shot request (pj_call) is malformed: bad JSON, unknown key or operation.
    InvalidRequest = 103,

    // 2xx image: preflight rejected the image before any request was made.
    /// The image is empty (zero bytes).
    ImageEmpty = 200,
    /// The image file could not be read (missing, not a file, no permission).
    ImageUnreadable = 201,
    /// The image format is not accepted by this provider (or not recognized at all).
    ImageFormatUnsupported = 202,
    /// The image header is truncated or inconsistent; its size cannot be read.
    ImageCorrupt = 203,
    /// The image's base64 text exceeds the provider's size limit.
    ImageTooLarge = 204,
    /// The image's shortest side is below the provider's minimum.
    ImageTooSmall = 205,
    /// The image's longest side exceeds the provider's maximum.
    ImageDimensionsTooLarge = 206,
    /// The image's header claims more pixels than piaoju decodes to fit it (a decompression bomb).
    ImageTooComplex = 207,

    // 3xx transport: the request did not complete.
    /// The connection could not be established (refused, DNS failure, proxy unreachable).
    ConnectFailed = 300,
    /// The call did not complete before its deadline.
    Timeout = 301,
    /// TLS handshake or certificate verification failed.
    TlsFailed = 302,
    /// The connection broke while sending or receiving (closed, reset, truncated body).
    ConnectionBroken = 303,

    // 4xx authentication and authorization.
    /// Juhe 10001: the key is wrong.
    InvalidKey = 400,
    /// Juhe 10002: the key has no permission for this API.
    KeyNoPermission = 401,
    /// Juhe 10003: the key has expired.
    KeyExpired = 402,
    /// Juhe 10004: wrong OPENID.
    InvalidOpenId = 403,
    /// Juhe 10005: the application has not been verified.
    AppNotVerified = 404,
    /// Juhe 10007: unknown request source.
    UnknownRequestSource = 405,
    /// Juhe 10008: this IP address is banned.
    IpBanned = 406,
    /// Juhe 10009: this key is banned.
    KeyBanned = 407,
    /// ChinaUMS token endpoint refused to issue a token (errCode other than "0000").
    TokenRequestRejected = 410,
    /// ChinaUMS rejected the access token or the request signature (HTTP 401/403).
    AuthRejected = 411,

    // 5xx quota and rate.
    /// Juhe 10011: this IP is over its request limit.
    IpRateLimited = 500,
    /// Juhe 10012: the request quota is used up.
    QuotaExceeded = 501,
    /// Juhe 10013: the test key is over its request limit.
    TestKeyQuotaExceeded = 502,
    /// HTTP 429: the service asks to slow down.
    RateLimited = 503,

    // 6xx service: the provider failed or is unavailable.
    /// Juhe 10014: internal error of the service.
    ServiceInternalError = 600,
    /// Juhe 10020: the API is under maintenance.
    ServiceMaintenance = 601,
    /// Juhe 10021: the API is discontinued.
    ServiceDiscontinued = 602,
    /// The service answered HTTP 5xx without a readable JSON body.
    ServiceHttpError = 603,
    /// The provider answered an error code this library does not know; code and text are kept.
    ProviderError = 604,
    /// ChinaUMS 1: the recognition engine failed to load.
    EngineLoadFailed = 605,

    // 7xx recognition: the service could not recognize the document.
    /// ChinaUMS 3: classification failed; no document was detected in the image.
    NoDocumentDetected = 700,
    /// ChinaUMS 4: the PDF engine failed; the PDF could not be turned into an image.
    PdfConversionFailed = 701,
    /// ChinaUMS 6: the service could not read the file or tell its type.
    FileUnreadableByService = 702,
    /// ChinaUMS 9: the service does not accept this file type (png, jpg and pdf only).
    FileTypeRejected = 703,
    /// ChinaUMS 16: the image format or its base64 encoding is invalid.
    InvalidImageData = 704,
    /// ChinaUMS 27: the service rejected the request's headers or parameters.
    ParametersRejected = 705,
    /// The service succeeded but returned no document of the requested type.
    NothingRecognized = 706,

    // 8xx response: the answer could not be understood.
    /// The body is not JSON (or not UTF-8).
    MalformedResponse = 800,
    /// The body is JSON but not of the documented shape.
    UnexpectedResponse = 801,
    /// An HTTP status other than 2xx/5xx came without a readable body.
    UnexpectedHttpStatus = 802,

    // 9xx internal.
    /// A bug in piaoju. Please report it.
    Internal = 900,
    /// A panic was caught at the language boundary. Please report it.
    Panic = 901,
}

/// What the catalogue knows of a provider's own code: which error it is and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderCode {
    /// Whose code it is.
    pub provider: Provider,
    /// The provider's number (Juhe `error_code`, ChinaUMS answer code).
    pub code: i64,
    /// The provider's documented text for it.
    pub text: &'static str,
}

/// The catalogue: one row per code, `Variant name retryable [provider code text]`.
///
/// The numbers and doc comments are the enum's; everything else of a code is here. The
/// exhaustive `match`es generated below make a missing row a compile error and a repeated row an
/// unreachable-pattern lint; `ALL` is in the rows' order, which a test keeps numeric.
macro_rules! catalogue {
    ($( $variant:ident $name:literal $retry:ident $( $prov:ident $pcode:literal $ptext:literal )? ;)*) => {
        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The stable snake_case name (`"image_too_small"`).
            pub fn name(self) -> &'static str {
                match self { $(ErrorCode::$variant => $name,)* }
            }

            /// Whether the same call may succeed if retried later, unchanged.
            pub fn retryable(self) -> bool {
                match self { $(ErrorCode::$variant => catalogue!(@retry $retry),)* }
            }

            /// The provider code this error stands for, if it stands for one.
            pub fn provider_code(self) -> Option<ProviderCode> {
                match self {
                    $(ErrorCode::$variant => catalogue!(@code $($prov $pcode $ptext)?),)*
                }
            }
        }
    };
    (@retry retry) => { true };
    (@retry final) => { false };
    (@code) => { None };
    (@code $prov:ident $pcode:literal $ptext:literal) => {
        Some(ProviderCode { provider: Provider::$prov, code: $pcode, text: $ptext })
    };
}

catalogue! {
    Ok "ok" final;
    InvalidArgument "invalid_argument" final;
    InvalidConfig "invalid_config" final;
    MissingCredentials "missing_credentials" final;
    InvalidRequest "invalid_request" final;
    ImageEmpty "image_empty" final;
    ImageUnreadable "image_unreadable" final;
    ImageFormatUnsupported "image_format_unsupported" final;
    ImageCorrupt "image_corrupt" final;
    ImageTooLarge "image_too_large" final;
    ImageTooSmall "image_too_small" final;
    ImageDimensionsTooLarge "image_dimensions_too_large" final;
    ImageTooComplex "image_too_complex" final;
    ConnectFailed "connect_failed" retry;
    Timeout "timeout" retry;
    TlsFailed "tls_failed" final;
    ConnectionBroken "connection_broken" retry;
    InvalidKey "invalid_key" final Juhe 10001 "错误的请求KEY";
    KeyNoPermission "key_no_permission" final Juhe 10002 "该KEY无请求权限";
    KeyExpired "key_expired" final Juhe 10003 "KEY过期";
    InvalidOpenId "invalid_openid" final Juhe 10004 "错误的OPENID";
    AppNotVerified "app_not_verified" final Juhe 10005 "应用未审核超时，请提交认证";
    UnknownRequestSource "unknown_request_source" final Juhe 10007 "未知的请求源";
    IpBanned "ip_banned" final Juhe 10008 "被禁止的IP";
    KeyBanned "key_banned" final Juhe 10009 "被禁止的KEY";
    TokenRequestRejected "token_request_rejected" final;
    AuthRejected "auth_rejected" final;
    IpRateLimited "ip_rate_limited" retry Juhe 10011 "当前IP请求超过限制";
    QuotaExceeded "quota_exceeded" final Juhe 10012 "请求超过次数限制";
    TestKeyQuotaExceeded "test_key_quota_exceeded" final Juhe 10013 "测试KEY超过请求限制";
    RateLimited "rate_limited" retry;
    ServiceInternalError "service_internal_error" retry Juhe 10014 "系统内部异常";
    ServiceMaintenance "service_maintenance" retry Juhe 10020 "接口维护";
    ServiceDiscontinued "service_discontinued" final Juhe 10021 "接口停用";
    ServiceHttpError "service_http_error" retry;
    ProviderError "provider_error" final;
    EngineLoadFailed "engine_load_failed" retry Chinaums 1 "识别引擎加载错误";
    NoDocumentDetected "no_document_detected" final Chinaums 3 "图像分类失败;图片未检测到证件";
    PdfConversionFailed "pdf_conversion_failed" final Chinaums 4 "PDF引擎加载错误";
    FileUnreadableByService "file_unreadable_by_service" final Chinaums 6 "文件读取错误";
    FileTypeRejected "file_type_rejected" final Chinaums 9 "不支持的文件类型";
    InvalidImageData "invalid_image_data" final Chinaums 16 "图片格式或是base64不正确";
    ParametersRejected "parameters_rejected" final Chinaums 27 "参数输入有误";
    NothingRecognized "nothing_recognized" final;
    MalformedResponse "malformed_response" final;
    UnexpectedResponse "unexpected_response" final;
    UnexpectedHttpStatus "unexpected_http_status" final;
    Internal "internal" final;
    Panic "panic" final;
}

impl ErrorCode {
    /// The code for a number, if it is one.
    pub fn from_u32(n: u32) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_u32() == n)
    }

    /// The numeric value (the same number as C's `pj_status`).
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// The code's band (its hundreds digit).
    pub fn band(self) -> Band {
        match self as u32 / 100 {
            0 => Band::Success,
            1 => Band::Usage,
            2 => Band::Image,
            3 => Band::Transport,
            4 => Band::Auth,
            5 => Band::Quota,
            6 => Band::Service,
            7 => Band::Recognition,
            8 => Band::Response,
            _ => Band::Internal,
        }
    }

    /// The error a provider's code stands for: its own entry, or [`ErrorCode::ProviderError`]
    /// for a code the catalogue does not know.
    pub fn from_provider(provider: Provider, code: i64) -> ErrorCode {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| {
                c.provider_code()
                    .is_some_and(|p| p.provider == provider && p.code == code)
            })
            .unwrap_or(ErrorCode::ProviderError)
    }

    /// Every provider code the catalogue knows, in numeric order of the error codes.
    pub fn provider_codes() -> impl Iterator<Item = (ErrorCode, ProviderCode)> {
        ErrorCode::ALL
            .iter()
            .filter_map(|&c| c.provider_code().map(|p| (c, p)))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an error carries beyond its fields, boxed so that an error stays small.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Details {
    /// The answer's `Retry-After`.
    pub retry_after: Option<std::time::Duration>,
    /// The answer's body, when the error is the provider's verdict on the image itself (no
    /// document detected, …): the cache keeps it so that a rerun does not pay for it again.
    pub verdict: Option<Vec<u8>>,
    /// What to do next (see [`Error::hint`]).
    pub hint: Option<String>,
}

/// Every failure of piaoju: a stable code, a message, and what the provider said.
///
/// Messages never contain a key, an app key or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Error {
    /// The stable code (also C's `pj_status` and Python's `.code`).
    pub code: ErrorCode,
    /// What happened, in English, never with a secret.
    pub message: String,
    /// The provider the call was for, if it got that far.
    pub provider: Option<Provider>,
    /// The provider's own code (Juhe `error_code`, ChinaUMS `errCode` or answer code).
    pub provider_code: Option<String>,
    /// The provider's own text for it (at most 500 characters).
    pub provider_message: Option<String>,
    /// The HTTP status of the answer, if there was one.
    pub http_status: Option<u16>,
    /// Requests made for the call (retries included); 0 when it failed before any.
    pub attempts: u32,
    /// Whether the provider may have processed (and billed) a request of the call: a timeout
    /// or a broken connection after the request was sent, a 5xx, an unreadable answer.
    pub possibly_billed: bool,
    /// The provider's verdict came from the result cache (recorded by an earlier call for
    /// the same image): nothing was sent for it this time.
    pub cached: bool,
    /// The operating system's error number when an OS error caused this one (`errno` on Unix,
    /// the error code on Windows): a file that cannot be read, a refused connection. The
    /// message says it in English, never in the host's locale.
    pub os_error: Option<i32>,
    /// What the error carries beyond its fields, if anything.
    pub(crate) details: Option<Box<Details>>,
    /// Nothing was processed: the provider refused the request for its rate, or the call
    /// gave up waiting for it. A batch sends the image again when the provider is ready.
    pub(crate) refused: bool,
}

impl Error {
    /// An error of this code and message, nothing else known.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        debug_assert!(code != ErrorCode::Ok, "Ok is not an error code");
        Error {
            code,
            message: message.into(),
            provider: None,
            provider_code: None,
            provider_message: None,
            http_status: None,
            attempts: 0,
            possibly_billed: false,
            cached: false,
            os_error: None,
            details: None,
            refused: false,
        }
    }

    /// Mark the error as one after which the provider may have processed the request.
    pub(crate) fn possibly_billed(mut self) -> Error {
        self.possibly_billed = true;
        self
    }

    /// The same error, for this provider.
    pub fn with_provider(mut self, provider: Provider) -> Error {
        self.provider = Some(provider);
        self
    }

    /// The same error, with the provider's own code and text.
    pub fn with_provider_answer(
        mut self,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        self.provider_code = Some(code.into());
        self.provider_message = Some(message.into());
        self
    }

    /// The OS error number behind this error.
    pub fn with_os_error(mut self, code: Option<i32>) -> Error {
        self.os_error = code;
        self
    }

    /// The same error, with the answer's HTTP status.
    pub fn with_http_status(mut self, status: u16) -> Error {
        self.http_status = Some(status);
        self
    }

    /// The code's stable name (`"image_too_small"`).
    pub fn name(&self) -> &'static str {
        self.code.name()
    }

    /// What to do next, when there is something to say: which setting or variable to check,
    /// how to make the image acceptable (`"check PIAOJU_JUHE_KEY: …"`).
    pub fn hint(&self) -> Option<&str> {
        self.details.as_ref().and_then(|d| d.hint.as_deref())
    }

    /// The error with this hint (replacing any).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.details.get_or_insert_with(Box::default).hint = Some(hint.into());
        self
    }

    /// The `Retry-After` of the answer that gave this error, if any.
    pub(crate) fn retry_after(&self) -> Option<std::time::Duration> {
        self.details.as_ref().and_then(|a| a.retry_after)
    }

    /// Take the answer's body, when the error is a verdict on the image.
    pub(crate) fn take_verdict(&mut self) -> Option<Vec<u8>> {
        self.details.as_mut().and_then(|a| a.verdict.take())
    }

    /// Whether the same call may succeed if made again later, unchanged.
    pub fn retryable(&self) -> bool {
        self.code.retryable()
    }

    /// The error as the JSON object every binding hands out.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!(
                "{{\"code\":{},\"name\":\"{}\",\"message\":\"unserializable error\"}}",
                self.code.as_u32(),
                self.code.name()
            )
        })
    }
}

impl Serialize for Error {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Error", 14)?;
        st.serialize_field("code", &self.code.as_u32())?;
        st.serialize_field("name", self.code.name())?;
        st.serialize_field("band", self.code.band().as_str())?;
        st.serialize_field("message", &self.message)?;
        st.serialize_field("hint", &self.hint())?;
        st.serialize_field("provider", &self.provider)?;
        st.serialize_field("provider_code", &self.provider_code)?;
        st.serialize_field("provider_message", &self.provider_message)?;
        st.serialize_field("http_status", &self.http_status)?;
        st.serialize_field("retryable", &self.retryable())?;
        st.serialize_field("attempts", &self.attempts)?;
        st.serialize_field("possibly_billed", &self.possibly_billed)?;
        st.serialize_field("cached", &self.cached)?;
        st.serialize_field("os_error", &self.os_error)?;
        st.end()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The message already says the provider's code and text.
        write!(
            f,
            "[{} {}] {}",
            self.code.as_u32(),
            self.code.name(),
            self.message
        )?;
        if let Some(hint) = self.hint() {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The result of piaoju's calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_numeric_order() {
        assert!(ErrorCode::ALL
            .windows(2)
            .all(|w| w[0].as_u32() < w[1].as_u32()));
        assert_eq!(ErrorCode::ALL.len(), 49);
    }

    #[test]
    fn codes_are_unique_and_in_their_band() {
        let mut seen = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for &c in ErrorCode::ALL {
            assert!(seen.insert(c.as_u32()), "duplicate number {}", c.as_u32());
            assert!(names.insert(c.name()), "duplicate name {}", c.name());
            assert_eq!(ErrorCode::from_u32(c.as_u32()), Some(c));
        }
        assert_eq!(ErrorCode::InvalidConfig.band(), Band::Usage);
        assert_eq!(ErrorCode::ImageTooSmall.band(), Band::Image);
        assert_eq!(ErrorCode::Timeout.band(), Band::Transport);
        assert_eq!(ErrorCode::InvalidKey.band(), Band::Auth);
        assert_eq!(ErrorCode::QuotaExceeded.band(), Band::Quota);
        assert_eq!(ErrorCode::ServiceMaintenance.band(), Band::Service);
        assert_eq!(ErrorCode::NoDocumentDetected.band(), Band::Recognition);
        assert_eq!(ErrorCode::MalformedResponse.band(), Band::Response);
        assert_eq!(ErrorCode::Panic.band(), Band::Internal);
        assert_eq!(ErrorCode::from_u32(999), None);
    }

    #[test]
    fn every_documented_juhe_code_maps_to_its_own_entry() {
        let table = [
            (10001, ErrorCode::InvalidKey),
            (10002, ErrorCode::KeyNoPermission),
            (10003, ErrorCode::KeyExpired),
            (10004, ErrorCode::InvalidOpenId),
            (10005, ErrorCode::AppNotVerified),
            (10007, ErrorCode::UnknownRequestSource),
            (10008, ErrorCode::IpBanned),
            (10009, ErrorCode::KeyBanned),
            (10011, ErrorCode::IpRateLimited),
            (10012, ErrorCode::QuotaExceeded),
            (10013, ErrorCode::TestKeyQuotaExceeded),
            (10014, ErrorCode::ServiceInternalError),
            (10020, ErrorCode::ServiceMaintenance),
            (10021, ErrorCode::ServiceDiscontinued),
        ];
        let mut seen = std::collections::HashSet::new();
        for (n, c) in table {
            assert_eq!(ErrorCode::from_provider(Provider::Juhe, n), c, "juhe {n}");
            assert!(seen.insert(c), "juhe {n} shares an entry");
        }
        assert_eq!(
            seen.len(),
            ErrorCode::provider_codes()
                .filter(|(_, p)| p.provider == Provider::Juhe)
                .count()
        );
        for unknown in [0, 10006, 223701, 1] {
            assert_eq!(
                ErrorCode::from_provider(Provider::Juhe, unknown),
                ErrorCode::ProviderError
            );
        }
    }

    #[test]
    fn every_documented_chinaums_answer_maps_to_its_own_entry() {
        let table = [
            (1, ErrorCode::EngineLoadFailed),
            (3, ErrorCode::NoDocumentDetected),
            (4, ErrorCode::PdfConversionFailed),
            (6, ErrorCode::FileUnreadableByService),
            (9, ErrorCode::FileTypeRejected),
            (16, ErrorCode::InvalidImageData),
            (27, ErrorCode::ParametersRejected),
        ];
        let mut seen = std::collections::HashSet::new();
        for (n, c) in table {
            assert_eq!(
                ErrorCode::from_provider(Provider::Chinaums, n),
                c,
                "answer {n}"
            );
            assert!(seen.insert(c));
        }
        assert_eq!(
            seen.len(),
            ErrorCode::provider_codes()
                .filter(|(_, p)| p.provider == Provider::Chinaums)
                .count()
        );
        for unknown in [0, 2, 10012] {
            assert_eq!(
                ErrorCode::from_provider(Provider::Chinaums, unknown),
                ErrorCode::ProviderError
            );
        }
    }

    #[test]
    fn error_json_has_every_key() {
        let e = Error::new(ErrorCode::QuotaExceeded, "quota used up")
            .with_provider(Provider::Juhe)
            .with_provider_answer("10012", "请求超过次数限制")
            .with_http_status(200);
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["code"], 501);
        assert_eq!(v["name"], "quota_exceeded");
        assert_eq!(v["band"], "quota");
        assert_eq!(v["message"], "quota used up");
        assert_eq!(v["provider"], "juhe");
        assert_eq!(v["provider_code"], "10012");
        assert_eq!(v["provider_message"], "请求超过次数限制");
        assert_eq!(v["http_status"], 200);
        assert_eq!(v["retryable"], false);
        assert_eq!(v["attempts"], 0);
        assert_eq!(v["possibly_billed"], false);
        assert_eq!(v["cached"], false);
        assert_eq!(v["os_error"], serde_json::Value::Null);
        assert_eq!(v["hint"], serde_json::Value::Null);
        assert_eq!(v.as_object().unwrap().len(), 14);
        let e = Error::new(ErrorCode::ImageUnreadable, "gone").with_os_error(Some(2));
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["os_error"], 2);
    }
}
