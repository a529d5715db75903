"""A client generated from orgbase's /openapi.json by openapi-python-client, used
as a client author would: log in as an Administrator, read the org, patch its
name, list the members. Every answer is checked against what the document says.

Usage (from scripts/openapi-check): openapi-check.py BASE_URL ORG CLIENT_KEY EMAIL PASSWORD ORG_ID
"""

import sys

from orgbase_client import AuthenticatedClient, Client
from orgbase_client.api.accounts import login
from orgbase_client.api.members import list_members
from orgbase_client.api.org import get_org, patch_org
from orgbase_client.models import LoginRequest


def main() -> None:
    base, org, key, email, password, org_id = sys.argv[1:7]
    headers = {"Medable-Client-Key": key}

    anonymous = Client(base_url=base, headers=headers, raise_on_unexpected_status=True)
    answer = login.sync_detailed(org, client=anonymous, body=LoginRequest(email=email, password=password, bearer=True))
    assert answer.status_code == 200, answer.content
    account = answer.parsed
    assert account.email == email, account
    assert isinstance(account.token, str) and account.token, account
    print(f"logged in as {account.email} ({account.field_id})")

    client = AuthenticatedClient(base_url=base, token=account.token, headers=headers, raise_on_unexpected_status=True)
    answer = get_org.sync_detailed(org, org_id, client=client)
    assert answer.status_code == 200, answer.content
    read = answer.parsed
    assert read.field_id == org_id and read.code == org and read.access >= 7, read
    print(f"read org {read.code}: {read.name} (access {read.access})")

    answer = patch_org.sync_detailed(org, org_id, client=client, body=patch_body("Checked by a generated client"))
    assert answer.status_code == 200, answer.content
    patched = answer.parsed
    assert patched.name == "Checked by a generated client", patched
    print(f"patched its name to {patched.name!r}")

    answer = list_members.sync_detailed(org, client=client)
    assert answer.status_code == 200, answer.content
    members = answer.parsed
    assert str(members.object_) == "list" and not members.has_more, members
    assert [m.email for m in members.data] == [email], members
    assert members.data[0].state == "active", members
    print(f"listed {len(members.data)} member(s): {', '.join(m.email for m in members.data)}")


def patch_body(name: str):
    """A `set` op of the org's name, in the request type the generator made."""
    from orgbase_client.models import SetName

    return SetName(op="set", path="name", value=name)


if __name__ == "__main__":
    main()
