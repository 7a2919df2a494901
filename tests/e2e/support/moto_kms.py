"""moto's KMS server for vouch's e2e tests, on 127.0.0.1 (a free port, printed as `PORT n`).

moto (5.x) ignores `MessageType: DIGEST` in `Sign`: it hashes the 32-byte digest again and signs
SHA-256(digest) (its kms/models.py says "The MessageType-parameter DIGEST is not yet
implemented"). This harness fixes exactly that, as AWS KMS behaves: a DIGEST message is signed
as a prehashed SHA-256 digest (ECDSA over the digest itself). Everything else is moto's.

Each Sign request is appended to the log file (argv[1]) as one JSON line: KeyId, MessageType,
SigningAlgorithm and the message's hex, so a test checks what vouch sent.

On start it makes an RSA_2048 SIGN_VERIFY key with alias `alias/rsa-key` (a key of the wrong type
for the tests), two IAM users with access keys, printed as `SIGNER ID SECRET` (allowed kms:*) and
`NOBODY ID SECRET` (no policy), then turns on moto's request authentication (as with
INITIAL_NO_AUTH_ACTION_COUNT): from then on every request's SigV4 signature is checked with
botocore's signer (an independent implementation of vouch's) and its action against IAM
policies. Then it prints `READY`.
"""

import base64
import json
import sys
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from moto.kms import responses as kms_responses
from moto.server import ThreadedMotoServer

LOG = sys.argv[1]
original_sign = kms_responses.KmsResponse.sign


def sign(self):
    params = json.loads(self.body)
    message = base64.b64decode(params.get("Message", ""))
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps({
            "KeyId": params.get("KeyId"),
            "MessageType": params.get("MessageType"),
            "SigningAlgorithm": params.get("SigningAlgorithm"),
            "Message": message.hex(),
        }) + "\n")
    if params.get("MessageType") != "DIGEST":
        return original_sign(self)
    if params.get("SigningAlgorithm") != "ECDSA_SHA_256" or len(message) != 32:
        raise kms_responses.ValidationException(
            "DIGEST signing here takes ECDSA_SHA_256 and a 32-byte digest")
    key = self.kms_backend.describe_key(params["KeyId"])
    private = key.private_key.private_key
    signature = private.sign(message, ec.ECDSA(Prehashed(hashes.SHA256())))
    return json.dumps({
        "KeyId": key.arn,
        "Signature": base64.b64encode(signature).decode(),
        "SigningAlgorithm": "ECDSA_SHA_256",
    })


kms_responses.KmsResponse.sign = sign

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
port = server._server.server_port  # pylint: disable=protected-access
print(f"PORT {port}", flush=True)

import boto3  # noqa: E402  (moto depends on it)

kms = boto3.client(
    "kms",
    region_name="us-east-1",
    endpoint_url=f"http://127.0.0.1:{port}",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
kms.create_alias(AliasName="alias/rsa-key", TargetKeyId=rsa["KeyMetadata"]["KeyId"])
iam = boto3.client(
    "iam",
    region_name="us-east-1",
    endpoint_url=f"http://127.0.0.1:{port}",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
for user, policy in (("SIGNER", "kms:*"), ("NOBODY", None)):
    iam.create_user(UserName=user.lower())
    if policy:
        iam.put_user_policy(
            UserName=user.lower(),
            PolicyName="kms",
            PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": policy, "Resource": "*"}],
            }),
        )
    key = iam.create_access_key(UserName=user.lower())["AccessKey"]
    print(f"{user} {key['AccessKeyId']} {key['SecretAccessKey']}", flush=True)

from moto import settings  # noqa: E402

settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
print("READY", flush=True)
while True:
    time.sleep(3600)
