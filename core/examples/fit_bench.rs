//! Fit each image named on the command line to Juhe's limits, once, and print what it cost:
//! `{"file", "cpu_ms", "peak_rss_mb", "sent": {...}}` (Linux: CPU and peak RSS from /proc).
//! Run from bench/compare.py; `--out DIR` also writes each fitted JPEG there.

fn cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    s.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn peak_rss_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let mut out_dir = None;
    while let Some(a) = args.next() {
        if a == "--resize" {
            let c0 = cpu_ns();
            piaoju::bench::bench_resize(5000, 3750, 4096, 3072);
            println!(
                "resize 5000x3750 -> 4096x3072: {:.1} ms cpu",
                (cpu_ns() - c0) as f64 / 1e6
            );
            continue;
        }
        if a == "--out" {
            out_dir = args.next();
            continue;
        }
        let bytes = std::fs::read(&a).expect("readable image");
        let c0 = cpu_ns();
        let t0 = std::time::Instant::now();
        let r = piaoju::bench::bench_fit(&bytes);
        let cpu = (cpu_ns() - c0) as f64 / 1e6;
        let wall = t0.elapsed().as_secs_f64() * 1e3;
        match r {
            Ok((jpeg, report)) => {
                if let Some(dir) = &out_dir {
                    let name = std::path::Path::new(&a).file_name().unwrap();
                    std::fs::write(std::path::Path::new(dir).join(name), &jpeg).unwrap();
                }
                println!(
                    "{{\"file\": {:?}, \"cpu_ms\": {cpu:.1}, \"wall_ms\": {wall:.1}, \"peak_rss_mb\": {:.1}, \"sent\": {}, \"quality\": {:?}}}",
                    a,
                    peak_rss_kb() as f64 / 1024.0,
                    serde_json::to_string(&report.sent).unwrap(),
                    report.quality,
                );
            }
            Err(e) => println!(
                "{{\"file\": {a:?}, \"error\": {:?}, \"cpu_ms\": {cpu:.1}}}",
                e.to_string()
            ),
        }
    }
}
