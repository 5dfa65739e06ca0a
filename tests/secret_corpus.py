"""Credential-like values for the leak campaign (tests/test_secret_leaks.py).

Every value is fake but shaped like what users carry. ``secret`` is what must never be
printed; ``text`` is how the value shows up in free text (a commit subject, an assertion
message, a prompt); ``alone`` says whether ``secret`` is recognisable on its own, as a bare
value under an innocent key or as a mapping key. A value that is not (a 32-hex Azure key, a
database password) is masked only under a secret name or in a ``text`` that names it.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"


def _r(label: str, n: int, alphabet: str = _ALNUM) -> str:
    rng = random.Random(label)
    return "".join(rng.choice(alphabet) for _ in range(n))


@dataclass(frozen=True)
class Secret:
    label: str
    secret: str
    text: str
    alone: bool = True
    full: str = ""  # the value as placed in a config, when more than ``secret`` (a PEM's armour)

    @property
    def value(self) -> str:
        return self.full or self.secret

    @property
    def fragments(self) -> list[str]:
        """The parts of ``secret`` that must not appear in any output (one per line)."""
        return [line for line in self.secret.splitlines() if line.strip()]


def _pem(label: str, kind: str) -> Secret:
    lines = [_r(f"{label}{i}", 64, _B64) for i in range(4)]
    body = "\n".join(lines)
    key = f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"
    return Secret(label, body, f"key file: {key}", full=key)


def _alone(label: str, value: str) -> Secret:
    return Secret(label, value, f"leaked {value} here")


CORPUS: list[Secret] = [
    _alone("openai-project", "sk-proj-" + _r("op", 48, _ALNUM + "_-")),
    _alone("openai-legacy", "sk-" + _r("ol", 48)),
    _alone("anthropic", "sk-ant-api03-" + _r("an", 80, _ALNUM + "_-") + "AA"),
    _alone("deepseek", "sk-" + _r("ds", 32, "0123456789abcdef")),
    _alone("github-classic", "ghp_" + _r("gh", 36)),
    _alone("github-oauth", "gho_" + _r("gho", 36)),
    _alone("github-app", "ghs_" + _r("ghs", 36)),
    _alone("github-fine-grained", "github_pat_11" + _r("gpat", 20) + "_" + _r("gpat2", 59)),
    _alone("gitlab", "glpat-" + _r("gl", 20, _ALNUM + "_-")),
    _alone("huggingface", "hf_" + _r("hf", 34)),
    _alone(
        "slack-bot", "xoxb-" + _r("sb", 12, string.digits) + "-" + _r("sb2", 13, string.digits) + "-" + _r("sb3", 24)
    ),
    _alone("slack-user", "xoxp-" + _r("su", 12, string.digits) + "-" + _r("su2", 32)),
    _alone("slack-app", "xapp-1-" + _r("sa", 11) + "-" + _r("sa2", 40)),
    _alone("slack-webhook", "hooks.slack.com/services/T" + _r("sw", 8) + "/B" + _r("sw2", 8) + "/" + _r("sw3", 24)),
    _alone("aws-access-key", "AKIA" + _r("ak", 16, string.ascii_uppercase + string.digits)),
    _alone("aws-session-key", "ASIA" + _r("as", 16, string.ascii_uppercase + string.digits)),
    _alone("google-api", "AIza" + _r("ga", 35, _ALNUM + "_-")),
    _alone("google-oauth", "ya29." + _r("go", 60, _ALNUM + "_-")),
    _alone("jwt", "eyJhbGciOiJIUzI1NiJ9." + "eyJ" + _r("jw", 40, _ALNUM + "_-") + "." + _r("jw2", 43, _ALNUM + "_-")),
    _alone("stripe", "sk_live_" + _r("st", 32)),
    _alone("groq", "gsk_" + _r("gq", 52)),
    _alone("replicate", "r8_" + _r("rp", 37)),
    _alone("perplexity", "pplx-" + _r("px", 48)),
    _alone("nvidia", "nvapi-" + _r("nv", 64, _ALNUM + "_-")),
    _alone("npm", "npm_" + _r("npm", 36)),
    _alone("pypi", "pypi-AgEIcHlwaS5vcmc" + _r("pp", 60, _ALNUM + "_-")),
    _alone("azure-ai-services", _r("az", 52) + "JQQJ99BCACYeBjFXJ3w3AAAYACOG" + _r("az2", 4)),
    _alone("azure-entra-secret", _r("ae", 3) + "8Q~" + _r("ae2", 34, _ALNUM + "_~.-")),
    _alone("azure-storage-key", _r("asa", 86, _B64) + "=="),
    _pem("pem-rsa", "RSA PRIVATE KEY"),
    _pem("pem-pkcs8", "PRIVATE KEY"),
    _pem("pem-openssh", "OPENSSH PRIVATE KEY"),
    _pem("pem-ec", "EC PRIVATE KEY"),
    _pem("pem-pgp", "PGP PRIVATE KEY BLOCK"),
    # Recognisable only by their context.
    Secret("url-password", "Pw7" + _r("up", 14), "", alone=False),
    Secret("redis-password", "Rd4" + _r("rd", 14), "", alone=False),
    Secret("bearer-opaque", _r("bo", 40, _ALNUM + "-._~"), "", alone=False),
    Secret("basic-auth", _r("ba", 32, _ALNUM) + "==", "", alone=False),
    Secret("db-pass", "Db9" + _r("db", 14), "", alone=False),
    Secret("yaml-password", "Yp2" + _r("yp", 14), "", alone=False),
    Secret("query-api-key", "Qk5" + _r("qk", 20), "", alone=False),
    Secret("azure-openai-hex", _r("ah", 32, "0123456789abcdef"), "", alone=False),
    Secret("azure-connection", _r("ac", 86, _B64) + "==", "", alone=False),
    Secret("cli-flag", "Cf3" + _r("cf", 18), "", alone=False),
    Secret("sas-signature", "Sg8" + _r("sg", 30), "", alone=False),
    Secret("x-api-key-header", "Xk1" + _r("xk", 29), "", alone=False),
    Secret("aws-secret-access", _r("asak", 40, _B64), "", alone=False),
    Secret("token-assignment", "Tk6" + _r("tk", 22), "", alone=False),
]

_CONTEXT = {
    "url-password": "connect postgres://admin:{}@db.internal:5432/app failed",
    "redis-password": "cache at redis://:{}@cache:6379/0 is down",
    "bearer-opaque": "Authorization: Bearer {}",
    "basic-auth": "Authorization: Basic {}",
    "db-pass": "DB_PASS={}",
    "yaml-password": "password: {}",
    "query-api-key": "GET https://api.example.com/v1/chat?api_key={}&model=x",
    "azure-openai-hex": "AZURE_OPENAI_API_KEY={}",
    "azure-connection": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={};EndpointSuffix=core.windows.net",
    "cli-flag": "serve --api-key {} --model x",
    "sas-signature": "https://acct.blob.core.windows.net/c/b?sv=2024-01-01&sig={}&se=2030",
    "x-api-key-header": "x-api-key: {}",
    "aws-secret-access": "aws_secret_access_key={}",
    "token-assignment": "retrying with token={} after 401",
}
CORPUS = [s if s.text else Secret(s.label, s.secret, _CONTEXT[s.label].format(s.secret), alone=False) for s in CORPUS]

#: Key names a value sits under in configs: each a secret name as users spell them.
SECRET_NAMES = [
    "api_key",
    "OPENAI_API_KEY",
    "DB_PASS",
    "SMTP_PW",
    "auth_token",
    "client_secret",
    "GITHUB_PAT",
    "HF_TOKEN",
    "private_key",
    "password",
    "AZURE_OPENAI_API_KEY",
    "webhook_url",
]


def leaks(outputs: dict[str, str], corpus: list[Secret] = CORPUS, window: int = 12) -> list[str]:
    """``label in output-name`` for every secret with a fragment (any ``window`` characters of
    it, or all of a shorter one) found in an output."""
    found = []
    for s in corpus:
        pieces = {frag[i : i + window] for frag in s.fragments for i in range(0, max(len(frag) - window, 0) + 1, 3)}
        for name, text in outputs.items():
            if any(p in text for p in pieces):
                found.append(f"{s.label} in {name}")
    return found
