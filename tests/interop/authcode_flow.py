"""The authorization-code flow with PKCE driven by a certified relying-party library
(Authlib's OAuth2Session and its JOSE), with requests as the browser: sign-in on the
hosted page (and the TOTP step when a secret is given), consent when asked, the code
redeemed, the ID token verified against the JWKS (iss, aud, nonce, at_hash), a refresh,
then a second authorization that the SSO session answers without a form, prompt=none,
and prompt=login, which asks again.

usage: authcode_flow.py ISSUER_URL CLIENT_ID REDIRECT_URI EMAIL PASSWORD [TOTP_SECRET [UNIX_TIME]]
Prints a JSON report; exits 1 with the reason when a step fails.
"""

import html.parser
import json
import sys
import urllib.parse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

base, client_id, redirect_uri, email, password = sys.argv[1:6]
totp_secret = sys.argv[6] if len(sys.argv) > 6 else None
# the server's clock (a test's fixed clock) for the TOTP code, else the wall clock
totp_time = float(sys.argv[7]) if len(sys.argv) > 7 else None


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


class Forms(html.parser.HTMLParser):
    """Every form on a page: action, hidden inputs, the names of the other inputs and
    the submit buttons (name, value, text)."""

    def __init__(self):
        super().__init__()
        self.forms, self._button = [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "hidden": {}, "inputs": [], "buttons": []})
        elif tag == "input" and self.forms:
            if a.get("type") == "hidden":
                self.forms[-1]["hidden"][a["name"]] = a.get("value", "")
            else:
                self.forms[-1]["inputs"].append(a)
        elif tag == "button" and self.forms:
            self._button = {"name": a.get("name"), "value": a.get("value"), "type": a.get("type"), "text": ""}
            self.forms[-1]["buttons"].append(self._button)

    def handle_data(self, data):
        if self._button is not None:
            self._button["text"] += data.strip()

    def handle_endtag(self, tag):
        if tag == "button":
            self._button = None


def forms_of(response):
    parser = Forms()
    parser.feed(response.text)
    return parser.forms


discovery = requests.get(f"{base}/.well-known/openid-configuration").json()
# the test server listens on a port of its own; its issuer names the configured one
for key in ("jwks_uri", "authorization_endpoint", "token_endpoint"):
    discovery[key] = discovery[key].replace(discovery["issuer"], base, 1)
jwks = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"]).json())
browser = requests.Session()
report = {"pages": []}


def authorize(client, extra=None):
    """Starts an authorization; returns (response, state, nonce, verifier)."""
    verifier, nonce = generate_token(64), generate_token(20)
    url, state = client.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **(extra or {})
    )
    return browser.get(url, allow_redirects=False), state, nonce, verifier


def follow_pages(response):
    """Fills in the hosted pages until the answer goes back to the client."""
    for _ in range(5):
        if response.status_code in (302, 303):
            location = response.headers["Location"]
            if location.startswith(redirect_uri):
                return location
            fail(f"redirected elsewhere: {location}")
        if response.status_code != 200:
            fail(f"page answered {response.status_code}: {response.text[:500]}")
        forms = forms_of(response)
        if not forms:
            fail(f"no form on the page: {response.text[:500]}")
        form = forms[0]
        names = [i.get("name") for i in form["inputs"]]
        data = dict(form["hidden"])
        if "password" in names:
            report["pages"].append("signin")
            data.update(email=email, password=password)
        elif "code" in names:
            report["pages"].append("mfa")
            import pyotp, time

            data["code"] = pyotp.TOTP(totp_secret).at(totp_time or time.time())
        elif any(b["value"] == "allow" for b in form["buttons"]):
            report["pages"].append("consent")
            allow = next(b for b in form["buttons"] if b["value"] == "allow")
            if allow["text"] != "Allow":
                fail(f"the approve button says {allow['text']!r}")
            data["decision"] = "allow"
        else:
            fail(f"unknown page: {response.text[:500]}")
        action = urllib.parse.urljoin(response.url, form["action"])
        response = browser.post(action, data=data, allow_redirects=False)
    fail("too many pages")


def redeem(client, location, state, nonce, verifier):
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    if query.get("iss") != discovery["issuer"]:
        fail(f"the answer carries iss={query.get('iss')!r} (RFC 9207)")
    token = client.fetch_token(
        discovery["token_endpoint"], authorization_response=location, state=state, code_verifier=verifier
    )
    # OIDC Core §3.1.3.7 as Authlib checks it: iss, aud, exp, iat, nonce, at_hash
    claims = jwt.decode(
        token["id_token"],
        jwks,
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": discovery["issuer"]},
            "aud": {"essential": True, "value": client_id},
            "nonce": {"essential": True, "value": nonce},
        },
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
    )
    # a test's server clock may run ahead of this one (the TOTP case advances it 30 s)
    claims.validate(leeway=120 if totp_time else 0)
    return token, claims


client = OAuth2Session(
    client_id,
    redirect_uri=redirect_uri,
    scope="openid email",
    code_challenge_method="S256",
)

response, state, nonce, verifier = authorize(client)
location = follow_pages(response)
token, claims = redeem(client, location, state, nonce, verifier)
report["first"] = {"amr": claims["amr"], "sid": claims["sid"], "email": claims.get("email")}
refreshed = client.refresh_token(discovery["token_endpoint"], refresh_token=token["refresh_token"])
report["refreshed"] = "access_token" in refreshed and refreshed["refresh_token"] != token["refresh_token"]

pages_before = len(report["pages"])
response, state, nonce, verifier = authorize(client)
location = follow_pages(response)
token, claims = redeem(client, location, state, nonce, verifier)
report["sso_skipped_the_form"] = len(report["pages"]) == pages_before
report["second_auth_time"] = claims["auth_time"]
report["first_auth_time_kept"] = claims["auth_time"] == report.get("first_auth_time", claims["auth_time"])

response, state, nonce, verifier = authorize(client, {"prompt": "none"})
location = follow_pages(response)
token, claims = redeem(client, location, state, nonce, verifier)
report["prompt_none_with_session"] = "ok"

response, state, nonce, verifier = authorize(client, {"prompt": "login"})
forms = forms_of(response)
report["prompt_login_asks_again"] = bool(forms) and any(i.get("name") == "password" for i in forms[0]["inputs"])

print(json.dumps(report))
