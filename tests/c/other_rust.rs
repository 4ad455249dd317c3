//! A second Rust static library for tests/c/run.sh (built with rustc alone): a C program links
//! it beside the installed libpiaoju.a, in either order. Both hold the Rust standard library and
//! a COMDAT group for the personality routine's pointer; libpiaoju.a's is local and renamed
//! (packaging/layout.sh), so neither replaces the other and each catches its own panics.

/// Panics and catches the panic: returns 42 when the unwinding worked.
#[no_mangle]
pub extern "C" fn other_rust_caught() -> i32 {
    let caught = std::panic::catch_unwind(|| {
        if std::hint::black_box(true) {
            std::panic::resume_unwind(Box::new(7_i32));
        }
        1
    });
    match caught {
        Ok(v) => v,
        Err(payload) => match payload.downcast::<i32>() {
            Ok(seven) if *seven == 7 => 42,
            _ => 2,
        },
    }
}
