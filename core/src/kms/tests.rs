use super::*;

#[test]
fn pkcs11_uri_parses_and_hides_the_pin() {
    let r = KeyRef::parse(
        "pkcs11:token=my%20token;object=signer;id=%01%02?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=s3cret-pin",
    )
    .unwrap();
    let shown = format!("{r} {r:?}");
    assert!(!shown.contains("s3cret-pin"), "{shown}");
    assert!(shown.contains("token=my token"), "{shown}");
    assert!(shown.contains("id=%01%02"), "{shown}");
    assert!(matches!(
        KeyRef::parse("pkcs11:object=x"),
        Err(KmsError::BadReference { .. })
    ));
    assert!(matches!(
        KeyRef::parse("pkcs11:token=t"),
        Err(KmsError::BadReference { .. })
    ));
    assert!(matches!(
        KeyRef::parse("pkcs11:token=t;id=%zz"),
        Err(KmsError::BadReference { .. })
    ));
}

#[test]
fn cosign_spellings() {
    for ok in [
        "hashivault://release-key_1",
        "awskms:///1234abcd-12ab-34cd-56ef-1234567890ab",
        "awskms:///alias/release",
        "awskms://localhost:4566/alias/release",
        "awskms:///arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "awskms:///arn:aws:kms:us-east-2:111122223333:alias/release",
    ] {
        let r = KeyRef::parse(ok).unwrap();
        assert_eq!(r.to_string(), ok);
        assert!(KeyRef::is_reference(ok));
    }
    for bad in [
        "hashivault://",
        "hashivault://a/b",
        "awskms://",
        "awskms:///",
        "awskms:///arn:aws:s3:::bucket",
        "awskms:///x/y",
    ] {
        assert!(
            matches!(KeyRef::parse(bad), Err(KmsError::BadReference { .. })),
            "{bad}"
        );
    }
    for scheme in ["gcpkms", "azurekms"] {
        let e = KeyRef::parse(&format!("{scheme}://projects/p/x")).unwrap_err();
        assert_eq!(
            e,
            KmsError::Unsupported {
                scheme: scheme.into()
            }
        );
    }
    assert!(!KeyRef::is_reference("cosign.key"));
    assert!(!KeyRef::is_reference("./pkcs11:x"));
}

#[test]
fn aws_arn_gives_region_and_alias() {
    let KeyRef::Aws(r) =
        KeyRef::parse("awskms:///arn:aws:kms:eu-west-1:111122223333:alias/rel").unwrap()
    else {
        panic!("not aws");
    };
    assert_eq!(r.region_from_arn().as_deref(), Some("eu-west-1"));
    assert_eq!(r.alias().as_deref(), Some("alias/rel"));
}

/// What an async signer needs: the key is shared across tasks and its futures move between
/// threads.
#[allow(dead_code)]
fn remote_key_is_send_and_sync(key: &RemoteKey) {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    send_sync(key);
    send(key.sign_dsse("application/vnd.in-toto+json", b"{}"));
    send(key.sign_payload(b"{}"));
    send(RemoteKey::connect(key.reference()));
}
