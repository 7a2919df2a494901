//! Test TLS material: a CA and a server certificate for 127.0.0.1 / localhost.

use std::path::Path;
use std::process::Command;

use super::{python, run};

/// A CA and a server certificate for 127.0.0.1 / localhost signed by it, as `NAME-ca.pem`,
/// `NAME.crt`, `NAME.key` in `dir` (Python `cryptography`).
pub fn make_certs(dir: &Path, name: &str) {
    let script = r#"
import datetime, ipaddress, sys, os
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
d, name = sys.argv[1], sys.argv[2]
now = datetime.datetime.now(datetime.timezone.utc)
def nm(cn): return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
ca_key = ec.generate_private_key(ec.SECP256R1())
ca = (x509.CertificateBuilder().subject_name(nm(name + " test CA")).issuer_name(nm(name + " test CA"))
      .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
      .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
      .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
      .sign(ca_key, hashes.SHA256()))
key = ec.generate_private_key(ec.SECP256R1())
leaf = (x509.CertificateBuilder().subject_name(nm("vouch-webhook")).issuer_name(ca.subject)
      .public_key(key.public_key()).serial_number(x509.random_serial_number())
      .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
      .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
      .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
      .sign(ca_key, hashes.SHA256()))
open(os.path.join(d, name + "-ca.pem"), "wb").write(ca.public_bytes(serialization.Encoding.PEM))
open(os.path.join(d, name + ".crt"), "wb").write(leaf.public_bytes(serialization.Encoding.PEM))
open(os.path.join(d, name + ".key"), "wb").write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
"#;
    run(Command::new(python())
        .args(["-c", script])
        .arg(dir)
        .arg(name))
    .ok();
}
