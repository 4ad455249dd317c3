//! The C library exports exactly the functions of `ffi/exports.txt`, the header declares the
//! same ones, and the shared library's SONAME is `libpiaoju.so.<ABI>` (docs/c.md, "ABI policy").
//! The library is the `libpiaoju.so` cargo built next to this test's executable.
#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn listed() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("exports.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        names, sorted,
        "ffi/exports.txt: one name a line, sorted, no repeats"
    );
    names.into_iter().collect()
}

/// The `libpiaoju.so` of this test's profile, built (or found fresh) by the same command as the
/// C suite's (`tests/c/run.sh`), so that neither builds the library a second time.
fn library() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            // target/<profile dir>/deps/exports-HASH -> target/<profile dir>/libpiaoju.so
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().unwrap().parent().unwrap();
            let mut cargo = Command::new(env!("CARGO"));
            cargo.args([
                "build",
                "--quiet",
                "-p",
                "piaoju-ffi",
                "-p",
                "piaoju-sandbox",
            ]);
            match dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") => {}
                Some(profile) => {
                    cargo.args(["--profile", profile]);
                }
                None => panic!("no profile directory above {}", exe.display()),
            }
            // Without the variables cargo sets for this test: build scripts such as ring's track
            // CARGO_MANIFEST_DIR and OUT_DIR, and would run again with them set.
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy().into_owned();
                if set_by_cargo_for_a_test(&name) {
                    cargo.env_remove(&name);
                }
            }
            let status = cargo
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .unwrap();
            assert!(status.success(), "cargo build -p piaoju-ffi failed");
            let path = dir.join("libpiaoju.so");
            assert!(path.is_file(), "{} was not built", path.display());
            path
        })
        .clone()
}

/// The variables cargo sets for a test process (cargo's documentation, "Environment variables
/// Cargo sets for crates"); the user's own CARGO_* settings are kept.
fn set_by_cargo_for_a_test(name: &str) -> bool {
    const PREFIXES: [&str; 3] = ["CARGO_PKG_", "CARGO_BIN_EXE_", "CARGO_CFG_"];
    const NAMES: [&str; 9] = [
        "OUT_DIR",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
    ];
    NAMES.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The parts of an ELF64 little-endian file this test reads.
struct Elf {
    bytes: Vec<u8>,
}

struct Section {
    kind: usize,
    offset: usize,
    size: usize,
    link: usize,
    entsize: usize,
}

impl Elf {
    fn read(path: &Path) -> Elf {
        let bytes = std::fs::read(path).unwrap();
        assert!(
            bytes.len() > 64 && bytes[..4] == *b"\x7fELF" && bytes[4] == 2 && bytes[5] == 1,
            "{} is not a 64-bit little-endian ELF file",
            path.display()
        );
        Elf { bytes }
    }
    fn u16(&self, at: usize) -> usize {
        u16::from_le_bytes(self.bytes[at..at + 2].try_into().unwrap()) as usize
    }
    fn u32(&self, at: usize) -> usize {
        u32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap()) as usize
    }
    fn u64(&self, at: usize) -> usize {
        u64::from_le_bytes(self.bytes[at..at + 8].try_into().unwrap()) as usize
    }
    fn sections(&self) -> Vec<Section> {
        let (start, size, count) = (self.u64(0x28), self.u16(0x3a), self.u16(0x3c));
        (0..count)
            .map(|i| start + i * size)
            .map(|h| Section {
                kind: self.u32(h + 4),
                offset: self.u64(h + 0x18),
                size: self.u64(h + 0x20),
                link: self.u32(h + 0x28),
                entsize: self.u64(h + 0x38),
            })
            .collect()
    }
    fn string(&self, table: &Section, at: usize) -> String {
        let start = table.offset + at;
        let end = start + self.bytes[start..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8(self.bytes[start..end].to_vec()).unwrap()
    }
    /// Defined global or weak functions and objects of default visibility in `.dynsym`.
    fn exports(&self) -> BTreeSet<String> {
        let sections = self.sections();
        let dynsym = sections.iter().find(|s| s.kind == 11).expect("no .dynsym");
        let strtab = &sections[dynsym.link];
        (0..dynsym.size / dynsym.entsize)
            .map(|i| dynsym.offset + i * dynsym.entsize)
            .filter(|&s| {
                let (info, other, shndx) = (self.bytes[s + 4], self.bytes[s + 5], self.u16(s + 6));
                shndx != 0
                    && matches!(info >> 4, 1 | 2)
                    && matches!(info & 0xf, 1 | 2)
                    && other & 3 == 0
            })
            .map(|s| self.string(strtab, self.u32(s)))
            .collect()
    }
    /// DT_SONAME of `.dynamic`.
    fn soname(&self) -> Option<String> {
        let sections = self.sections();
        let dynamic = sections.iter().find(|s| s.kind == 6)?;
        let strtab = &sections[dynamic.link];
        (0..dynamic.size / 16)
            .map(|i| dynamic.offset + i * 16)
            .find(|&e| self.u64(e) == 14)
            .map(|e| self.string(strtab, self.u64(e + 8)))
    }
}

#[test]
fn the_library_exports_exactly_the_listed_functions() {
    let exported = Elf::read(&library()).exports();
    let listed = listed();
    let missing: Vec<_> = listed.difference(&exported).collect();
    let unlisted: Vec<_> = exported.difference(&listed).collect();
    assert!(
        missing.is_empty() && unlisted.is_empty(),
        "libpiaoju.so and ffi/exports.txt disagree: listed but not exported {missing:?}, \
         exported but not listed {unlisted:?}"
    );
}

#[test]
fn the_header_declares_exactly_the_listed_functions() {
    let header = Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/piaoju.h");
    let header = std::fs::read_to_string(header).unwrap();
    // Declarations are one a line: `RETURN_TYPE pj_name(ARGS);`
    let declared: BTreeSet<String> = header
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('/') && l.ends_with(");"))
        .filter_map(|l| l.split('(').next()?.rsplit([' ', '*']).next())
        .filter(|name| name.starts_with("pj_"))
        .map(String::from)
        .collect();
    assert_eq!(
        declared,
        listed(),
        "include/piaoju.h and ffi/exports.txt disagree"
    );
}

#[test]
fn the_shared_library_is_named_by_its_abi_number() {
    let soname = Elf::read(&library()).soname();
    assert_eq!(
        soname.as_deref(),
        Some(concat!("libpiaoju.so.", env!("PIAOJU_ABI")))
    );
}
