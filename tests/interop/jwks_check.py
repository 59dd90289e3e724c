"""Fetches a JWKS and imports every key with joserfc, an independent JOSE implementation.

Checks per key: it imports as a public key of the declared type, `use` is `sig`, the
`alg` is one tessera may announce, no private member is present, and the `kid` equals the
RFC 7638 thumbprint joserfc computes. Prints "<n> keys ok" on success, exits 1 otherwise.
"""
import json
import sys
import urllib.request

from joserfc.jwk import KeySet

ALLOWED_ALGS = {"ES256", "EdDSA", "RS256", "PS256"}
PRIVATE = {"d", "p", "q", "dp", "dq", "qi", "k"}


def main(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        document = json.load(response)
    key_set = KeySet.import_key_set(document)
    problems = []
    for raw, key in zip(document["keys"], key_set.keys):
        kid = raw.get("kid")
        if raw.get("use") != "sig":
            problems.append(f"{kid}: use is {raw.get('use')!r}")
        if raw.get("alg") not in ALLOWED_ALGS:
            problems.append(f"{kid}: alg {raw.get('alg')!r} not allowed")
        if PRIVATE & raw.keys():
            problems.append(f"{kid}: private members {sorted(PRIVATE & raw.keys())}")
        if key.is_private:
            problems.append(f"{kid}: imported as a private key")
        if key.thumbprint() != kid:
            problems.append(f"{kid}: thumbprint is {key.thumbprint()}")
    if problems:
        print("\n".join(problems))
        return 1
    print(f"{len(key_set.keys)} keys ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
