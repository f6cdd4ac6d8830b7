"""The local OPA server (jhpolicy check, the tests): a port taken between
picking it and OPA binding it is given up for another, and nothing else is
retried."""

from __future__ import annotations

import socket

import pytest

from jhpolicy.tooling import local_opa
from jhpolicy.tooling.local_opa import LocalOPA, bundled_policies


@pytest.fixture
def taken_port():
    """A port something else listens on, as another test pass would."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", local_opa.free_port()))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def picks(monkeypatch, taken_port):
    """free_port answers the taken port first, then free ones; records each pick."""
    picked = []
    real = local_opa.free_port

    def pick():
        picked.append(taken_port if not picked else real())
        return picked[-1]

    monkeypatch.setattr(local_opa, "free_port", pick)
    return picked


def test_a_port_taken_before_opa_binds_it_is_given_up_for_another(picks, taken_port):
    with LocalOPA([bundled_policies()]) as opa:
        assert picks[0] == taken_port and opa.port == picks[1] != taken_port
        assert opa.process.poll() is None


def test_a_known_port_that_is_taken_is_not_swapped_for_another(taken_port):
    opa = LocalOPA([bundled_policies()])
    with pytest.raises(RuntimeError, match="address already in use"):
        opa.start(port=taken_port)
    opa.stop()


def test_an_exit_for_another_reason_is_reported_at_once(monkeypatch, tmp_path):
    picked = []
    real = local_opa.free_port
    monkeypatch.setattr(local_opa, "free_port", lambda: picked.append(real()) or picked[-1])
    (tmp_path / "broken.rego").write_text("package broken\n\nthis is not rego\n")
    opa = LocalOPA([tmp_path])
    with pytest.raises(RuntimeError, match="OPA exited with code") as failure:
        opa.start()
    opa.stop()
    assert "broken.rego" in str(failure.value)
    assert len(picked) == 1  # a policy that does not parse is not retried on other ports
