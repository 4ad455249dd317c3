//! What to do next: one table of hints, by error code and provider code, with the
//! configuration that decides between them (the environment a ChinaUMS appId is tried in,
//! whether images are fitted, the deadline). An error that already has a hint (one its
//! creator knew better, such as how to export a HEIC photo) keeps it.

use crate::config::{Config, Environment};
use crate::error::{Error, ErrorCode};
use crate::fit::ImageFit;

/// `e` with its hint, if the table has one for it.
pub(crate) fn attach(e: Error, config: &Config) -> Error {
    if e.hint().is_some() {
        return e;
    }
    match hint(&e, config) {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

const CHINAUMS_CREDENTIALS: &str = "check PIAOJU_CHINAUMS_APP_ID and PIAOJU_CHINAUMS_APP_KEY \
(chinaums.app_id, chinaums.app_key), and PIAOJU_CHINAUMS_ENV (test or production) for the \
environment the appId belongs to";

fn hint(e: &Error, config: &Config) -> Option<String> {
    use ErrorCode::*;
    let chinaums = config.chinaums.as_ref();
    let environment = chinaums.map(|c| c.environment).unwrap_or_default();
    // A build without the `fit` feature cannot fit: never suggest it there.
    let fitting_off = cfg!(feature = "fit") && config.image_fit == Some(ImageFit::Off);
    let text: &str = match e.code {
        // Usage errors say what to change in their message.
        InvalidArgument | InvalidConfig | MissingCredentials | InvalidRequest | Ok => return None,
        InvalidKey => {
            "check PIAOJU_JUHE_KEY (juhe.key): Juhe does not know this key; copy it again from \
             your Juhe account (个人中心 → 数据中心 → 我的API)"
        }
        KeyNoPermission => {
            "this key is not enabled for 购物小票OCR: apply for the API in your Juhe account, or \
             use the key it was granted to (PIAOJU_JUHE_KEY)"
        }
        KeyExpired => "renew the key in your Juhe account (PIAOJU_JUHE_KEY)",
        InvalidOpenId | AppNotVerified | UnknownRequestSource => {
            "check your Juhe account's settings: its OPENID, its verification and the request \
             sources it allows"
        }
        IpBanned => {
            "Juhe bans this machine's IP address: ask Juhe, or send from another address \
             (PIAOJU_PROXY)"
        }
        KeyBanned => "Juhe bans this key: ask Juhe",
        TokenRequestRejected => match (e.provider_code.as_deref(), environment) {
            (Some("1002"), Environment::Test) => {
                "ChinaUMS does not know this appId in its test environment: a production appId \
                 needs PIAOJU_CHINAUMS_ENV=production (chinaums.environment)"
            }
            (Some("1002"), _) => "check PIAOJU_CHINAUMS_APP_ID (chinaums.app_id)",
            (Some("1005"), _) => {
                "check PIAOJU_CHINAUMS_APP_KEY (chinaums.app_key): ChinaUMS refused the \
                 signature made with it"
            }
            (Some("1004"), _) => {
                "check this machine's clock: ChinaUMS refuses a timestamp far from Beijing time"
            }
            _ => CHINAUMS_CREDENTIALS,
        },
        AuthRejected => {
            "check PIAOJU_CHINAUMS_APP_KEY, and PIAOJU_CHINAUMS_AUTH (access_token or \
             body_signature) as your ChinaUMS application is set up"
        }
        IpRateLimited | RateLimited => {
            "the provider limits the requests a second: lower --qps (max_qps) or --jobs; a batch \
             already slows down to the provider's limit and sends a refused image again"
        }
        QuotaExceeded => {
            "the key's request quota is used up: buy more calls in your Juhe account or wait \
             until it renews (nothing was retried)"
        }
        TestKeyQuotaExceeded => {
            "the test key's calls are used up: use a paid key (PIAOJU_JUHE_KEY)"
        }
        Timeout => {
            return Some(format!(
                "the whole call must finish within timeout_ms, now {} ms: raise \
                 PIAOJU_TIMEOUT_MS (timeout_ms) for a slow network or large images; check \
                 PIAOJU_PROXY if this machine needs a proxy",
                config.timeout().as_millis()
            ))
        }
        ConnectFailed => {
            "check the network, the proxy (PIAOJU_PROXY) and the base URL (PIAOJU_JUHE_BASE_URL, \
             PIAOJU_CHINAUMS_BASE_URL)"
        }
        TlsFailed => {
            "behind a company proxy that inspects HTTPS? give its CA certificate with \
             PIAOJU_CA_FILE (tls.ca_file), or trust the system's roots with \
             PIAOJU_TLS_ROOTS=system"
        }
        ConnectionBroken if e.possibly_billed => {
            "the provider may have processed (and billed) the request: look before sending the \
             image again (a batch's rerun sends it again only if its answer was not recorded)"
        }
        ConnectionBroken => "check the network and the proxy (PIAOJU_PROXY), then try again",
        ImageTooLarge | ImageDimensionsTooLarge if fitting_off => {
            "fitting would send it within the provider's limits: set image_fit to \"auto\" \
             (PIAOJU_IMAGE_FIT=auto; the piaoju command: leave out --no-fit)"
        }
        ImageTooLarge | ImageDimensionsTooLarge => {
            "export a smaller image (a JPEG at most 4096 px on its longest side)"
        }
        ImageTooSmall => {
            "photograph or scan the document at a higher resolution (at least 15 px on its \
             shortest side)"
        }
        ImageTooComplex => "export the image at a normal size (at most 100 megapixels)",
        ImageEmpty => "the file is empty: check that it was copied or downloaded completely",
        ImageUnreadable => "check the path and the file's permissions",
        ImageCorrupt => "the image is damaged: export or copy it again",
        ImageFormatUnsupported => {
            "give a jpg, png or bmp image for receipts, a png, jpg or pdf for invoices"
        }
        ServiceInternalError | ServiceMaintenance | ServiceHttpError | EngineLoadFailed => {
            "the provider is failing: try again later (a batch's rerun sends only the images \
             whose answers were not recorded)"
        }
        ServiceDiscontinued => "the provider has discontinued this API",
        ProviderError => {
            "an answer code piaoju does not know: its provider_code and provider_message say \
             what the provider meant"
        }
        NoDocumentDetected => {
            "photograph the whole invoice, flat, in focus and well lit; a rerun returns this \
             answer from the cache unless --retry-failed (retry_failed=True)"
        }
        PdfConversionFailed => "the service could not read the PDF: export its page as PNG or JPEG",
        FileUnreadableByService | FileTypeRejected | InvalidImageData => {
            "give a png, jpg or pdf file"
        }
        ParametersRejected => "the service refused the request's parameters: please report it",
        NothingRecognized => {
            "no document of this type was found: check that the image is a used-car sales \
             invoice (二手车销售统一发票)"
        }
        MalformedResponse | UnexpectedResponse | UnexpectedHttpStatus => {
            "the answer was not the provider's: check the base URL and any proxy in between"
        }
        Internal | Panic => "a bug in piaoju: please report it with this message",
    };
    Some(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint_of(e: Error, config: &str) -> Option<String> {
        attach(e, &Config::from_json(config).unwrap())
            .hint()
            .map(str::to_string)
    }

    #[test]
    fn every_error_but_usage_errors_has_a_hint() {
        for &code in ErrorCode::ALL {
            if code == ErrorCode::Ok {
                continue;
            }
            let h = hint_of(Error::new(code, "x"), "{}");
            assert_eq!(
                h.is_none(),
                code.band() == crate::error::Band::Usage,
                "{code}"
            );
        }
    }

    #[test]
    fn the_configuration_decides_between_hints() {
        let appid = || {
            Error::new(ErrorCode::TokenRequestRejected, "x")
                .with_provider_answer("1002", "appId不存在")
        };
        assert!(hint_of(appid(), "{}")
            .unwrap()
            .contains("PIAOJU_CHINAUMS_ENV=production"));
        let production = r#"{"chinaums":{"environment":"production"}}"#;
        assert_eq!(
            hint_of(appid(), production).unwrap(),
            "check PIAOJU_CHINAUMS_APP_ID (chinaums.app_id)"
        );
        let key = Error::new(ErrorCode::TokenRequestRejected, "x")
            .with_provider_answer("1005", "签名校验失败");
        assert!(hint_of(key, "{}")
            .unwrap()
            .contains("PIAOJU_CHINAUMS_APP_KEY"));
        let large = || Error::new(ErrorCode::ImageTooLarge, "x");
        assert_eq!(
            hint_of(large(), r#"{"image_fit":"off"}"#)
                .unwrap()
                .contains("leave out --no-fit"),
            cfg!(feature = "fit")
        );
        assert!(!hint_of(large(), "{}").unwrap().contains("--no-fit"));
        let timeout = hint_of(
            Error::new(ErrorCode::Timeout, "x"),
            r#"{"timeout_ms":2500}"#,
        );
        assert!(timeout.unwrap().contains("now 2500 ms"));
        // A hint the error already has stays.
        let heic = Error::new(ErrorCode::ImageFormatUnsupported, "x").with_hint("export as JPEG");
        assert_eq!(hint_of(heic, "{}").unwrap(), "export as JPEG");
    }
}
