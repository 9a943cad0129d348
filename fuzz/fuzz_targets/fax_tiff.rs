//! libFuzzer target: see `vmail_fuzz_targets::fax_tiff` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vmail_fuzz_targets::fax_tiff(data);
});
