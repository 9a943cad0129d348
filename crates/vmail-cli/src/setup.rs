//! What every front-end does first: find and load vsisrv.ini, open the spool.

use anyhow::anyhow;
use std::path::Path;
use vmail_config::Config;
use vmail_spool::Spool;

/// Loads the configuration at `--config` (or the default path). Every
/// error of the file is in the message, one per line.
pub fn load_config(cli: Option<&Path>) -> anyhow::Result<Config> {
    let path = vmail_config::config_path(cli);
    vmail_config::load(&path)
        .map(|loaded| loaded.config)
        .map_err(|problems| anyhow!("{problems}"))
}

/// Opens the spool the configuration names (`[VFXSCHED] spool`).
pub fn open_spool(config: &Config) -> anyhow::Result<Spool> {
    Spool::open(&config.spool)
        .map_err(|err| anyhow!("cannot open the spool {}: {err}", config.spool.display()))
}

/// The real user id of this process, without `unsafe`: the owner of
/// `/proc/self`. `None` where there is no procfs.
pub fn uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|meta| meta.uid())
}
