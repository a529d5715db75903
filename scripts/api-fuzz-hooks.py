"""schemathesis hooks of scripts/api-fuzz: the generated cases it leaves out, and why.

Two rules span several values, which OpenAPI can't state for parameters and JSON
Schema can't state for items of a list; a case that breaks one is dropped instead of
being sent (the server refuses it, rightly, with a 400):
  - `startingAfter` and `endingBefore` together (a list pages one way at a time);
  - custom roles that share an `_id` or a code, in any case (ids and codes are unique
    among the org's roles).
An app's CORS origins are read by the WHATWG URL parser (`domain::app::parse_origin`),
which takes more than a pattern can say, so the document gives them none (like an
org's `website`); a case is sent only if its origins look like origins
(`scheme://host[:port]`), the rest would be refused, rightly, with a 400.
And one kind of write would change what the rest of the run stands on, like the
logout that the configuration leaves out: a write of the org's `security` (a
`sessionMaxAge` of 60 seconds ends the fuzzing session; a longer
`passwordMinLength` refuses the passwords that the document allows for
registrations from then on). `PUT /orgs/{id}/security` is left out by the
configuration; the hook drops the PATCH ops that write `security`.
"""

import re

import schemathesis

ORG_PATCHES = ("/{org}/v2", "/{org}/v2/orgs/{id}")
APP_WRITES = (("POST", "/{org}/v2/apps"), ("PATCH", "/{org}/v2/apps/{key}"))
ORIGIN = re.compile(r"https?://[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z]([a-z0-9-]{0,61}[a-z0-9])?)*(:[1-9][0-9]{0,3})?")


def _origins_look_like_origins(body):
    cors = body.get("cors") if isinstance(body, dict) else None
    origins = cors.get("origins") if isinstance(cors, dict) else None
    if not isinstance(origins, list):
        return True
    return all(isinstance(o, str) and ORIGIN.fullmatch(o) for o in origins)


def _ops(body):
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list):
        return [op for op in body if isinstance(op, dict)]
    return []


def _root(path):
    if not isinstance(path, str):
        return None
    return path.lstrip("/").replace("/", ".").split(".")[0]


def _writes_security(op):
    if _root(op.get("path")) == "security":
        return True
    value = op.get("value")
    return op.get("path") is None and isinstance(value, dict) and "security" in value


def _role_lists(op):
    value = op.get("value")
    if _root(op.get("path")) == "roles" and op.get("op") == "set":
        yield value
    elif op.get("path") is None and op.get("op") == "set" and isinstance(value, dict):
        yield value.get("roles")


def _unique(roles):
    if not isinstance(roles, list):
        return True
    ids = [r.get("_id", "").lower() for r in roles if isinstance(r, dict) and isinstance(r.get("_id"), str)]
    codes = [r.get("code", "").lower() for r in roles if isinstance(r, dict) and isinstance(r.get("code"), str)]
    return len(set(ids)) == len(ids) and len(set(codes)) == len(codes)


@schemathesis.hook
def filter_case(context, case):
    query = case.query if isinstance(case.query, dict) else {}
    if "startingAfter" in query and "endingBefore" in query:
        return False
    path, method = case.operation.path, case.operation.method.upper()
    if (method, path) in APP_WRITES and not _origins_look_like_origins(case.body):
        return False
    if method == "PUT" and path == "/{org}/v2/orgs/{id}/roles":
        return _unique(case.body)
    if method == "PATCH" and path in ORG_PATCHES:
        for op in _ops(case.body):
            if _writes_security(op):
                return False
            if not all(_unique(roles) for roles in _role_lists(op)):
                return False
    return True
