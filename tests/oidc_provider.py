"""A real OpenID provider for the tests, run in the test session (issue 23).

Built on Authlib's server side: ``AuthorizationServer`` with the authorization code grant, OpenID
Connect's ``OpenIDCode`` (a nonce required) and PKCE's ``CodeChallenge`` (required); an RSA key
made at start; discovery, JWKS, token and userinfo endpoints; and a login page – an HTML form to
pick or type the user – as a browser sees it.  Served by werkzeug in a thread on a free port (the
``oidc_provider`` fixture in tests/conftest.py's neighbour, tests/test_single_sign_on.py, and the
browser journey).

Tests register users with their claims (``add_user``) and can ask for the next ID token to be
spoilt (``spoil_next``): "signature" (a byte of the signature changed), "payload" (a byte of the
claims changed, the signature kept), "aud" (made for another client), "expired", "nonce" (another
nonce) – each signed with the provider's real key – and can turn the key over (``rotate_key``).
Authlib's server wants https unless ``AUTHLIB_INSECURE_TRANSPORT`` is set: it is set here, for the
tests' process only.
"""

import base64
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, UserInfo
from authlib.oidc.core.util import create_half_hash
from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from markupsafe import escape
from werkzeug.serving import make_server

os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # http on 127.0.0.1, in the tests only

CLIENT_ID = "tracker-test"
CLIENT_SECRET = "tracker-test-secret"


@dataclass
class User:
    sub: str
    email: str | None = None
    email_verified: bool | None = True
    amr: list[str] = field(default_factory=lambda: ["pwd"])
    acr: str | None = None
    name: str = "Kari Nordmann"
    extra: dict = field(default_factory=dict)  # more claims (Entra's tid, xms_edov …)

    def get_user_id(self):
        return self.sub


class Client:
    """The tracker, registered with the provider (a confidential client)."""

    def __init__(self, provider):
        self.provider = provider

    def get_client_id(self):
        return CLIENT_ID

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return " ".join(s for s in scope.split() if s in ("openid", "email", "profile"))

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.provider.redirect_uris

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, CLIENT_SECRET)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post") if endpoint == "token" else True

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return self.user.acr

    def get_amr(self):
        return self.user.amr

    def is_expired(self):
        return time.time() - self.auth_time > 300


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

    def save_authorization_code(self, code, request):
        data = request.payload.data
        self.server.provider.codes[code] = Code(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri,
            scope=request.payload.scope,
            user=request.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code, client):
        found = self.server.provider.codes.get(code)
        if found and found.client_id == client.get_client_id() and not found.is_expired():
            return found
        return None

    def delete_authorization_code(self, authorization_code):
        self.server.provider.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return authorization_code.user


class TestOpenIDCode(OpenIDCode):
    """The ID token, signed with the provider's key – spoilt as the test asked for the next one."""

    def __init__(self, provider):
        super().__init__(require_nonce=True)
        self.provider = provider

    def resolve_client_private_key(self, client):
        return self.provider.key

    def get_client_algorithm(self, client):
        return "RS256"

    def get_client_claims(self, client):
        return {"iss": self.provider.issuer, "aud": [client.get_client_id()]}

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": self.provider.key.kid}

    def exists_nonce(self, nonce, request):
        return any(code.nonce == nonce for code in self.provider.codes.values())

    def generate_user_info(self, user, scope):
        info = UserInfo(sub=user.sub, name=user.name)
        if "email" in scope.split() and user.email is not None:
            info["email"] = user.email
            if user.email_verified is not None:
                info["email_verified"] = user.email_verified
        info.update(user.extra)
        return info

    def encode_id_token(self, token, request):
        claims = self.get_compatible_claims(request)
        claims.update(self.get_authorization_code_claims(request.authorization_code))
        claims["at_hash"] = create_half_hash(token["access_token"], "RS256").decode()
        claims.update(self.generate_user_info(request.user, token["scope"]))
        spoil = self.provider.take_spoiler()
        now = int(time.time())
        if self.provider.multi_tenant:  # the issuer names the user's tenant (or, spoilt, another)
            tenant = str(uuid.uuid4()) if spoil == "tid" else claims.get("tid", "")
            claims["iss"] = f"{self.provider.url}/{tenant}/v2.0"
        if spoil == "aud":
            claims["aud"] = ["another-client"]
        elif spoil == "expired":
            claims.update(iat=now - 7200, exp=now - 3600, auth_time=now - 7200)
        elif spoil == "nonce":
            claims["nonce"] = secrets.token_urlsafe(32)
        encoded = jwt.encode(self.get_encode_header(request.client), claims, self.provider.key, ["RS256"])
        if spoil in ("signature", "payload"):
            header, payload, signature = encoded.split(".")
            if spoil == "signature":
                raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
                raw[10] ^= 0x01
                signature = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
            else:
                raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
                raw = raw.replace(request.user.sub.encode(), request.user.sub[:-1].encode() + b"X", 1)
                payload = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
            encoded = ".".join((header, payload, signature))
        return encoded


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test provider – sign in</title></head>
<body><main>
<h1>Test provider</h1>
<form method="post" action="{action}">
<label for="user">User name</label>
<input id="user" name="user" list="users" autocomplete="username" required>
<datalist id="users">{options}</datalist>
<button type="submit" name="decision" value="sign-in">Sign in at the test provider</button>
<button type="submit" name="decision" value="cancel" formnovalidate>Cancel</button>
</form>
</main></body></html>"""


class Provider:
    """The provider: its users, codes, tokens and key; ``url`` once served."""

    def __init__(self):
        self.users: dict[str, User] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, dict] = {}
        self.redirect_uris: set[str] = set()
        self.spoilers: list[str] = []
        self.requests: list[str] = []  # the paths asked for, in order (discovery and JWKS reads)
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "use": "sig"})
        self.old_keys: list[RSAKey] = []
        self.lock = threading.Lock()
        self.url = ""
        self.multi_tenant = False  # as Microsoft Entra ID's "organizations" endpoint (see ``issuer``)
        self.app = self.make_app()

    @property
    def issuer(self):
        """The discovery document's issuer: for a multi-tenant provider Entra ID's template, each
        token's ``iss`` then names the user's own tenant (``tid``)."""
        return self.url + "/{tenantid}/v2.0" if self.multi_tenant else self.url

    @property
    def configured_issuer(self):
        """What the app is configured with (where discovery is found)."""
        return self.url + "/organizations/v2.0" if self.multi_tenant else self.url

    def add_user(self, sub, **claims):
        user = User(sub=sub, **claims)
        self.users[sub] = user
        return user

    def allow_redirect(self, base_url, provider_name="test"):
        self.redirect_uris.add(f"{base_url.rstrip('/')}/sign-in/with/{provider_name}/callback")

    def spoil_next(self, how):
        assert how in ("signature", "payload", "aud", "expired", "nonce", "tid"), how
        self.spoilers.append(how)

    def take_spoiler(self):
        with self.lock:
            return self.spoilers.pop(0) if self.spoilers else None

    def rotate_key(self):
        """A new signing key with a new key id; the JWKS lists the new one (and the old ones)."""
        self.old_keys.append(self.key)
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "use": "sig"})

    def reset(self):
        self.users.clear()
        self.codes.clear()
        self.tokens.clear()
        self.spoilers.clear()
        self.requests.clear()
        self.multi_tenant = False

    def make_app(self):
        provider = self
        app = Flask("test_oidc_provider")
        app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": 600}

        def save_token(token, request):
            provider.tokens[token["access_token"]] = {"user": request.user, "scope": token.get("scope", "")}

        server = AuthorizationServer(
            app,
            query_client=lambda client_id: Client(provider) if client_id == CLIENT_ID else None,
            save_token=save_token,
        )
        server.provider = provider
        server.register_grant(
            AuthorizationCodeGrant, [TestOpenIDCode(provider), CodeChallenge(required=True)]
        )

        @app.before_request
        def note():
            provider.requests.append(request.path)

        @app.get("/.well-known/openid-configuration")
        @app.get("/organizations/v2.0/.well-known/openid-configuration")
        def discovery():
            return jsonify(
                issuer=provider.issuer,
                authorization_endpoint=provider.url + "/authorize",
                token_endpoint=provider.url + "/token",
                userinfo_endpoint=provider.url + "/userinfo",
                jwks_uri=provider.url + "/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                scopes_supported=["openid", "email", "profile"],
                token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
                code_challenge_methods_supported=["S256"],
                claims_supported=["sub", "email", "email_verified", "name", "amr", "acr"],
            )

        @app.get("/favicon.ico")
        def favicon():
            return "", 204

        @app.get("/jwks")
        def jwks():
            keys = KeySet([provider.key, *provider.old_keys])
            return jsonify(keys.as_dict(private=False))

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize():
            user = None
            if request.method == "POST" and request.form.get("decision") == "sign-in":
                name = request.form.get("user", "")
                user = provider.users.get(name)
                if user is None:
                    return "No such user at the test provider.", 400
            try:
                grant = server.get_consent_grant(end_user=user)
            except OAuth2Error as error:
                return (
                    f"Bad authorization request: {escape(error.error)} {escape(error.description or '')}",
                    400,
                )
            if request.method == "GET":
                options = "".join(f'<option value="{escape(sub)}">' for sub in provider.users)
                action = escape(request.full_path)
                return LOGIN_PAGE.format(action=action, options=options)
            return server.create_authorization_response(grant=grant, grant_user=user)

        @app.post("/token")
        def token():
            return server.create_token_response()

        @app.get("/userinfo")
        def userinfo():
            kind, _, value = request.headers.get("Authorization", "").partition(" ")
            found = provider.tokens.get(value) if kind.lower() == "bearer" else None
            if found is None:
                return jsonify(error="invalid_token"), 401
            user = found["user"]
            return jsonify(sub=user.sub, email=user.email, name=user.name)

        return app

    def __enter__(self):
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(5)

    def host(self):
        return urlsplit(self.url).netloc


@pytest.fixture(scope="session")
def oidc_provider():
    """The test provider, served for the whole session; each test resets it (``provider``)."""
    with Provider() as provider:
        yield provider


def settings_for(provider, **changes):
    """The app's ``OIDC_PROVIDERS`` for the test provider, named "test"."""
    return [
        {
            "name": "test",
            "issuer": provider.configured_issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "display_name": "Testleverandøren",
            "scopes": "openid email profile",
            "acr_values": "",
            "trust_amr": ["mfa"],
            "trust_acr": [],
            "trust_email": False,
            **changes,
        }
    ]
