"""Verifies a tessera access token offline the way a downstream service would: PyJWT with
its JWKS client, an explicit algorithm allowlist, and iss/aud/exp checks, plus the RFC 9068
`typ` header. Usage: verify_access_token.py <jwks_url> <token> <issuer> <audience> <alg>.
Prints the verified claims as JSON; exits 1 with the reason otherwise.
"""
import json
import sys

import jwt


def main(jwks_url: str, token: str, issuer: str, audience: str, alg: str) -> int:
    header = jwt.get_unverified_header(token)
    if header.get("typ") != "at+jwt":
        print(f"typ is {header.get('typ')!r}, expected at+jwt")
        return 1
    signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
    try:
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=[alg],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
        )
    except jwt.PyJWTError as e:
        print(f"rejected: {e!r}")
        return 1
    print(json.dumps(claims))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
