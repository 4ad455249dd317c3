//! Benchmark: the Juhe request body for a 4.5 MB image (the largest Juhe accepts), built by
//! `piaoju::juhe::form_body` (one pre-sized buffer, escaped in place) against the usual chain of
//! base64 string + three `replace` calls + `format!`. Prints both side by side.
//!
//!     cargo run --release -p piaoju --features bench --example form_body_bench

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static TOTAL: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        TOTAL.fetch_add(layout.size(), Ordering::SeqCst);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let grow = new_size - layout.size();
            let now = CURRENT.fetch_add(grow, Ordering::SeqCst) + grow;
            PEAK.fetch_max(now, Ordering::SeqCst);
            TOTAL.fetch_add(grow, Ordering::SeqCst);
        } else {
            CURRENT.fetch_sub(layout.size() - new_size, Ordering::SeqCst);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn naive(key: &str, image: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(image);
    let escaped = b64
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    format!("key={key}&image={escaped}").into_bytes()
}

fn measure(name: &str, f: impl Fn() -> Vec<u8>) -> (Duration, usize, usize, usize) {
    let mut best = Duration::MAX;
    let (mut peak, mut total, mut len) = (0, 0, 0);
    for _ in 0..7 {
        let base = CURRENT.load(Ordering::SeqCst);
        PEAK.store(base, Ordering::SeqCst);
        TOTAL.store(0, Ordering::SeqCst);
        let t = Instant::now();
        let body = std::hint::black_box(f());
        best = best.min(t.elapsed());
        peak = PEAK.load(Ordering::SeqCst) - base;
        total = TOTAL.load(Ordering::SeqCst);
        len = body.len();
    }
    println!(
        "{name:<34} {:>9.2} ms {:>10.1} MiB {:>10.1} MiB {:>10}",
        best.as_secs_f64() * 1000.0,
        peak as f64 / 1048576.0,
        total as f64 / 1048576.0,
        len
    );
    (best, peak, total, len)
}

/// `--sizes N,N,…`: one JSON line per size with the best of 7 times (ms) of base64 alone (the
/// floor) and of the streamed Juhe body, for bench/compare.py.
fn sizes_mode(list: &str) {
    use base64::Engine;
    for n in list
        .split(',')
        .map(|s| s.parse::<usize>().expect("a byte count"))
    {
        let image: Vec<u8> = (0..n as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let best = |f: &dyn Fn() -> usize| {
            (0..7)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(f());
                    t.elapsed().as_secs_f64() * 1000.0
                })
                .fold(f64::MAX, f64::min)
        };
        let floor = best(&|| {
            base64::engine::general_purpose::STANDARD
                .encode(&image)
                .len()
        });
        let body = best(&|| {
            let mut body = piaoju::bench::form("0123456789abcdef", &image);
            std::io::copy(&mut body, &mut std::io::sink()).unwrap() as usize
        });
        let json = best(&|| {
            let mut body = piaoju::bench::request_body(&image);
            std::io::copy(&mut body, &mut std::io::sink()).unwrap() as usize
        });
        println!(
            "{{\"bytes\": {n}, \"floor_ms\": {floor:.3}, \"body_ms\": {body:.3}, \"json_body_ms\": {json:.3}}}"
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, list] = &args[..] {
        if flag == "--sizes" {
            return sizes_mode(list);
        }
    }
    // 4.5 MiB of varied bytes: base64 of it is exactly Juhe's 6 MiB limit.
    let image: Vec<u8> = (0..(6 * 1024 * 1024 / 4 * 3) as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let key = "0123456789abcdef0123456789abcdef";
    println!(
        "{:<34} {:>12} {:>14} {:>14} {:>10}",
        "Juhe body for a 4.5 MiB image", "best of 7", "peak heap", "allocated", "bytes"
    );
    let (_, _, _, s) = measure("piaoju: body streamed (64 KiB reads)", || {
        // What a call does: the exact length, then the body read as the socket takes it.
        let mut body = piaoju::bench::form(key, &image);
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = std::io::Read::read(&mut body, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        assert_eq!(total, body.len());
        vec![0; total as usize]
    });
    let (_, _, _, a) = measure("piaoju: body in one buffer", || {
        piaoju::bench::form_body(key, &image)
    });
    assert_eq!(a, s);
    let (_, _, _, b) = measure("baseline: encode + 3 replace + fmt", || naive(key, &image));
    measure("floor: base64 encode alone", || {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(&image)
            .into_bytes()
    });
    assert_eq!(a, b, "both build the same body");
    assert_eq!(piaoju::bench::form_body(key, &image), naive(key, &image));
}
