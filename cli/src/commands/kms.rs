//! Keys in tokens and key services (`pkcs11:`, `hashivault://`, `awskms://`) where a command
//! takes `--key`: recognising the reference and running the backend's calls.

use std::path::Path;

use anyhow::Result;
use vouch_core::kms::KeyRef;

/// The key reference `--key` names, or `None` for a key file.
pub(crate) fn reference(key: &Path) -> Result<Option<KeyRef>> {
    match key.to_str() {
        Some(s) if KeyRef::is_reference(s) => Ok(Some(KeyRef::parse(s)?)),
        _ => Ok(None),
    }
}

/// Runs a backend's calls to completion on a small runtime of this thread.
pub(crate) fn block_on<T, E>(f: impl std::future::Future<Output = Result<T, E>>) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(f)?)
}
