"""The known names one typo away from a name, as the policy's own library
says (data.jupyterhub.lib.texts.close_keys, which the data checks use for
an unknown key): how `jhpolicy check` and `jhpolicy test` name a group no
entry has, and `jhpolicy lint` a name a setting uses that nothing else has.
Asked of a running OPA (the dry runs') or of a policy folder (lint's, with
the opa binary), every name in one query. None where OPA cannot say, e.g.
a folder copied by an older `jhpolicy init`, before that function existed:
a suggestion is a help, never a reason to fail.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

# Each asked name with the names it may be meant for: [[name, [known, ...]], ...].
QUERY = "x := [data.jupyterhub.lib.texts.close_keys(a[0], a[1]) | some a in input.asked]"

Asked = list[tuple[str, Iterable[str]]]


def _input(asked: Asked) -> dict:
    return {"asked": [[name, sorted(known)] for name, known in asked]}


def _answer(asked: Asked, result: object) -> list[list[str]]:
    """One list per asked name; empty where the answer is not one."""
    rows = result if isinstance(result, list) and len(result) == len(asked) else [[]] * len(asked)
    return [[k for k in row if isinstance(k, str)] if isinstance(row, list) else [] for row in rows]


def from_server(opa_url: str, asked: Asked) -> list[list[str]]:
    """Asked of the OPA at opa_url (POST /v1/query)."""
    import httpx

    if not asked:
        return []
    try:
        result = httpx.post(f"{opa_url}/v1/query", json={"query": QUERY, "input": _input(asked)}, timeout=10,
                            trust_env=False).json()["result"][0]["x"]
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
        result = None
    return _answer(asked, result)


def from_folder(opa: str, folder: Path, asked: Asked) -> list[list[str]]:
    """Asked of the policy in folder, with `opa eval`."""
    if not asked:
        return []
    try:
        done = subprocess.run([opa, "eval", "--format=json", "--data", str(folder), "--stdin-input", QUERY],
                              input=json.dumps(_input(asked)), capture_output=True, text=True, timeout=120)
        result = json.loads(done.stdout)["result"][0]["bindings"]["x"] if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, IndexError, TypeError):
        result = None
    return _answer(asked, result)


def did_you_mean(close: list[str], quote: bool = True) -> str:
    """"did you mean 'students'?" (or "... 'a' or 'b'?"); "" for none."""
    names = [repr(name) if quote else name for name in close]
    return f"did you mean {' or '.join(names)}?" if names else ""
