//! The shared library's SONAME: `libpiaoju.so.<ABI>`. The ABI number changes only when a
//! `pj_*` function is removed or changes meaning (docs/c.md, "ABI policy"); adding one keeps it.
//! `ffi/exports.txt` lists the exported functions and `tests/exports.rs` holds the library to it.

/// The ABI number in the SONAME.
const ABI: u32 = 0;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        // For the cdylib only: the staticlib, tests and other crates are not affected.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpiaoju.so.{ABI}");
    }
    // For tests/exports.rs, which checks the SONAME of the built library.
    println!("cargo:rustc-env=PIAOJU_ABI={ABI}");
}
