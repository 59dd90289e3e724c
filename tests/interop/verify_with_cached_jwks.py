"""A downstream verifier with a cached key set: loads a JWKS fetched earlier from a file
(never fetching again) and verifies each access token read from stdin, one per line, with
PyJWT, an explicit algorithm allowlist, and iss/aud/exp checks. Usage:
verify_with_cached_jwks.py <jwks_file> <issuer> <audience>. Prints one line per token:
`ok <kid>` or `rejected <reason>`; exits 1 if any token was rejected.
"""
import json
import sys

import jwt

ALLOWED = ["ES256", "EdDSA", "RS256", "PS256"]


def main(jwks_file: str, issuer: str, audience: str) -> int:
    with open(jwks_file, encoding="utf-8") as f:
        keys = {k["kid"]: k for k in json.load(f)["keys"]}
    failed = False
    for token in (line.strip() for line in sys.stdin):
        if not token:
            continue
        header = jwt.get_unverified_header(token)
        jwk = keys.get(header.get("kid"))
        if jwk is None or header.get("typ") != "at+jwt" or jwk.get("alg") not in ALLOWED:
            print(f"rejected kid {header.get('kid')!r} not in the cached key set")
            failed = True
            continue
        try:
            jwt.decode(
                token,
                jwt.PyJWK(jwk).key,
                algorithms=[jwk["alg"]],
                issuer=issuer,
                audience=audience,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
            )
            print(f"ok {header['kid']}")
        except jwt.PyJWTError as e:
            print(f"rejected {e!r}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
