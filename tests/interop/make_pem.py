"""Prints a fresh PEM (PKCS#8) private key made by an independent library, for the key
import tests. Usage: make_pem.py p256|ed25519|rsa2048|rsa1024|p384."""
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

KINDS = {
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "rsa2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "rsa1024": lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
}

key = KINDS[sys.argv[1]]()
sys.stdout.write(
    key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
)
