#!/usr/bin/env python3
"""Generate benchmark inputs for the output sanitizer (deterministic, no real secrets).

usage: sanitize-gen.py clean|dense|realistic SIZE_MB OUT
  clean      ordinary build/server log text: timestamps, paths, UUIDs, git SHAs, URLs, JSON
  dense      text where nearly every line carries a rule keyword (token, password, key,
             Bearer, ://, eyJ, sk-, AKIA, ...), with a fake secret on about one line in 50
  realistic  a mix of what an agent's tools print: manual pages and package docs read from
             this machine (/usr/share/man, /usr/share/doc), Python source from the
             interpreter's standard library, CA certificates (/etc/ssl/certs), and generated
             build and package-manager logs, kubectl/docker output, lock files, hex dumps,
             base64 blobs, JSON API responses, HTTP access logs and CI logs (see
             sanitize_realistic.py). Seeded; nothing is downloaded; a missing local source is
             skipped with a note. A composition summary goes to stderr.
"""
import os
import random
import sys

rng = random.Random(42)
AN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
HEX = "0123456789abcdef"


def rand(chars, n):
    return "".join(rng.choice(chars) for _ in range(n))


def uuid():
    return "-".join(rand(HEX, n) for n in (8, 4, 4, 4, 12))


WORDS = ("server started listening connection accepted request handled cache miss "
         "compiling finished building module loaded worker queue retry scheduled "
         "database migration applied response sent upstream healthy").split()


def clean_line(i):
    kind = i % 8
    ts = f"2025-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z"
    if kind == 0:
        return f"{ts} INFO  http: GET /api/v1/items/{i % 9973} 200 {i % 500}ms req={uuid()}"
    if kind == 1:
        return f"{ts} DEBUG db: query took {i % 90}ms rows={i % 1000} table=orders"
    if kind == 2:
        return f"   Compiling crate-{i % 300} v0.{i % 20}.{i % 7} (/home/ci/src/crate-{i % 300})"
    if kind == 3:
        return f"commit {rand(HEX, 40)} Merge pull request #{i % 5000} from feature/branch-{i % 97}"
    if kind == 4:
        return '{"level":"info","msg":"' + " ".join(rng.choice(WORDS) for _ in range(6)) + f'","n":{i}}}'
    if kind == 5:
        return f"{ts} WARN  upstream https://svc-{i % 40}.internal:8443/health slow: {i % 3000}ms"
    if kind == 6:
        return " ".join(rng.choice(WORDS) for _ in range(12))
    return f"test module_{i % 400}::case_{i % 77} ... ok"


def dense_line(i):
    k = i % 10
    if i % 50 == 0:
        return f"export GITHUB_TOKEN=ghp_{rand(AN, 36)}"
    if k == 0:
        return f"token usage: prompt_tokens={i % 900} completion_tokens={i % 300} auth ok"
    if k == 1:
        return f"password: checking policy for user{i % 100} (min length 12) key rotation due"
    if k == 2:
        return f"GET https://api.example.org/v1/keys?page={i % 30} Authorization header present"
    if k == 3:
        return f'{{"api_key_id": {i}, "secret_ref": "vault://kv/app", "token_type": "bearer"}}'
    if k == 4:
        return f"task-{i % 70} disk-{i % 9} ask-for-access key-value store ghp_ prefix check"
    if k == 5:
        return f"redis://cache-{i % 5}:6379/0 postgres://db-{i % 3}:5432/app mongodb://mongo/x"
    if k == 6:
        return f"bearer auth scheme; eyJ prefix seen; sk- keys rotated; AKIA audit {i}"
    if k == 7:
        return f"secret scanning: passwd file untouched; credentials cached; private key {i % 10}"
    if k == 8:
        return f"--token-file /run/secrets/t --password-file /run/secrets/p # auth {i}"
    return f"oauth token refresh for client {uuid()} succeeded; access token valid"


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("clean", "dense", "realistic"):
        sys.exit(__doc__)
    kind, size_mb, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    target = int(size_mb * 1024 * 1024)
    if kind == "realistic":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import sanitize_realistic

        sanitize_realistic.write(target, out)
        return
    line = clean_line if kind == "clean" else dense_line
    # Generate a block of distinct lines once and repeat it: realistic texture, fast.
    block = "\n".join(line(i) for i in range(20000)) + "\n"
    with open(out, "w") as f:
        written = 0
        while written < target:
            f.write(block)
            written += len(block)


if __name__ == "__main__":
    main()
