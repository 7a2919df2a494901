//! Keys in tokens and key services (`pkcs11:`, `hashivault://`, `awskms://`) where a command
//! takes `--key`: recognising the reference and running the backend's calls.

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::Result;
use vouch_core::kms::KeyRef;
use zeroize::Zeroizing;

/// The key reference `--key` names, or `None` for a key file. A PKCS#11 token's user PIN not
/// given (`pin-value=`, `VOUCH_PKCS11_PIN`) is asked for when stdin is a terminal.
pub(crate) fn reference(key: &Path) -> Result<Option<KeyRef>> {
    match key.to_str() {
        Some(s) if KeyRef::is_reference(s) => {
            let mut r = KeyRef::parse(s)?;
            if let KeyRef::Pkcs11(uri) = &mut r
                && uri.pin_given().is_none()
                && std::io::stdin().is_terminal()
            {
                let pin = rpassword::prompt_password(format!("Enter the user PIN of {uri}: "))?;
                uri.set_pin(Zeroizing::new(pin));
            }
            Ok(Some(r))
        }
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
