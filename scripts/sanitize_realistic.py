"""The `realistic` corpus of scripts/sanitize-gen.py: ordinary output an agent's tools print.

A pool of varied blocks (each one command's output, with a `$ command` line before it) is
built once, seeded, from local files and generators, then cycled in a shuffled order to the
requested size. Each pass after the first rotates the digits of every block (0->1, ...,
9->0), so numbers, hex and base64 differ between passes while every shape stays the same.

Nothing is downloaded and no real secret is written: the credential-like values are random
bytes in public shapes (certificates, public keys, checksums, integrity hashes), plus
FAKE_SECRETS fake tokens per pass in the CI logs, as a real log might leak them.

Byte shares of the pool, roughly what a coding agent's transcript is made of:
"""
import base64
import concurrent.futures
import gzip
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time

import random

SEED = 20251207
POOL_MAX = 16 * 1024 * 1024

SHARES = {
    "man": 10,  # manual pages rendered to text
    "doc": 8,  # /usr/share/doc changelogs, READMEs, copyright files
    "source": 8,  # Python stdlib source and grep -rn output over it
    "build": 16,  # cargo, npm, pip, apt, gcc, pytest logs
    "kube": 12,  # kubectl tables/describe/YAML, docker ps/inspect/build
    "lock": 8,  # Cargo.lock, package-lock.json, go.sum
    "hex": 3,  # xxd dumps
    "base64": 4,  # base64 blobs, data: URIs
    "certs": 3,  # CA certificates, ssh/PEM public keys
    "api": 10,  # JSON API responses
    "access": 9,  # HTTP access logs
    "ci": 9,  # CI logs
}
__doc__ += "\n".join(f"  {k:7} {v:3}%" for k, v in SHARES.items()) + "\n"

rng = random.Random(SEED)
notes = []
FAKE_SECRETS = 0


def b64(n, alphabet=None):
    s = base64.b64encode(rng.randbytes(n * 3 // 4 + 3)).decode()[:n]
    return s.replace("+", "-").replace("/", "_") if alphabet == "url" else s


def hexs(n):
    return rng.randbytes(n // 2 + 1).hex()[:n]


def pick(seq):
    return seq[rng.randrange(len(seq))]


def uuid():
    h = hexs(32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def ts(i):
    return f"2025-03-{1 + i % 28:02d}T{i % 24:02d}:{(i * 7) % 60:02d}:{(i * 13) % 60:02d}.{(i * 37) % 1000:03d}Z"


WORDS = (
    "the a to of and in is for on with that this by be as are from or at an it not can "
    "file value default option set use when if will each line output server client request "
    "response error warning build test run module function return config path directory "
    "user group access key token session cache update version package install remove list "
    "secret password auth credential public private certificate signature hash check").split()


def prose(n):
    return " ".join(pick(WORDS) for _ in range(n))


CRATES = ("serde serde_json tokio hyper reqwest rustls ring base64 sha2 hmac jsonwebtoken "
          "oauth2 keyring secrecy zeroize argon2 password-hash bcrypt aes-gcm chacha20poly1305 "
          "tracing tracing-subscriber clap anyhow thiserror regex aho-corasick memchr bytes "
          "futures tower axum http h2 url percent-encoding uuid chrono time rand getrandom "
          "libc nix mio socket2 tokio-rustls webpki-roots rustls-pemfile x509-parser "
          "token-stream proc-macro2 quote syn unicode-ident itoa ryu once_cell parking_lot "
          "crossbeam dashmap ahash hashbrown indexmap smallvec log env_logger").split()
NPM = ("react react-dom next express jsonwebtoken passport passport-jwt passport-oauth2 "
       "bcryptjs dotenv axios lodash @types/node typescript eslint prettier webpack babel-loader "
       "keytar @auth/core next-auth oauth4webapi jose node-forge crypto-js uuid ms debug "
       "semver chalk commander yargs glob minimatch rimraf cookie-parser express-session "
       "csurf helmet cors body-parser qs safe-buffer inherits string_decoder tokenizer "
       "js-tokens @babel/core @babel/parser secure-json-parse fast-json-stringify").split()
PIP = ("requests urllib3 certifi idna charset-normalizer cryptography cffi pycparser "
       "PyJWT authlib oauthlib requests-oauthlib keyring SecretStorage jeepney passlib "
       "bcrypt python-dotenv boto3 botocore s3transfer jmespath google-auth "
       "google-auth-oauthlib cachetools rsa pyasn1 pyasn1-modules tokenizers transformers "
       "numpy pandas pytest pluggy iniconfig packaging tomli typing_extensions").split()
APT = ("libssl3 openssl ca-certificates libsecret-1-0 libkeyutils1 libgnutls30 libkrb5-3 "
       "libgssapi-krb5-2 libpam-modules passwd login libsasl2-2 libldap-2.5-0 gnupg "
       "gpg-agent dirmngr libcurl4 curl git git-man liberror-perl openssh-client "
       "libp11-kit0 libtasn1-6 libnettle8 libhogweed6 libgcrypt20 libgpg-error0").split()
GO = ("github.com/golang-jwt/jwt/v5 golang.org/x/oauth2 golang.org/x/crypto "
      "golang.org/x/net golang.org/x/sys golang.org/x/text github.com/spf13/cobra "
      "github.com/spf13/pflag github.com/stretchr/testify github.com/google/uuid "
      "github.com/hashicorp/vault/api github.com/aws/aws-sdk-go-v2/credentials "
      "k8s.io/client-go k8s.io/apimachinery sigs.k8s.io/yaml github.com/prometheus/client_golang "
      "go.uber.org/zap google.golang.org/grpc google.golang.org/protobuf").split()


def ver():
    return f"{rng.randrange(0, 5)}.{rng.randrange(0, 40)}.{rng.randrange(0, 20)}"


# ---------------------------------------------------------------- local files


def render_man(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
        if path.endswith(".gz"):
            data = gzip.decompress(data)
    except OSError:
        return ""
    if data.startswith(b".so "):
        return ""
    if shutil.which("groff"):
        p = subprocess.run(
            ["groff", "-t", "-man", "-Tutf8", "-P-c", "-P-b", "-P-u", "-P-o", "-rLL=100n"],
            input=data, capture_output=True, timeout=30, env={**os.environ, "LC_ALL": "C.UTF-8"})
        return p.stdout.decode("utf-8", "replace")
    # No groff: drop requests and font escapes, keep the text.
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith((".", "'")):
            words = line.split(None, 1)
            if len(words) == 2 and words[0] in (".SH", ".SS", ".B", ".I", ".BR", ".IR", ".TP", ".IP"):
                out.append(words[1].replace('"', ""))
            continue
        for esc in ("\\fB", "\\fI", "\\fR", "\\fP", "\\-", "\\(em", "\\e", "\\&"):
            line = line.replace(esc, "-" if esc == "\\-" else "")
        out.append(line)
    return "\n".join(out)


def man_blocks(need):
    root = "/usr/share/man"
    pages = []
    for sec in ("man1", "man5", "man7", "man8"):
        d = os.path.join(root, sec)
        if os.path.isdir(d):
            pages += [os.path.join(d, n) for n in sorted(os.listdir(d))]
    # Pages of some length (rendering costs per page, not per byte).
    pages = [p for p in pages if os.path.isfile(p) and os.path.getsize(p) >= 3000] or pages
    if not pages:
        notes.append("man: no /usr/share/man pages, skipped")
        return []
    if not shutil.which("groff"):
        notes.append("man: groff not installed, roff stripped by hand")
    order = rng.sample(pages, len(pages))
    blocks, size, i = [], 0, 0
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        while size < need and i < len(order):
            batch = order[i:i + 8]
            i += 8
            for path, text in zip(batch, ex.map(render_man, batch)):
                text = text[:64 * 1024]
                if len(text) < 500:
                    continue
                name = os.path.basename(path).split(".")[0]
                blocks.append(f"$ man {name} | cat\n{text}\n")
                size += len(blocks[-1])
    notes.append(f"man: {len(blocks)} pages")
    return blocks


def read_text(path, cap):
    try:
        with open(path, "rb") as f:
            data = f.read(4 * 1024 * 1024)
        if path.endswith(".gz"):
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    data = data[:cap]
    if b"\0" in data:
        return None
    return data.decode("utf-8", "replace")


def doc_blocks(need):
    root = "/usr/share/doc"
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in sorted(filenames):
            low = n.lower()
            if (low.startswith(("changelog", "readme", "news", "copyright", "changes", "todo"))
                    or low.endswith((".txt", ".md", ".rst", ".txt.gz", ".md.gz"))):
                files.append(os.path.join(dirpath, n))
    if not files:
        notes.append("doc: no /usr/share/doc text, skipped")
        return []
    blocks, size = [], 0
    for path in rng.sample(files, len(files)):
        if size >= need:
            break
        text = read_text(path, 24 * 1024)
        if not text or len(text) < 200:
            continue
        cmd = f"zcat {path} | head -n 400" if path.endswith(".gz") else f"cat {path}"
        blocks.append(f"$ {cmd}\n{text}\n")
        size += len(blocks[-1])
    notes.append(f"doc: {len(blocks)} files")
    return blocks


def source_blocks(need):
    root = sysconfig.get_paths()["stdlib"]
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("test", "tests", "idlelib", "site-packages", "__pycache__"))
        files += [os.path.join(dirpath, n) for n in sorted(filenames) if n.endswith(".py")]
    if not files:
        notes.append("source: no Python stdlib sources, skipped")
        return []
    blocks, size = [], 0
    for path in rng.sample(files, len(files)):
        if size >= need:
            break
        text = read_text(path, 64 * 1024)
        if not text:
            continue
        lines = text.splitlines()
        rel = os.path.relpath(path, root)
        if rng.random() < 0.35:
            # grep -rn over the tree, as agents do when looking for how auth is handled
            word = pick(["key", "token", "auth", "pass", "secret", "password", "def ", "import"])
            hits = [f"{rel}:{n + 1}:{line}" for n, line in enumerate(lines) if word in line]
            if not hits:
                continue
            block = f"$ grep -rn '{word}' .\n" + "\n".join(hits[:200]) + "\n"
        else:
            start = rng.randrange(0, max(1, len(lines) - 200))
            block = f"$ sed -n {start + 1},{start + 300}p {rel}\n" + "\n".join(lines[start:start + 300]) + "\n"
        blocks.append(block)
        size += len(block)
    notes.append(f"source: {len(blocks)} excerpts")
    return blocks


def cert_blocks(need):
    pems = sorted(p for p in (os.path.join("/etc/ssl/certs", n) for n in
                              (os.listdir("/etc/ssl/certs") if os.path.isdir("/etc/ssl/certs") else []))
                  if p.endswith(".pem") and os.path.isfile(p))
    if not pems:
        notes.append("certs: no /etc/ssl/certs/*.pem, public keys generated only")
    blocks, size = [], 0
    while size < need:
        r = rng.random()
        if pems and r < 0.45:
            chosen = rng.sample(pems, min(len(pems), rng.randrange(1, 4)))
            text = "".join(read_text(p, 16 * 1024) or "" for p in chosen)
            block = f"$ cat {' '.join(chosen)}\n{text}"
        elif r < 0.75:
            lines = []
            for _ in range(rng.randrange(2, 8)):
                if rng.random() < 0.5:
                    lines.append(f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{b64(43)} {pick(['ci', 'deploy', 'alice', 'bob'])}@{pick(['laptop', 'build-01', 'bastion'])}")
                else:
                    lines.append(f"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ{b64(538)}= {pick(['ci', 'ops', 'carol'])}@{pick(['ws', 'runner-3'])}")
            block = "$ cat ~/.ssh/authorized_keys\n" + "\n".join(lines) + "\n"
        else:
            body = b64(392 + 4 * rng.randrange(0, 40))
            wrapped = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
            block = f"$ openssl rsa -in key.pem -pubout\nwriting RSA key\n-----BEGIN PUBLIC KEY-----\n{wrapped}\n-----END PUBLIC KEY-----\n"
        blocks.append(block)
        size += len(block)
    return blocks


# ---------------------------------------------------------------- generated


def build_block():
    k = rng.randrange(6)
    out = []
    if k == 0:
        out.append("$ cargo build --release")
        for c in rng.sample(CRATES, rng.randrange(15, len(CRATES))):
            out.append(f"{pick(['   Compiling', '  Downloaded', '   Compiling'])} {c} v{ver()}")
        if rng.random() < 0.5:
            var = pick(["token", "key", "auth_header", "password_hash", "secret_len", "session"])
            out += [f"warning: unused variable: `{var}`",
                    f"  --> src/{pick(['auth', 'client', 'config', 'session'])}.rs:{rng.randrange(10, 900)}:{rng.randrange(5, 40)}",
                    "   |",
                    f"{rng.randrange(10, 900)} |     let {var} = self.{pick(['keys', 'store', 'cfg'])}.get(&{pick(['id', 'name', 'key_id'])})?;",
                    f"   |         ^^^^^ help: if this is intentional, prefix it with an underscore: `_{var}`",
                    "   |", "   = note: `#[warn(unused_variables)]` on by default", ""]
        out.append(f"    Finished `release` profile [optimized] target(s) in {rng.randrange(5, 300)}.{rng.randrange(10, 99)}s")
    elif k == 1:
        out.append("$ cargo test")
        for _ in range(rng.randrange(20, 80)):
            mod = pick(["auth", "token", "keys", "session", "config", "parser", "store", "client", "http"])
            name = pick(["rejects_expired_token", "refreshes_access_token", "hashes_password",
                         "parses_key_file", "round_trips", "handles_empty_input", "rotates_keys",
                         "validates_signature", "reads_config", "auth_header_is_sent"])
            out.append(f"test {mod}::tests::{name}_{rng.randrange(100)} ... {pick(['ok'] * 12 + ['ignored'])}")
        out.append(f"\ntest result: ok. {rng.randrange(20, 400)} passed; 0 failed; {rng.randrange(0, 3)} ignored; 0 measured; 0 filtered out; finished in {rng.random() * 3:.2f}s\n")
    elif k == 2:
        out.append("$ npm install")
        for p in rng.sample(NPM, rng.randrange(3, 10)):
            out.append(f"npm WARN deprecated {p}@{ver()}: This package is no longer supported. Please use @{p.strip('@').split('/')[0]}/next instead")
        out.append(f"\nadded {rng.randrange(100, 2000)} packages, and audited {rng.randrange(100, 2000)} packages in {rng.randrange(2, 90)}s")
        out.append(f"\n{rng.randrange(50, 300)} packages are looking for funding\n  run `npm fund` for details\n")
        out.append(f"{rng.randrange(0, 9)} vulnerabilities ({rng.randrange(0, 5)} moderate, {rng.randrange(0, 3)} high)\n\nTo address all issues, run:\n  npm audit fix")
    elif k == 3:
        out.append("$ pip install -r requirements.txt")
        for p in rng.sample(PIP, rng.randrange(8, len(PIP))):
            v = ver()
            out.append(f"Collecting {p}=={v}")
            out.append(f"  Downloading {p.replace('-', '_')}-{v}-py3-none-any.whl ({rng.randrange(10, 900)} kB)")
            out.append(f"     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ {rng.randrange(10, 900)}.{rng.randrange(10)} kB {rng.randrange(1, 30)}.{rng.randrange(10)} MB/s eta 0:00:00")
        out.append("Installing collected packages: " + ", ".join(rng.sample(PIP, 12)))
        out.append("Successfully installed " + " ".join(f"{p}-{ver()}" for p in rng.sample(PIP, 12)))
    elif k == 4:
        out.append("$ sudo apt-get install -y build-essential libssl-dev")
        out.append("Reading package lists... Done\nBuilding dependency tree... Done\nReading state information... Done")
        pk = rng.sample(APT, rng.randrange(6, len(APT)))
        out.append("The following NEW packages will be installed:\n  " + " ".join(pk))
        for n, p in enumerate(pk):
            out.append(f"Get:{n + 1} http://deb.debian.org/debian bookworm/main amd64 {p} amd64 {ver()}-{rng.randrange(1, 9)} [{rng.randrange(10, 3000):,} kB]")
        for p in pk:
            out.append(f"Preparing to unpack .../{p}_{ver()}_amd64.deb ...\nUnpacking {p} ({ver()}) ...")
        for p in pk:
            out.append(f"Setting up {p} ({ver()}) ...")
        out.append("Processing triggers for libc-bin (2.36-9+deb12u4) ...\nProcessing triggers for man-db (2.11.2-2) ...")
    else:
        out.append("$ python -m pytest -q")
        for _ in range(rng.randrange(5, 30)):
            out.append(f"tests/test_{pick(['auth', 'tokens', 'keys', 'api', 'models', 'views'])}.py {'.' * rng.randrange(5, 60)}{pick(['', 's', 'F', 'x'])} [{rng.randrange(1, 100):3d}%]")
        if rng.random() < 0.4:
            out += ["", "=================================== FAILURES ===================================",
                    "___________________________ test_refresh_token_expired ___________________________",
                    "", "    def test_refresh_token_expired(client, fake_clock):",
                    "        token = client.login(user='alice', password='test-password')",
                    "        fake_clock.advance(hours=2)", ">       assert client.refresh(token).status_code == 401",
                    "E       assert 200 == 401", "E        +  where 200 = <Response [200]>.status_code", "",
                    "tests/test_auth.py:88: AssertionError"]
        out.append(f"{rng.randrange(50, 900)} passed, {rng.randrange(0, 5)} skipped in {rng.random() * 40:.2f}s")
    return "\n".join(out) + "\n"


def kube_block():
    k = rng.randrange(6)
    ns = pick(["default", "prod", "staging", "payments", "auth", "monitoring"])
    app = pick(["api", "web", "worker", "auth-service", "token-exchange", "keycloak", "vault-agent", "redis", "postgres"])
    if k == 0:
        out = [f"$ kubectl get pods -n {ns} -o wide",
               "NAME                                   READY   STATUS             RESTARTS       AGE    IP             NODE"]
        for _ in range(rng.randrange(5, 40)):
            out.append(f"{pick([app, 'api', 'web', 'worker']) + '-' + hexs(10) + '-' + b64(5).lower().replace('/', 'x').replace('+', 'z'):<38} "
                       f"{pick(['1/1', '2/2', '0/1']):<7} {pick(['Running'] * 6 + ['CrashLoopBackOff', 'Pending', 'Completed']):<18} "
                       f"{rng.randrange(0, 30):<14} {rng.randrange(1, 90)}d    10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256):<5} node-{rng.randrange(1, 9)}")
    elif k == 1:
        out = [f"$ kubectl describe pod {app}-{hexs(10)} -n {ns}", f"Name:             {app}-{hexs(10)}",
               f"Namespace:        {ns}", "Priority:         0", f"Service Account:  {app}",
               f"Node:             node-{rng.randrange(9)}/10.0.{rng.randrange(256)}.{rng.randrange(256)}",
               f"Labels:           app={app}", f"                  pod-template-hash={hexs(10)}",
               "Status:           Running", "Containers:", f"  {app}:",
               f"    Container ID:   containerd://{hexs(64)}",
               f"    Image:          ghcr.io/acme/{app}:{ver()}",
               f"    Image ID:       ghcr.io/acme/{app}@sha256:{hexs(64)}",
               "    Port:           8080/TCP", "    State:          Running", "    Ready:          True",
               "    Environment:",
               f"      LOG_LEVEL:              {pick(['info', 'debug'])}",
               "      AUTH_MODE:              oidc",
               f"      TOKEN_TTL_SECONDS:      {rng.randrange(300, 86400)}",
               f"      DB_PASSWORD:            <set to the key 'password' in secret '{app}-db'>  Optional: false",
               f"      API_KEY:                <set to the key 'api-key' in secret '{app}-keys'>  Optional: false",
               f"      JWT_SECRET:             <set to the key 'jwt-secret' in secret '{app}-jwt'>  Optional: false",
               "    Mounts:",
               "      /var/run/secrets/kubernetes.io/serviceaccount from kube-api-access-" + b64(5).lower() + " (ro)",
               "Volumes:", "  kube-api-access:", "    Type:                    Projected",
               "    TokenExpirationSeconds:  3607", "    ConfigMapName:           kube-root-ca.crt",
               "Events:", "  Type    Reason     Age   From               Message",
               "  ----    ------     ----  ----               -------"]
        for _ in range(rng.randrange(2, 8)):
            out.append(f"  Normal  {pick(['Scheduled', 'Pulled', 'Created', 'Started'])}  {rng.randrange(1, 60)}m   {pick(['kubelet', 'default-scheduler'])}  {pick(['Successfully assigned', 'Container image already present on machine', 'Created container', 'Started container'])} {app}")
    elif k == 2:
        out = [f"$ kubectl get deployment {app} -n {ns} -o yaml", "apiVersion: apps/v1", "kind: Deployment",
               "metadata:", f"  name: {app}", f"  namespace: {ns}", "  annotations:",
               f"    deployment.kubernetes.io/revision: \"{rng.randrange(1, 90)}\"",
               "spec:", f"  replicas: {rng.randrange(1, 6)}", "  template:", "    spec:",
               f"      serviceAccountName: {app}", "      automountServiceAccountToken: false",
               "      containers:", f"      - name: {app}", f"        image: ghcr.io/acme/{app}:{ver()}", "        env:"]
        for name, val in [("LOG_LEVEL", "info"), ("AUTH_ISSUER", "https://auth.example.com/"),
                          ("TOKEN_AUDIENCE", app), ("KEY_ROTATION_DAYS", str(rng.randrange(7, 90))),
                          ("PASSWORD_MIN_LENGTH", "12"), ("SESSION_COOKIE_SECURE", "true")]:
            out += [f"        - name: {name}", f"          value: \"{val}\""]
        for name, key in [("DB_PASSWORD", "password"), ("API_TOKEN", "token"), ("CLIENT_SECRET", "client-secret")]:
            out += [f"        - name: {name}", "          valueFrom:", "            secretKeyRef:",
                    f"              name: {app}-secrets", f"              key: {key}"]
        out += ["        volumeMounts:", "        - name: tls", "          mountPath: /etc/tls", "          readOnly: true",
                "      volumes:", "      - name: tls", "        secret:", f"          secretName: {app}-tls"]
    elif k == 3:
        env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
               f"APP_VERSION={ver()}", "AUTH_MODE=oauth", f"TOKEN_TTL={rng.randrange(60, 7200)}",
               "KEY_FILE=/run/secrets/signing.key", "PASSWORD_FILE=/run/secrets/db_password"]
        doc = [{"Id": hexs(64), "Created": ts(rng.randrange(10**6)), "Path": "/usr/local/bin/docker-entrypoint.sh",
                "Args": [app], "State": {"Status": "running", "Running": True, "Pid": rng.randrange(100, 90000), "ExitCode": 0},
                "Image": "sha256:" + hexs(64), "Name": f"/{app}-1", "RestartCount": 0,
                "HostConfig": {"NetworkMode": "bridge", "PortBindings": {"8080/tcp": [{"HostIp": "", "HostPort": "8080"}]}},
                "GraphDriver": {"Data": {"LowerDir": "/var/lib/docker/overlay2/" + hexs(64) + "-init/diff",
                                         "MergedDir": "/var/lib/docker/overlay2/" + hexs(64) + "/merged"}, "Name": "overlay2"},
                "Mounts": [{"Type": "volume", "Name": hexs(64), "Source": "/var/lib/docker/volumes/" + hexs(64) + "/_data",
                            "Destination": "/data", "RW": True}],
                "Config": {"Hostname": hexs(12), "Env": env, "Cmd": [app], "Image": f"ghcr.io/acme/{app}:{ver()}",
                           "Labels": {"org.opencontainers.image.revision": hexs(40), "org.opencontainers.image.source": f"https://github.com/acme/{app}"}},
                "NetworkSettings": {"IPAddress": f"172.17.0.{rng.randrange(2, 250)}", "MacAddress": "02:42:" + ":".join(hexs(2) for _ in range(4)),
                                    "Networks": {"bridge": {"NetworkID": hexs(64), "EndpointID": hexs(64), "Gateway": "172.17.0.1"}}}}]
        out = [f"$ docker inspect {app}-1", json.dumps(doc, indent=4)]
    elif k == 4:
        out = ["$ docker ps", "CONTAINER ID   IMAGE                          COMMAND                  CREATED        STATUS        PORTS                    NAMES"]
        for _ in range(rng.randrange(3, 15)):
            a = pick(["api", "web", "worker", "redis", "postgres", "keycloak", "vault"])
            out.append(f"{hexs(12)}   {('ghcr.io/acme/' + a + ':' + ver()):<30} \"docker-entrypoint.s…\"   {rng.randrange(2, 60)} minutes ago   Up {rng.randrange(2, 60)} minutes   0.0.0.0:{rng.randrange(3000, 9999)}->8080/tcp   {a}-1")
    else:
        out = [f"$ docker build -t {app} ."]
        steps = ["FROM rust:1.83 AS build", "WORKDIR /src", "COPY Cargo.toml Cargo.lock ./", "RUN cargo fetch",
                 "COPY . .", "RUN --mount=type=secret,id=npm_token cargo build --release", "FROM debian:bookworm-slim",
                 "RUN apt-get update && apt-get install -y ca-certificates", "COPY --from=build /src/target/release/app /usr/local/bin/"]
        for n, s in enumerate(steps):
            out.append(f"#{n + 4} [{n + 1}/{len(steps)}] {s}")
            out.append(f"#{n + 4} DONE {rng.random() * 40:.1f}s")
        out += [f"#{len(steps) + 4} exporting to image", f"#{len(steps) + 4} writing image sha256:{hexs(64)} done",
                f"#{len(steps) + 4} naming to docker.io/library/{app} done"]
    return "\n".join(out) + "\n"


def lock_block():
    k = rng.randrange(3)
    if k == 0:
        out = ["$ cat Cargo.lock", "# This file is automatically @generated by Cargo.", "# It is not intended for manual editing.", "version = 4", ""]
        for c in rng.sample(CRATES, rng.randrange(20, len(CRATES))):
            out += ["[[package]]", f'name = "{c}"', f'version = "{ver()}"',
                    'source = "registry+https://github.com/rust-lang/crates.io-index"', f'checksum = "{hexs(64)}"']
            deps = rng.sample(CRATES, rng.randrange(0, 5))
            if deps:
                out.append("dependencies = [\n" + "".join(f' "{d}",\n' for d in deps) + "]")
            out.append("")
    elif k == 1:
        pk = {}
        for p in rng.sample(NPM, rng.randrange(15, len(NPM))):
            v = ver()
            base = p.split("/")[-1]
            pk[f"node_modules/{p}"] = {"version": v, "resolved": f"https://registry.npmjs.org/{p}/-/{base}-{v}.tgz",
                                       "integrity": "sha512-" + b64(86) + "==", "license": pick(["MIT", "ISC", "Apache-2.0"]),
                                       "dependencies": {d: "^" + ver() for d in rng.sample(NPM, rng.randrange(0, 4))}}
        out = ["$ cat package-lock.json", json.dumps({"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": pk}, indent=2)]
    else:
        out = ["$ cat go.sum"]
        for m in rng.sample(GO, rng.randrange(8, len(GO))):
            for _ in range(rng.randrange(1, 4)):
                v = "v" + ver()
                out.append(f"{m} {v} h1:{b64(43)}=")
                out.append(f"{m} {v}/go.mod h1:{b64(43)}=")
    return "\n".join(out) + "\n"


def hex_block():
    if rng.random() < 0.5:
        data = rng.randbytes(rng.randrange(256, 2048))
        name = pick(["firmware.bin", "key.der", "a.out", "image.png", "dump.raw"])
    else:
        data = (prose(rng.randrange(50, 300)) + "\n").encode()
        name = pick(["notes.txt", "config.ini", "README"])
    out = [f"$ xxd {name} | head -n 200"]
    for off in range(0, len(data), 16):
        row = data[off:off + 16]
        h = row.hex()
        groups = " ".join(h[i:i + 4] for i in range(0, len(h), 4))
        text = "".join(chr(c) if 32 <= c < 127 else "." for c in row)
        out.append(f"{off:08x}: {groups:<39}  {text}")
    return "\n".join(out) + "\n"


def base64_block():
    k = rng.randrange(3)
    if k == 0:
        body = b64(rng.randrange(600, 6000))
        return "$ base64 build/artifact.tar.gz\n" + "\n".join(body[i:i + 76] for i in range(0, len(body), 76)) + "\n"
    if k == 1:
        body = b64(rng.randrange(300, 4000))
        return (f"$ cat src/components/Logo.css\n.logo {{\n  width: {rng.randrange(16, 128)}px;\n"
                f"  background-image: url(\"data:image/png;base64,{body}\");\n}}\n"
                f"<img alt=\"icon\" src=\"data:image/svg+xml;base64,{b64(rng.randrange(200, 1200))}\">\n")
    body = b64(rng.randrange(400, 3000))
    return ("$ gh api repos/acme/app/contents/README.md\n" + json.dumps({
        "name": "README.md", "path": "README.md", "sha": hexs(40), "size": len(body) * 3 // 4,
        "url": "https://api.github.com/repos/acme/app/contents/README.md?ref=main",
        "git_url": "https://api.github.com/repos/acme/app/git/blobs/" + hexs(40), "type": "file",
        "content": "\n".join(body[i:i + 60] for i in range(0, len(body), 60)), "encoding": "base64"}, indent=2) + "\n")


def api_block():
    k = rng.randrange(5)
    if k == 0:
        repo = pick(["app", "infra", "auth-service", "keys", "token-broker"])
        base = f"https://api.github.com/repos/acme/{repo}"
        doc = {"id": rng.randrange(10**8), "node_id": "R_kgDO" + b64(8), "name": repo, "full_name": f"acme/{repo}",
               "private": True, "owner": {"login": "acme", "id": rng.randrange(10**7), "avatar_url": f"https://avatars.githubusercontent.com/u/{rng.randrange(10**7)}?v=4", "type": "Organization"},
               "html_url": f"https://github.com/acme/{repo}", "url": base,
               "keys_url": base + "/keys{/key_id}", "collaborators_url": base + "/collaborators{/collaborator}",
               "hooks_url": base + "/hooks", "git_refs_url": base + "/git/refs{/sha}", "trees_url": base + "/git/trees{/sha}",
               "statuses_url": base + "/statuses/{sha}", "git_commits_url": base + "/git/commits{/sha}",
               "issue_comment_url": base + "/issues/comments{/number}", "pulls_url": base + "/pulls{/number}",
               "clone_url": f"https://github.com/acme/{repo}.git", "ssh_url": f"git@github.com:acme/{repo}.git",
               "default_branch": "main", "permissions": {"admin": False, "maintain": False, "push": True, "pull": True},
               "security_and_analysis": {"secret_scanning": {"status": "enabled"}, "secret_scanning_push_protection": {"status": "enabled"}}}
        return f"$ gh api repos/acme/{repo}\n" + json.dumps(doc, indent=2) + "\n"
    if k == 1:
        keys = [{"kty": "RSA", "use": "sig", "kid": b64(27, "url"), "alg": "RS256", "n": b64(342, "url"), "e": "AQAB",
                 "x5t": b64(27, "url"), "x5c": [b64(980)]} for _ in range(rng.randrange(1, 4))]
        return "$ curl -s https://login.example.com/.well-known/jwks.json | jq .\n" + json.dumps({"keys": keys}, indent=2) + "\n"
    if k == 2:
        doc = {"token_type": "Bearer", "expires_in": rng.randrange(300, 86400), "ext_expires_in": 3599, "scope": "openid profile email offline_access",
               "auth": {"method": "client_secret_post", "mfa": False}, "key_id": "kid-" + hexs(16), "session": {"id": uuid(), "idle_timeout": 1800}}
        return ("$ curl -s -X POST https://auth.example.com/oauth/token -d grant_type=client_credentials | jq 'del(.access_token)'\n"
                + json.dumps(doc, indent=2) + "\n")
    if k == 3:
        items = [{"id": uuid(), "name": prose(3), "created_at": ts(rng.randrange(10**6)), "owner": {"id": rng.randrange(10**6), "login": pick(["alice", "bob", "ci-bot"])},
                  "api_key_id": "ak_" + hexs(12), "key_prefix": "pk_" + hexs(4), "scopes": rng.sample(["read", "write", "admin", "keys:read", "tokens:write"], 2),
                  "last_used_at": ts(rng.randrange(10**6))} for _ in range(rng.randrange(3, 20))]
        doc = {"data": items, "pagination": {"next_cursor": b64(24), "prev_cursor": None, "has_more": True, "per_page": len(items)}, "request_id": "req_" + hexs(24)}
        return "$ curl -s https://api.example.com/v1/api-keys?limit=20 | jq .\n" + json.dumps(doc, indent=2) + "\n"
    logs = [json.dumps({"ts": ts(rng.randrange(10**6)), "level": pick(["info", "info", "debug", "warn"]), "logger": pick(["auth", "http", "db", "tokens"]),
                        "msg": pick(["token refreshed", "auth ok", "password check passed", "key rotation scheduled",
                                     "session created", "request completed", "cache miss for key", "secret loaded from vault"]),
                        "user_id": rng.randrange(10**5), "trace_id": hexs(32), "span_id": hexs(16), "duration_ms": rng.randrange(1, 900)})
            for _ in range(rng.randrange(10, 60))]
    return f"$ kubectl logs deploy/{pick(['api', 'auth-service'])} --tail=100\n" + "\n".join(logs) + "\n"


def access_block():
    paths = ["/", "/api/v1/users/{n}", "/api/v1/auth/login", "/oauth/token", "/oauth/authorize?client_id={h}&response_type=code&state={h}",
             "/.well-known/openid-configuration", "/.well-known/jwks.json", "/static/js/main.{h}.js", "/api/v1/keys?page={n}&per_page=50",
             "/healthz", "/metrics", "/api/v1/sessions/{n}", "/favicon.ico", "/api/v1/items?cursor={h}", "/login?next=%2Fsettings%2Ftokens"]
    agents = ['"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"',
              '"curl/8.5.0"', '"python-requests/2.31.0"', '"kube-probe/1.29"', '"Go-http-client/1.1"', '"Prometheus/2.51.0"']
    out = [f"$ tail -n 200 /var/log/nginx/access.log"]
    for i in range(rng.randrange(30, 200)):
        p = pick(paths).replace("{n}", str(rng.randrange(1, 10000))).replace("{h}", hexs(16))
        out.append(f'10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)} - - [{1 + i % 28:02d}/Mar/2025:{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d} +0000] '
                   f'"{pick(["GET"] * 5 + ["POST", "PUT", "DELETE"])} {p} HTTP/1.1" {pick([200] * 8 + [201, 204, 301, 304, 401, 403, 404, 500])} {rng.randrange(0, 60000)} '
                   f'"{pick(["-", "https://app.example.com/", "https://app.example.com/settings/tokens"])}" {pick(agents)} {rng.random():.3f}')
    return "\n".join(out) + "\n"


CI_LINES = [
    "##[group]Run actions/checkout@v4", "with:", "  repository: acme/app", "  token: ***", "  ssh-strict: true",
    "  persist-credentials: true", "##[endgroup]", "Syncing repository: acme/app", "Getting Git version info",
    "Temporarily overriding HOME='/home/runner/work/_temp/{h}' before making global git config changes",
    "Adding repository directory to the temporary git global config as a safe directory",
    "[command]/usr/bin/git config --local http.https://github.com/.extraheader AUTHORIZATION: basic ***",
    "Using token from environment", "Determining the checkout info", "Fetching the repository",
    "[command]/usr/bin/git -c protocol.version=2 fetch --no-tags --prune --no-recurse-submodules --depth=1 origin +{h}:refs/remotes/origin/main",
    "Run docker/login-action@v3", "Logging into ghcr.io...", "Login Succeeded!",
    "WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
    "WARNING! Your password will be stored unencrypted in /home/runner/.docker/config.json.",
    "Configure a credential helper to remove this warning. See", "https://docs.docker.com/engine/reference/commandline/login/#credential-stores",
    "Secret source: Actions", "Prepare workflow directory", "Prepare all required actions",
    "Getting action download info", "Download action repository 'actions/cache@v4' (SHA:{h})",
    "Complete job name: build (ubuntu-latest)", "GITHUB_TOKEN Permissions", "  Contents: read", "  Metadata: read", "  Packages: write",
    "sshd: password authentication disabled, key authentication only",
    "Authenticating with registry using token from NPM_TOKEN", "npm notice Publishing to https://registry.npmjs.org/ with tag latest and default access",
    "Vault: authenticated with role ci-deploy (token ttl 15m, renewable)", "Fetching secrets from vault path secret/data/ci/app ... 4 keys",
    "Masking 4 secret values in log output", "Cache restored from key: Linux-cargo-{h}",
    "Post job cleanup.", "[command]/usr/bin/git config --local --name-only --get-regexp http\\.https\\:\\/\\/github\\.com\\/\\.extraheader",
    "Cleaning up orphan processes", "Evaluate and set environment url", "Run ./scripts/deploy.sh --env staging",
    "Assuming role arn:aws:iam::{n}:role/github-actions with OIDC token", "Authenticated as arn:aws:sts::{n}:assumed-role/github-actions/GitHubActions",
    "Using password from keyring for user deploy", "skipping token refresh: token still valid for 3540s",
]


def ci_block():
    out = [f"$ gh run view {rng.randrange(10**9, 10**10)} --log"]
    job = pick(["build", "test", "deploy", "lint", "release"])
    for i in range(rng.randrange(30, 120)):
        line = pick(CI_LINES).replace("{h}", hexs(40)).replace("{n}", str(rng.randrange(10**11, 10**12)))
        out.append(f"{job}\t{pick(['Set up job', 'Run actions/checkout@v4', 'Build', 'Deploy', 'Post Run actions/checkout@v4'])}\t{ts(i)} {line}")
    return "\n".join(out) + "\n"


def fake_secret_ci_block():
    """A CI log that leaks (fake) credentials, as a misconfigured job would."""
    global FAKE_SECRETS
    FAKE_SECRETS += 3
    an = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    tok = "".join(an[b % 62] for b in rng.randbytes(36))
    return ("$ gh run view --log-failed\n"
            f"deploy\tDebug env\t{ts(1)} GITHUB_TOKEN=ghp_{tok}\n"
            f"deploy\tDebug env\t{ts(2)} AWS_ACCESS_KEY_ID=AKIA{''.join(pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567') for _ in range(16))}\n"
            f"deploy\tDebug env\t{ts(3)} DATABASE_URL=postgres://app:{b64(20).replace('/', 'x').replace('+', 'y')}@db.internal:5432/app\n")


def generated(fn, need):
    blocks, size = [], 0
    while size < need:
        blocks.append(fn())
        size += len(blocks[-1])
    return blocks


def write(target, out_path):
    t0 = time.monotonic()
    pool_size = min(target, POOL_MAX)
    total = sum(SHARES.values())
    need = {k: pool_size * v // total for k, v in SHARES.items()}
    makers = {
        "man": man_blocks, "doc": doc_blocks, "source": source_blocks, "certs": cert_blocks,
        "build": lambda n: generated(build_block, n), "kube": lambda n: generated(kube_block, n),
        "lock": lambda n: generated(lock_block, n), "hex": lambda n: generated(hex_block, n),
        "base64": lambda n: generated(base64_block, n), "api": lambda n: generated(api_block, n),
        "access": lambda n: generated(access_block, n), "ci": lambda n: generated(ci_block, n),
    }
    pool = []
    for kind in SHARES:
        blocks = makers[kind](need[kind])
        if kind == "ci":
            blocks.append(fake_secret_ci_block())
        pool += [(kind, b.encode()) for b in blocks]
    # A missing local source leaves its share to the others, as that machine's agent would.
    sizes = {k: sum(len(b) for kk, b in pool if kk == k) for k in SHARES}
    pool_bytes = sum(sizes.values())
    rotations = [bytes.maketrans(b"0123456789", (b"0123456789" * 2)[r:r + 10]) for r in range(10)]
    written, passes = 0, 0
    with open(out_path, "wb") as f:
        while written < target:
            order = rng.sample(range(len(pool)), len(pool))
            table = rotations[passes % 10]
            for i in order:
                if written >= target:
                    break
                block = pool[i][1].translate(table) if passes else pool[i][1]
                f.write(block[: target - written])
                written += min(len(block), target - written)
            passes += 1
    mix = ", ".join(f"{k} {100 * v / pool_bytes:.0f}%" for k, v in sizes.items())
    print(f"realistic: {written / 1e6:.1f} MB from a {pool_bytes / 1e6:.1f} MB pool of {len(pool)} blocks "
          f"({passes} pass{'es' if passes > 1 else ''}, {FAKE_SECRETS} fake secrets per pass) in {time.monotonic() - t0:.1f}s: {mix}"
          + ("; " + "; ".join(notes) if notes else ""), file=sys.stderr)
