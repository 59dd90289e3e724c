"""Prints the TOTP code an authenticator app would show (pyotp: RFC 6238, SHA-1, 6 digits,
30 s) for a base32 secret at a Unix time. Usage: totp_code.py <secret> <unix_time>."""
import sys

import pyotp

print(pyotp.TOTP(sys.argv[1]).at(int(sys.argv[2])))
