#!/usr/bin/env python3
"""Recall and false positives of `mycelium sanitize` next to detect-secrets, on a labelled
corpus built here from scratch (seeded, so every run builds the same corpus; every
"secret" is random text in a real token format, never a real credential).

usage: scripts/sanitize-corpus.py [--bin PATH] [--keep DIR]   (default: the release build)

Each sample is one small file: positives hold exactly one secret in some context (.env,
JSON, YAML, a log line, a shell command, a PEM block), negatives hold text that looks
secret-ish but is not (git SHAs, UUIDs, sha512 integrity strings, base64 images,
placeholders, prose). mycelium counts as catching a positive when the secret's random part
is gone from its output, and as a false positive when it changes a negative at all.
detect-secrets (installed with `pip install detect-secrets`, default plugins) counts as
catching a file when it reports anything in it.
"""
import argparse
import base64
import json
import os
import random
import shutil
import string
import subprocess
import sys
import tempfile

rng = random.Random(20250301)
AN = string.ascii_letters + string.digits
LOW = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
B64 = AN + "+/"
B64U = AN + "-_"


def r(chars, n):
    return "".join(rng.choice(chars) for _ in range(n))


def uuid():
    return "-".join(r(HEX, n) for n in (8, 4, 4, 4, 12))


def pem(label, lines=12, crlf=False, indent="", escaped=False):
    body = [r(B64, 64) for _ in range(lines)] + [r(B64, 20) + "=="]
    parts = [f"-----BEGIN {label}-----"] + body + [f"-----END {label}-----"]
    core = body[3]
    if escaped:
        return "\\n".join(parts) + "\\n", core
    nl = "\r\n" if crlf else "\n"
    return nl.join(indent + p for p in parts), core


def jwt():
    head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(
        json.dumps({"sub": r(LOW, 10), "iat": rng.randint(10**9, 2 * 10**9)}).encode()
    ).decode().rstrip("=")
    sig = r(B64U, 43)
    return f"{head}.{payload}.{sig}", sig


# Each generator returns (secret text, random core that must disappear).
TOKENS = {
    "github-pat": lambda: (lambda b: (f"ghp_{b}", b))(r(AN, 36)),
    "github-fine": lambda: (lambda b: (f"github_pat_{r(AN, 22)}_{b}", b))(r(AN, 59)),
    "gitlab": lambda: (lambda b: (f"glpat-{b}", b))(r(AN + "-_", 20)),
    "slack-bot": lambda: (lambda b: (f"xoxb-{r('0123456789', 12)}-{r('0123456789', 12)}-{b}", b))(r(AN, 24)),
    "slack-webhook": lambda: (lambda b: (f"https://hooks.slack.com/services/T{r(string.ascii_uppercase + string.digits, 10)}/B{r(string.ascii_uppercase + string.digits, 10)}/{b}", b))(r(AN, 24)),
    "stripe": lambda: (lambda b: (f"sk_live_{b}", b))(r(AN, 99)),
    "aws-id": lambda: (lambda b: (f"AKIA{b}", b))(r(string.ascii_uppercase + "234567", 16)),
    "gcp": lambda: (lambda b: (f"AIza{b}", b))(r(B64U, 35)),
    "openai": lambda: (lambda b: (f"sk-proj-{r(AN, 40)}T3BlbkFJ{b}", b))(r(AN, 40)),
    "anthropic": lambda: (lambda b: (f"sk-ant-api03-{b}AA", b))(r(B64U, 93)),
    "huggingface": lambda: (lambda b: (f"hf_{b}", b))(r(AN, 34)),
    "npm": lambda: (lambda b: (f"npm_{b}", b))(r(AN, 36)),
    "pypi": lambda: (lambda b: (f"pypi-AgEIcHlwaS5vcmc{b}", b))(r(B64U, 120)),
    "sendgrid": lambda: (lambda b: (f"SG.{r(AN, 22)}.{b}", b))(r(AN, 43)),
    "mailgun": lambda: (lambda b: (f"key-{b}", b))(r(HEX, 32)),
    "jwt": jwt,
    "vault": lambda: (lambda b: (f"hvs.{b}", b))(r(B64U, 90)),
    "databricks": lambda: (lambda b: (f"dapi{b}", b))(r(HEX, 32)),
    "digitalocean": lambda: (lambda b: (f"dop_v1_{b}", b))(r(HEX, 64)),
    "groq": lambda: (lambda b: (f"gsk_{b}", b))(r(AN, 52)),
    "shopify": lambda: (lambda b: (f"shpat_{b}", b))(r(HEX, 32)),
    "linear": lambda: (lambda b: (f"lin_api_{b}", b))(r(AN, 40)),
    "dockerhub": lambda: (lambda b: (f"dckr_pat_{b}", b))(r(B64U, 27)),
    "telegram": lambda: (lambda b: (f"{r('0123456789', 10)}:AA{b}", b))(r(B64U, 33)),
}

CONTEXTS = [
    lambda name, s: f"{name.upper().replace('-', '_')}_TOKEN={s}\n",
    lambda name, s: json.dumps({"service": name, "credential": s}) + "\n",
    lambda name, s: f"config:\n  {name}:\n    key: {s}\n",
    lambda name, s: f"2025-03-01T10:00:00Z DEBUG client init with {s} ok\n",
    lambda name, s: f"curl -s https://api.example.com/v1 -H 'X-Client: {name}' -d token={s}\n",
]


def positives():
    out = []
    for name, gen in TOKENS.items():
        for ctx in CONTEXTS:
            secret, core = gen()
            out.append((f"{name}", ctx(name, secret), core))
    # Key/value secrets without a distinctive format.
    for _ in range(15):
        pw = r(AN + "!@#%^&*", 16)
        out.append(("password-env", f"DB_PASSWORD={pw}\n", pw))
        pw = r(AN, 20)
        out.append(("password-json", json.dumps({"user": "app", "password": pw}) + "\n", pw))
        pw = r(AN, 18)
        out.append(("db-url", f"DATABASE_URL=postgres://app:{pw}@db.internal:5432/app\n", pw))
        t = r(B64U, 40)
        out.append(("bearer", f"> Authorization: Bearer {t}\n", t))
        sec = r(B64, 40)
        out.append(("aws-secret", f"aws_secret_access_key = {sec}\n", sec))
        k = r(AN, 32)
        out.append(("api-key-yaml", f"api_key: {k}\n", k))
    for label in ["RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY",
                  "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK"]:
        for variant in range(4):
            text, core = pem(label, crlf=variant == 1, indent="    " if variant == 2 else "",
                             escaped=variant == 3)
            if variant == 3:
                text = json.dumps({"type": "service_account"})[:-1] + f', "private_key": "{text}"}}\n'
            out.append((f"pem-{label}", text + "\n", core))
    return out


def negatives():
    out = []
    for _ in range(25):
        out.append(("git-sha", f"commit {r(HEX, 40)}\nAuthor: Dev <dev@example.org>\n"))
        out.append(("uuid", f"request_id={uuid()} status=200 took={rng.randint(1, 900)}ms\n"))
        out.append(("integrity", f'    "integrity": "sha512-{r(B64, 86)}==",\n'))
        out.append(("image", f'<img src="data:image/png;base64,{r(B64, 1200)}=">\n'))
        out.append(("docker-digest", f"image: ghcr.io/org/app@sha256:{r(HEX, 64)}\n"))
        out.append(("checksum", f"{r(HEX, 64)}  mycelium-x86_64.tar.gz\n"))
    placeholders = [
        'password = "changeme"\n', "export GITHUB_TOKEN=${GITHUB_TOKEN}\n",
        "API_KEY=<your-api-key>\n", 'secret: "{{ .Values.secret }}"\n',
        "token: ${{ secrets.NPM_TOKEN }}\n", "password: ********\n",
        'client_secret = "YOUR_CLIENT_SECRET_HERE"\n', "DB_PASSWORD=\n",
        "aws_secret_access_key = AKIAIOSFODNN7EXAMPLE\n",
        "postgres://user:password@localhost:5432/db\n",
        "Authorization: Bearer <token>\n", "password = os.environ['DB_PASSWORD']\n",
        "api_key = config.get('api_key')\n", "token = get_token()\n",
        "-----BEGIN CERTIFICATE-----\nMIIB" + r(B64, 60) + "\n-----END CERTIFICATE-----\n",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + r(B64, 43) + " dev@laptop\n",
    ]
    for p in placeholders:
        out.append(("placeholder", p))
    prose = [
        "The password must be at least 12 characters long.\n",
        "Use a personal access token with the repo scope.\n",
        "Set the secret key in your environment before starting the server.\n",
        "max_tokens: 4096\ntemperature: 0.2\n",
        "token_type: bearer\nexpires_in: 3600\n",
        "   Compiling tokio v1.40.0\n   Compiling serde_json v1.0.128\n",
        "GET https://api.example.org/v1/users?page=2 200 OK\n",
        "test auth::tests::rejects_expired_token ... ok\n",
        "Downloading https://files.pythonhosted.org/packages/ab/cd/pkg-1.0.tar.gz\n",
        "key-value store ready; task-runner started; disk-usage 42%\n",
    ]
    for p in prose:
        for _ in range(3):
            out.append(("prose", p))
    return out


CHARSETS = {
    "hex": HEX, "HEX": HEX.upper(), "an": AN, "lan": LOW, "uan": string.ascii_uppercase + string.digits,
    "b64": B64, "b64u": B64U, "b32": string.ascii_uppercase + "234567",
    "bech": "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", "d": string.digits,
    "l": string.ascii_lowercase, "u": string.ascii_uppercase,
}


def expand_case(template):
    """Expand a labelled case (src/sanitize/cases/*.txt): returns the text and its secrets."""
    text = template.replace("{esc}", "\x1b").replace("{cr}", "\r").replace("{tab}", "\t")
    secrets = []
    out = []
    i = 0
    while i < len(text):
        if text.startswith("[[", i):
            j = text.index("]]", i + 2)
            secrets.append(text[i + 2:j])
            out.append(text[i + 2:j])
            i = j + 2
            continue
        if text[i] == "{":
            j = text.find("}", i)
            spec = text[i + 1:j] if j > 0 else ""
            if spec == "uuid":
                part = uuid()
            elif ":" in spec and spec.split(":")[0] in CHARSETS and spec.split(":")[1].isdigit():
                name, n = spec.split(":")
                part = r(CHARSETS[name], int(n))
            else:
                part = None
            if part is not None:
                secrets.append(part)
                out.append(part)
                i = j + 1
                continue
        out.append(text[i])
        i += 1
    return "".join(out), secrets


def labelled_cases():
    """The hand-labelled cases of src/sanitize/cases/: (file, kind, description, text, secrets)."""
    here = os.path.dirname(os.path.abspath(__file__))
    folder = os.path.join(here, "..", "src", "sanitize", "cases")
    cases = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".txt"):
            continue
        current = None
        for line in open(os.path.join(folder, name), encoding="utf-8").read().splitlines(keepends=True):
            if line.startswith("--- secret: ") or line.startswith("--- clean: "):
                kind, desc = line[4:].rstrip("\n").split(": ", 1)
                current = [name, kind, desc, ""]
                cases.append(current)
            elif current is not None:
                current[3] += line
    out = []
    for name, kind, desc, template in cases:
        text, secrets = expand_case(template)
        out.append((name, kind, desc, text, secrets))
    return out


def run_mycelium(binary, samples):
    sep = "\n@@corpus-sample-boundary@@\n"
    text = sep.join(s for s in samples) + sep
    proc = subprocess.run([binary, "sanitize"], input=text.encode(), capture_output=True, check=True)
    parts = proc.stdout.decode("utf-8", "replace").split(sep)
    if len(parts) != len(samples) + 1:
        # A redaction swallowed a boundary: fall back to one process per sample.
        parts = [subprocess.run([binary, "sanitize"], input=s.encode(), capture_output=True,
                                check=True).stdout.decode("utf-8", "replace") for s in samples]
    return parts[: len(samples)]


def run_detect_secrets(samples, keep):
    exe = shutil.which("detect-secrets")
    if not exe:
        return None
    d = keep or tempfile.mkdtemp(prefix="corpus-")
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(samples):
        with open(os.path.join(d, f"sample{i:04d}.txt"), "w") as f:
            f.write(s)
    proc = subprocess.run([exe, "scan", "--all-files", "."], cwd=d, capture_output=True,
                          check=True)
    results = json.loads(proc.stdout)["results"]
    flagged = [bool(results.get(f"sample{i:04d}.txt")) for i in range(len(samples))]
    if not keep:
        shutil.rmtree(d)
    return flagged


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", help="the mycelium binary (default: scripts/bin-path.sh release)")
    ap.add_argument("--keep", help="write the corpus files here and keep them")
    args = ap.parse_args()
    if args.bin is None:
        here = os.path.dirname(os.path.abspath(__file__))
        args.bin = subprocess.run([os.path.join(here, "bin-path.sh"), "release"],
                                  check=True, capture_output=True, text=True).stdout.strip()
    pos = positives()
    neg = negatives()
    samples = [p[1] for p in pos] + [n[1] for n in neg]
    outs = run_mycelium(args.bin, samples)
    my_tp = sum(1 for (_, _, core), o in zip(pos, outs) if core not in o)
    my_fp = sum(1 for (_, text), o in zip(neg, outs[len(pos):]) if o != text)
    missed = [name for (name, _, core), o in zip(pos, outs) if core in o]
    fps = [name for (name, text), o in zip(neg, outs[len(pos):]) if o != text]
    print(f"corpus: {len(pos)} positives, {len(neg)} negatives")
    print(f"mycelium        recall {my_tp}/{len(pos)} = {my_tp / len(pos):.1%}   "
          f"false positives {my_fp}/{len(neg)} = {my_fp / len(neg):.1%}")
    if missed:
        print(f"  missed: {sorted(set(missed))}")
    if fps:
        print(f"  false positives: {sorted(set(fps))}")
    cases = labelled_cases()
    case_outs = run_mycelium(args.bin, [c[3] for c in cases])
    case_pos = [(c, o) for c, o in zip(cases, case_outs) if c[1] == "secret"]
    case_neg = [(c, o) for c, o in zip(cases, case_outs) if c[1] == "clean"]
    caught = [all(s not in o for s in c[4]) for c, o in case_pos]
    altered = [o != c[3] for c, o in case_neg]
    print(f"labelled cases (src/sanitize/cases): {len(case_pos)} with secrets, {len(case_neg)} clean")
    print(f"mycelium        recall {sum(caught)}/{len(case_pos)} = {sum(caught) / len(case_pos):.1%}   "
          f"altered {sum(altered)}/{len(case_neg)}")
    for (c, _), ok in zip(case_pos, caught):
        if not ok:
            print(f"  missed: {c[0]}: {c[2]}")
    for (c, _), bad in zip(case_neg, altered):
        if bad:
            print(f"  altered: {c[0]}: {c[2]}")
    ds_cases = run_detect_secrets([c[3] for c in cases], None)
    if ds_cases is not None:
        ds_pos = [f for c, f in zip(cases, ds_cases) if c[1] == "secret"]
        ds_neg = [f for c, f in zip(cases, ds_cases) if c[1] == "clean"]
        print(f"detect-secrets  recall {sum(ds_pos)}/{len(ds_pos)} = {sum(ds_pos) / len(ds_pos):.1%}   "
              f"flagged {sum(ds_neg)}/{len(ds_neg)}")
    ds = run_detect_secrets(samples, args.keep)
    if ds is None:
        print("detect-secrets  not installed (pip install detect-secrets)")
        return
    ds_tp = sum(ds[: len(pos)])
    ds_fp = sum(ds[len(pos):])
    print(f"detect-secrets  recall {ds_tp}/{len(pos)} = {ds_tp / len(pos):.1%}   "
          f"false positives {ds_fp}/{len(neg)} = {ds_fp / len(neg):.1%}")
    ds_missed = [name for (name, _, _), f in zip(pos, ds[: len(pos)]) if not f]
    ds_fps = [name for (name, _), f in zip(neg, ds[len(pos):]) if f]
    if ds_missed:
        print(f"  missed: {sorted(set(ds_missed))}")
    if ds_fps:
        print(f"  false positives: {sorted(set(ds_fps))}")
    print("(detect-secrets only reports; mycelium counts only if the secret is gone from its output)")


if __name__ == "__main__":
    sys.exit(main())
