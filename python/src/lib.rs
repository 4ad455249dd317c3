//! `piaoju._native`: the Python module over the core crate. It converts values and raises the
//! exception classes of `piaoju.errors`; parsing, preflight, checks and error mapping all
//! happen in core.

use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBool, PyBytes, PyDict, PyList, PyString};
use serde_json::Value;

use piaoju::bindings::catch_panic;
use piaoju::{check, Check, Client, Config, DocumentType, Error, ErrorCode};

/// Convert a JSON value of the result schema into Python objects (dict, list, str, int, ...).
fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| to_py(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(k, to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// The exception of `piaoju.errors` for a core error, built from its one payload (the error
/// JSON; the class is chosen by name and band).
fn to_py_err(py: Python<'_>, e: &Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let errors = py.import("piaoju.errors")?;
        let exc = errors.call_method1("_from_json", (e.to_json(),))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|import_error| {
        // Never hide the error itself behind a broken installation.
        PyRuntimeError::new_err(format!(
            "{e} (and piaoju.errors could not be loaded to raise it: {import_error})"
        ))
    })
}

/// Run core code inside the panic boundary and raise its error as the catalogue's exception
/// (a panic becomes piaoju.InternalError, code 901, never pyo3's PanicException).
fn call<T>(py: Python<'_>, body: impl FnOnce() -> piaoju::Result<T>) -> PyResult<T> {
    catch_panic(body).map_err(|e| to_py_err(py, &e))
}

/// The image as the core takes it: the bytes of a `bytes` object (borrowed, not copied:
/// `PyBackedBytes` keeps a reference to the immutable object and reads its buffer), or a path.
enum Image {
    Bytes(PyBackedBytes),
    Path(std::path::PathBuf),
}

impl Image {
    fn from_py(image: &Bound<'_, PyAny>) -> PyResult<Image> {
        if let Ok(b) = image.cast::<PyBytes>() {
            return Ok(Image::Bytes(PyBackedBytes::from(b.clone())));
        }
        Ok(Image::Path(image.extract()?))
    }

    fn source(&self) -> piaoju::ImageSource<'_> {
        match self {
            Image::Bytes(b) => b.as_ref().into(),
            Image::Path(p) => p.into(),
        }
    }
}

/// The native client. `piaoju.Client` wraps it.
#[pyclass(module = "piaoju._native", name = "Client", frozen)]
struct NativeClient {
    inner: Arc<Client>,
}

#[pymethods]
impl NativeClient {
    /// `config_json`: the configuration JSON, resolved by core's one rule (an object is the
    /// whole configuration, `"{}"` is empty); `None` reads the PIAOJU_* environment variables.
    #[new]
    #[pyo3(signature = (config_json=None))]
    fn new(py: Python<'_>, config_json: Option<&str>) -> PyResult<Self> {
        let inner = call(py, || Client::new(Config::resolve(config_json)?))?;
        Ok(NativeClient {
            inner: Arc::new(inner),
        })
    }

    /// Recognize a shopping receipt; the result's JSON text. The GIL is released for the call.
    fn recognize_shopping_receipt(
        &self,
        py: Python<'_>,
        image: &Bound<'_, PyAny>,
    ) -> PyResult<String> {
        let image = Image::from_py(image)?;
        self.recognize(py, DocumentType::ShoppingReceipt, image)
    }

    /// Recognize a used-car invoice; the result's JSON text. The GIL is released for the call.
    fn recognize_used_car_invoice(
        &self,
        py: Python<'_>,
        image: &Bound<'_, PyAny>,
    ) -> PyResult<String> {
        let image = Image::from_py(image)?;
        self.recognize(py, DocumentType::UsedCarInvoice, image)
    }

    /// Recognize many images (`bytes` or paths) of one document type (`kind`, its name:
    /// "shopping_receipt" or "used_car_invoice") with `jobs` calls at once; the results come
    /// from the returned batch as they finish. `bytes` are borrowed, not copied.
    #[pyo3(signature = (kind, images, jobs, retry_failed=false, max_requests=None))]
    fn start_batch(
        &self,
        py: Python<'_>,
        kind: &str,
        images: Vec<Bound<'_, PyAny>>,
        jobs: usize,
        retry_failed: bool,
        max_requests: Option<u64>,
    ) -> PyResult<NativeBatch> {
        // The document type's own name (core's one table); piaoju.Client maps the aliases.
        let document_type: DocumentType = serde_json::from_value(Value::String(kind.into()))
            .map_err(|_| {
                let e = Error::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "kind must be \"shopping_receipt\" or \"used_car_invoice\", not {kind:?}"
                    ),
                );
                to_py_err(py, &e)
            })?;
        if !(1..=piaoju::batch::MAX_WORKERS).contains(&jobs) {
            let e = Error::new(
                ErrorCode::InvalidArgument,
                format!(
                    "jobs must be 1 to {}, got {jobs}",
                    piaoju::batch::MAX_WORKERS
                ),
            );
            return Err(to_py_err(py, &e));
        }
        let mut inputs = Vec::with_capacity(images.len());
        for image in &images {
            let source = match image.cast::<PyBytes>() {
                Ok(b) => {
                    piaoju::batch::BatchSource::Shared(Arc::new(PyBackedBytes::from(b.clone())))
                }
                Err(_) => piaoju::batch::BatchSource::Path(image.extract()?),
            };
            inputs.push((document_type, source));
        }
        // Handed over when the consumer asks (the core starts an image only while fewer than
        // `jobs` are in progress or untaken): a consumer that stops taking stops the batch.
        let (sender, results) = std::sync::mpsc::sync_channel(0);
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (client, stop) = (Arc::clone(&self.inner), Arc::clone(&cancel));
        let options = piaoju::batch::BatchOptions::default()
            .workers(jobs)
            .retry_failed(retry_failed)
            .max_requests(max_requests);
        std::thread::Builder::new()
            .name("piaoju-batch".into())
            .spawn(move || {
                let pending = std::cell::RefCell::new(None);
                let outcome = catch_panic(|| {
                    Ok(piaoju::batch::run(
                        &client,
                        &inputs,
                        options,
                        &stop,
                        |i, outcome| {
                            *pending.borrow_mut() = Some(match outcome {
                                Ok(doc) => (i, true, doc.to_json()),
                                Err(e) => (i, false, e.to_json()),
                            });
                            std::ops::ControlFlow::Continue(())
                        },
                        |p| {
                            let progress = format!(
                                "{{\"total\":{},\"done\":{},\"failed\":{},\"cached\":{},\"in_flight\":{}}}",
                                p.total, p.done, p.failed, p.cached, p.in_flight
                            );
                            if let Some((i, ok, json)) = pending.borrow_mut().take() {
                                let item = BatchEvent::Item(i, ok, json, progress);
                                if sender.send(item).is_err() {
                                    // Nobody takes the results any more: stop sending.
                                    stop.store(true, std::sync::atomic::Ordering::SeqCst);
                                }
                            }
                        },
                    ))
                });
                let _ = sender.send(match outcome {
                    Ok(summary) => BatchEvent::Done(summary_json(&summary)),
                    Err(e) => BatchEvent::Failed(e),
                });
            })
            .map_err(|e| {
                let e = Error::new(
                    ErrorCode::Internal,
                    format!("cannot start the batch's thread: {e}"),
                );
                to_py_err(py, &e)
            })?;
        Ok(NativeBatch {
            results: Mutex::new(results),
            cancel,
            summary: Mutex::new(None),
            drained: Mutex::new(std::collections::VecDeque::new()),
        })
    }

    /// The configuration as JSON, credentials included: what a pickled client carries.
    fn config_json(&self) -> String {
        piaoju::bindings::config_json_with_credentials(self.inner.config())
    }
}

impl NativeClient {
    fn recognize(
        &self,
        py: Python<'_>,
        document_type: DocumentType,
        image: Image,
    ) -> PyResult<String> {
        let client = Arc::clone(&self.inner);
        let work = move || {
            catch_panic(|| {
                client
                    .recognize(document_type, image.source())
                    .map(|d| d.to_json())
            })
        };
        if !on_main_thread(py)? {
            // Signals reach only the main thread: elsewhere, just release the GIL and call.
            return py.detach(work).map_err(|e| to_py_err(py, &e));
        }
        // On the main thread the call runs on a helper thread while this one waits in short
        // slices, so that Ctrl-C (KeyboardInterrupt) is raised at once. An abandoned call
        // still ends by its own deadline.
        let outcome = on_helper_thread(py, "piaoju-call", work, Err)?;
        outcome
            .unwrap_or_else(|| {
                Err(Error::new(
                    ErrorCode::Internal,
                    "the call's thread ended without an answer",
                ))
            })
            .map_err(|e| to_py_err(py, &e))
    }
}

/// Run `work` on a helper thread named `name` while this thread waits with the GIL released,
/// looking for signals every [`SIGNAL_CHECK_INTERVAL`]. A pending signal's exception goes to
/// `on_signal`: `Ok(None)` waits on, `Ok(Some(v))` returns `v` at once (the helper thread runs
/// on to its own end), `Err` raises. `None` when the helper ended without a value (a panic).
fn on_helper_thread<T: Send + 'static>(
    py: Python<'_>,
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
    mut on_signal: impl FnMut(PyErr) -> PyResult<Option<T>>,
) -> PyResult<Option<T>> {
    let (done, mut outcome) = sync_channel(1);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = done.send(work());
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?;
    loop {
        // The receiver moves into the GIL-free closure and back (it is Send, not Sync).
        let (received, receiver) = py.detach(move || {
            let received = outcome.recv_timeout(SIGNAL_CHECK_INTERVAL);
            (received, outcome)
        });
        outcome = receiver;
        match received {
            Ok(value) => return Ok(Some(value)),
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    if let Some(value) = on_signal(e)? {
                        return Ok(Some(value));
                    }
                }
            }
        }
    }
}

/// What a batch's thread hands to the consumer.
enum BatchEvent {
    /// `(index, ok, json, progress_json)` of a finished image.
    Item(usize, bool, String, String),
    /// The batch ended: its summary's JSON.
    Done(String),
    /// The batch failed as a whole (a panic outside any image's call).
    Failed(Error),
}

fn summary_json(s: &piaoju::batch::BatchSummary) -> String {
    serde_json::json!({
        "total": s.total,
        "succeeded": s.succeeded,
        "failed": s.failed,
        "cached": s.cached,
        "not_started": s.skipped,
        "requests": s.requests,
        "possibly_billed_requests": s.possibly_billed_requests,
        "refused_requests": s.refused_requests,
        "possibly_billed_failures": s.possibly_billed_failures,
        "cancelled": s.cancelled,
        "budget_spent": s.budget_spent,
        "cache_failures": s.cache_failures,
        "cache_error": s.cache_error,
        "wall_seconds": s.wall.as_secs_f64(),
    })
    .to_string()
}

/// A batch running on a background thread; results are taken with `next`.
#[pyclass(module = "piaoju._native", name = "Batch", frozen)]
struct NativeBatch {
    results: Mutex<std::sync::mpsc::Receiver<BatchEvent>>,
    cancel: Arc<std::sync::atomic::AtomicBool>,
    summary: Mutex<Option<String>>,
    /// Items finished while draining after a Ctrl-C, handed out by the next calls of `next`.
    drained: Mutex<std::collections::VecDeque<BatchItemTuple>>,
}

/// `(index, ok, json, progress_json)` of a finished image.
type BatchItemTuple = (usize, bool, String, String);

/// What waiting for the batch's next event gave.
enum Waited {
    Item(BatchItemTuple),
    End,
    Signal(PyErr),
}

impl NativeBatch {
    /// Wait for the next item (the end, or a pending signal's exception), with the GIL
    /// released, looking for signals every 50 ms.
    fn wait(&self, py: Python<'_>) -> PyResult<Waited> {
        loop {
            let received = py.detach(|| {
                self.results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .recv_timeout(SIGNAL_CHECK_INTERVAL)
            });
            match received {
                Ok(BatchEvent::Item(i, ok, json, progress)) => {
                    return Ok(Waited::Item((i, ok, json, progress)))
                }
                Ok(BatchEvent::Done(summary)) => {
                    *self.summary.lock().unwrap_or_else(|p| p.into_inner()) = Some(summary);
                }
                Ok(BatchEvent::Failed(e)) => return Err(to_py_err(py, &e)),
                Err(RecvTimeoutError::Disconnected) => return Ok(Waited::End),
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        return Ok(Waited::Signal(e));
                    }
                }
            }
        }
    }
}

#[pymethods]
impl NativeBatch {
    /// The next finished item `(index, ok, json, progress_json)`, or None when all are done.
    /// Waits with the GIL released, looking for Ctrl-C every 50 ms. The first Ctrl-C stops
    /// sending, waits for the calls in flight (within their deadline), keeps their items for
    /// the next calls, then raises KeyboardInterrupt; a second one raises at once.
    fn next(&self, py: Python<'_>) -> PyResult<Option<BatchItemTuple>> {
        if let Some(item) = self
            .drained
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
        {
            return Ok(Some(item));
        }
        match self.wait(py)? {
            Waited::Item(item) => Ok(Some(item)),
            Waited::End => Ok(None),
            Waited::Signal(e) => {
                self.cancel();
                if !e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
                    return Err(e);
                }
                // Drain: the calls whose request is out finish; their answers are recorded.
                loop {
                    match self.wait(py)? {
                        Waited::Item(item) => self
                            .drained
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push_back(item),
                        Waited::End => return Err(e),
                        Waited::Signal(again) => return Err(again),
                    }
                }
            }
        }
    }

    /// Start no new call; calls in flight end and their results still come.
    fn cancel(&self) {
        self.cancel.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The batch's summary (JSON), once it has ended.
    fn summary(&self) -> Option<String> {
        self.summary
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The `piaoju` command (the wheel's console script), the same code as the Rust binary: runs
/// it on a helper thread while this one waits with the GIL released, looking for Ctrl-C. The
/// first Ctrl-C of a batch lets the calls in flight finish (their results are written, status
/// 130); another, or one during a single call, returns 130 at once.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> PyResult<i32> {
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
    let interrupted = Arc::new(AtomicBool::new(false));
    let signal = Arc::new(AtomicI32::new(0));
    let armed = Arc::new(AtomicBool::new(false));
    let (flag, which, arm) = (
        Arc::clone(&interrupted),
        Arc::clone(&signal),
        Arc::clone(&armed),
    );
    let work = move || {
        let arm = || arm.store(true, Ordering::SeqCst);
        piaoju_cli::run(
            argv.into_iter().map(std::ffi::OsString::from),
            piaoju_cli::Interrupt {
                flag: &flag,
                signal: &which,
                arm: &arm,
            },
        )
    };
    let status = on_helper_thread(py, "piaoju-cli", work, |e| {
        // Ctrl-C, or SIGTERM/SIGHUP as piaoju._cli's handlers raise them.
        let terminated = py.import("piaoju._cli")?.getattr("Terminated")?;
        let number = if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
            2
        } else if e.is_instance(py, &terminated) {
            e.value(py).getattr("signum")?.extract::<i32>()?
        } else {
            return Err(e);
        };
        let _ = signal.compare_exchange(0, number, Ordering::SeqCst, Ordering::SeqCst);
        if armed.load(Ordering::SeqCst) && !interrupted.swap(true, Ordering::SeqCst) {
            return Ok(None); // the batch finishes its calls in flight and returns 128 + it
        }
        Ok(Some(128 + number))
    })?;
    status.ok_or_else(|| PyRuntimeError::new_err("the command ended without a status"))
}

/// How often a call on the main thread looks for a pending signal (Ctrl-C).
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

fn on_main_thread(py: Python<'_>) -> PyResult<bool> {
    let threading = py.import("threading")?;
    let current = threading.call_method0("current_thread")?;
    let main = threading.call_method0("main_thread")?;
    Ok(current.is(&main))
}

/// The in-process sandbox server.
#[pyclass(module = "piaoju._native", name = "Sandbox", frozen)]
struct NativeSandbox {
    inner: Mutex<Option<piaoju_sandbox::Sandbox>>,
    url: String,
    juhe_key: String,
    app_id: String,
    app_key: String,
}

impl NativeSandbox {
    fn with<T>(&self, f: impl FnOnce(&piaoju_sandbox::Sandbox) -> T) -> PyResult<T> {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(s) => Ok(f(s)),
            None => Err(PyRuntimeError::new_err("the sandbox is closed")),
        }
    }
}

#[pymethods]
impl NativeSandbox {
    #[new]
    #[pyo3(signature = (token_ttl=None))]
    fn new(token_ttl: Option<f64>) -> PyResult<Self> {
        let mut config = piaoju_sandbox::SandboxConfig::default();
        if let Some(t) = token_ttl {
            config.token_ttl = piaoju_sandbox::token_ttl_from_secs(t)
                .map_err(pyo3::exceptions::PyValueError::new_err)?;
        }
        let sb = piaoju_sandbox::Sandbox::start_with(config)
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the sandbox: {e}")))?;
        let c = sb.config().clone();
        Ok(NativeSandbox {
            url: sb.url(),
            juhe_key: c.juhe_key,
            app_id: c.chinaums_app_id,
            app_key: c.chinaums_app_key,
            inner: Mutex::new(Some(sb)),
        })
    }

    #[getter]
    fn url(&self) -> &str {
        &self.url
    }
    #[getter]
    fn juhe_key(&self) -> &str {
        &self.juhe_key
    }
    #[getter]
    fn chinaums_app_id(&self) -> &str {
        &self.app_id
    }
    #[getter]
    fn chinaums_app_key(&self) -> &str {
        &self.app_key
    }

    fn fault_url(&self, faults: &str) -> PyResult<String> {
        piaoju_sandbox::parse_faults(faults).map_err(pyo3::exceptions::PyValueError::new_err)?;
        self.with(|s| s.fault_url(faults))
    }

    /// The client configuration for `base_url` and `auth`, as a dict (core's shape).
    fn config<'py>(
        &self,
        py: Python<'py>,
        base_url: &str,
        auth: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let value = self.with(|s| s.client_config_for(base_url, auth))?;
        to_py(py, &value)
    }

    fn set_faults(&self, faults: &str) -> PyResult<()> {
        self.with(|s| s.set_faults(faults))?
            .map_err(pyo3::exceptions::PyValueError::new_err)
    }

    fn clear_faults(&self) -> PyResult<()> {
        self.with(|s| s.clear_faults())
    }

    fn revoke_tokens(&self) -> PyResult<()> {
        self.with(|s| s.revoke_tokens())
    }

    fn register_answer(&self, image: Vec<u8>, status: u16, body: String) -> PyResult<()> {
        self.with(|s| s.register_answer(&image, status, body))
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let st = self.with(|s| s.stats())?;
        let d = PyDict::new(py);
        d.set_item("juhe_requests", st.juhe_requests)?;
        d.set_item("ocr_requests", st.ocr_requests)?;
        d.set_item("tokens_issued", st.tokens_issued)?;
        d.set_item("token_requests", st.token_requests)?;
        d.set_item("auth_rejections", st.auth_rejections)?;
        d.set_item("max_in_flight", st.max_in_flight)?;
        d.set_item("connections", st.connections)?;
        let images = PyDict::new(py);
        for (digest, (received, answered)) in self.with(|s| s.per_image())? {
            let counts = PyDict::new(py);
            counts.set_item("received", received)?;
            counts.set_item("answered", answered)?;
            images.set_item(digest, counts)?;
        }
        d.set_item("images", images)?;
        Ok(d)
    }

    /// For this image: OCR requests received, and answered.
    fn image_requests(&self, image: Vec<u8>) -> PyResult<(u64, u64)> {
        self.with(|s| s.image_requests(&image))
    }

    /// When each OCR request arrived, in seconds since the sandbox started.
    fn arrivals(&self) -> PyResult<Vec<f64>> {
        self.with(|s| s.arrivals().iter().map(Duration::as_secs_f64).collect())
    }

    fn close(&self, py: Python<'_>) {
        let taken = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(sb) = taken {
            py.detach(|| sb.shutdown());
        }
    }
}

fn check_json(c: &Check) -> PyResult<String> {
    serde_json::to_string(c).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Run one of the standalone checks of core by name; the check's JSON text.
#[pyfunction]
#[pyo3(signature = (name, value, other=None))]
fn run_check(py: Python<'_>, name: &str, value: &str, other: Option<&str>) -> PyResult<String> {
    let c = match name {
        "vin" => check::vin(value),
        "resident_id" => check::resident_id(value),
        "social_credit_code" => check::social_credit_code(value),
        "party_id" => check::party_id(value),
        "invoice_number" => check::invoice_number(value, other),
        "plate_number" => check::plate_number(value),
        "issue_date" => check::issue_date(value),
        _ => {
            let e = Error::new(
                ErrorCode::InvalidArgument,
                format!("no check named {name:?}"),
            );
            return Err(to_py_err(py, &e));
        }
    };
    check_json(&c)
}

/// Parse Chinese uppercase money; the amount as an exact decimal string.
#[pyfunction]
fn amount_in_words(py: Python<'_>, text: &str) -> PyResult<String> {
    call(py, || {
        check::amount_in_words(text).map(|d| d.with_min_scale(2).to_string())
    })
}

/// Every error code of the catalogue: `[(code, name, band, retryable)]`.
#[pyfunction]
fn error_catalogue() -> Vec<(u32, &'static str, &'static str, bool)> {
    ErrorCode::ALL
        .iter()
        .filter(|c| **c != ErrorCode::Ok)
        .map(|c| (c.as_u32(), c.name(), c.band().as_str(), c.retryable()))
        .collect()
}

/// Raise the exception of a code (for tests of the exception tree).
#[pyfunction]
fn raise_error(py: Python<'_>, code: u32, message: &str) -> PyResult<()> {
    let code = ErrorCode::from_u32(code)
        .filter(|c| *c != ErrorCode::Ok)
        .ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err(format!("{code} is not an error code"))
        })?;
    Err(to_py_err(py, &Error::new(code, message)))
}

/// One field of the schema as Python sees it: `(name, kind, nullable)`.
type PySchemaField = (&'static str, String, bool);

/// The result schema of core: `[(record, [(field, kind, nullable)])]`, fields in JSON order.
#[pyfunction]
fn schema() -> Vec<(&'static str, Vec<PySchemaField>)> {
    piaoju::bindings::schema()
        .into_iter()
        .map(|(record, fields)| {
            let fields = fields
                .iter()
                .map(|f| (f.name, f.kind.name(), f.nullable))
                .collect();
            (record, fields)
        })
        .collect()
}

/// The user's result cache for batches (its folder made if missing), or None when no folder
/// for it is known (neither XDG_CACHE_HOME nor HOME).
#[pyfunction]
fn user_cache_path(py: Python<'_>) -> PyResult<Option<String>> {
    call(py, || {
        piaoju::user_cache_path()?
            .map(|p| {
                p.into_os_string().into_string().map_err(|p| {
                    Error::new(
                        ErrorCode::InvalidConfig,
                        format!(
                            "the user's cache folder {} is not UTF-8: give a cache path",
                            piaoju::bindings::display_path(std::path::Path::new(&p))
                        ),
                    )
                })
            })
            .transpose()
    })
}

/// One JSON string in, one out (the C ABI's pj_call).
#[pyfunction]
fn call_json(py: Python<'_>, request_json: &str) -> String {
    let request = request_json.to_owned();
    py.detach(move || {
        catch_panic(|| Ok(piaoju::bindings::call_json(&request)))
            .unwrap_or_else(|e| format!("{{\"ok\":false,\"error\":{}}}", e.to_json()))
    })
}

/// For the test suite: a panic inside the boundary, which must surface as InternalError.
#[pyfunction]
fn _panic_inside_boundary(py: Python<'_>, message: &str) -> PyResult<()> {
    call(py, || -> piaoju::Result<()> { panic!("{message}") })
}

/// core's log records to Python's `logging`, logger `piaoju` (pyo3-log); only target piaoju's
/// (ureq's `trace` records dump the wire, credentials included: never handed over). While the
/// `piaoju` command runs with `-v`, its records go to its stderr instead, as the Rust binary
/// prints them.
struct LogBridge(pyo3_log::Logger);

impl LogBridge {
    fn ours(metadata: &log::Metadata<'_>) -> bool {
        metadata.target() == piaoju::LOG_TARGET
    }
}

impl log::Log for LogBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        piaoju_cli::logging::wants(metadata) || (Self::ours(metadata) && self.0.enabled(metadata))
    }

    fn log(&self, record: &log::Record<'_>) {
        if piaoju_cli::logging::wants(record.metadata()) {
            piaoju_cli::logging::print(record);
        } else if Self::ours(record.metadata()) {
            self.0.log(record);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// Install [`LogBridge`] as the process's logger, unless another extension did first. Python's
/// level for `piaoju` is read at each record (no cache of levels: a test or an application
/// may set it at any time); records are few (a retry, a wait, a cache hit: a handful a call).
fn install_log_bridge(py: Python<'_>) -> PyResult<()> {
    let logger = pyo3_log::Logger::new(py, pyo3_log::Caching::Loggers)?
        .filter(log::LevelFilter::Off)
        .filter_target(piaoju::LOG_TARGET.to_owned(), log::LevelFilter::Debug);
    if log::set_boxed_logger(Box::new(LogBridge(logger))).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
    Ok(())
}

/// piaoju's native module (Rust).
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    install_log_bridge(m.py())?;
    m.add("__version__", piaoju::VERSION)?;
    m.add("MAX_IMAGE_LEN", piaoju::MAX_IMAGE_LEN)?;
    m.add_class::<NativeClient>()?;
    m.add_class::<NativeSandbox>()?;
    m.add_class::<NativeBatch>()?;
    m.add_function(wrap_pyfunction!(run_check, m)?)?;
    m.add_function(wrap_pyfunction!(amount_in_words, m)?)?;
    m.add_function(wrap_pyfunction!(error_catalogue, m)?)?;
    m.add_function(wrap_pyfunction!(raise_error, m)?)?;
    m.add_function(wrap_pyfunction!(call_json, m)?)?;
    m.add_function(wrap_pyfunction!(schema, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(user_cache_path, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_inside_boundary, m)?)?;
    Ok(())
}
