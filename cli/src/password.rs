//! Passwords for private keys: `VOUCH_PASSWORD`, else `COSIGN_PASSWORD`, else the terminal.
//! Never logged, zeroized after use.

use std::ffi::OsString;

use anyhow::Result;
use zeroize::Zeroizing;

use crate::exit::UsageError;

/// Why the password is wanted.
pub(crate) enum Purpose<'a> {
    /// To decrypt this key file.
    Decrypt(&'a std::path::Path),
    /// To encrypt a new key file (asked twice on a terminal).
    Encrypt,
}

fn from_env(name: &str) -> Option<Zeroizing<Vec<u8>>> {
    std::env::var_os(name).map(|v: OsString| {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            Zeroizing::new(v.into_vec())
        }
        #[cfg(not(unix))]
        {
            Zeroizing::new(v.to_string_lossy().into_owned().into_bytes())
        }
    })
}

/// The password: from the environment when set (an explicitly empty value is an empty
/// password), else asked on the terminal.
pub(crate) fn password(purpose: Purpose<'_>) -> Result<Zeroizing<Vec<u8>>> {
    if let Some(pw) = from_env("VOUCH_PASSWORD").or_else(|| from_env("COSIGN_PASSWORD")) {
        return Ok(pw);
    }
    let no_tty = |e: std::io::Error| {
        UsageError(format!(
            "no password: set VOUCH_PASSWORD (or COSIGN_PASSWORD), or run on a terminal to be asked ({e})"
        ))
    };
    let prompt = match purpose {
        Purpose::Decrypt(path) => format!("Enter password for private key {}: ", path.display()),
        Purpose::Encrypt => "Enter password for private key: ".to_owned(),
    };
    let first = Zeroizing::new(rpassword::prompt_password(prompt).map_err(no_tty)?);
    if matches!(purpose, Purpose::Encrypt) {
        let again = Zeroizing::new(
            rpassword::prompt_password("Enter password for private key again: ").map_err(no_tty)?,
        );
        if *first != *again {
            return Err(UsageError("the two passwords differ; nothing was written".into()).into());
        }
        if first.is_empty() {
            return Err(UsageError(
                "empty password: to encrypt with an empty password, set VOUCH_PASSWORD=\"\" explicitly"
                    .into(),
            )
            .into());
        }
    }
    Ok(Zeroizing::new(first.as_bytes().to_vec()))
}

/// Loads cosign's encrypted key at `path`, asking for its password only after the file parsed
/// (a wrong path fails before any prompt).
pub(crate) fn load_signing_key(path: &std::path::Path) -> Result<vouch_core::keys::SigningKey> {
    use vouch_core::keys::files::{self, KeyFileError};
    let encrypted = files::read_encrypted_key(path, &vouch_core::limits::Limits::DEFAULT)?;
    let pw = password(Purpose::Decrypt(path))?;
    Ok(encrypted.decrypt(&pw).map_err(|kind| KeyFileError::Key {
        path: path.to_owned(),
        kind,
    })?)
}
