//! libFuzzer target: see `vmail_fuzz_targets::ini_reader` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vmail_fuzz_targets::ini_reader(data);
});
