"""`jhpolicy check` as a user runs it: a subprocess that starts its own OPA."""

import json
import subprocess
import sys
from importlib.metadata import entry_points

FORUM_BODY = '{"kubespawner_override": {"image": "jupyterhub/k8s-singleuser-sample:0.8.4", "cpu_limit": 8}}'


def jhpolicy(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "jhpolicy.cli", *args], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_check_allowed_starts_and_stops_its_own_opa():
    result = jhpolicy("check", "--user", "alice", "--group", "students", "--body", FORUM_BODY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "user alice (groups: students), server ''",
        "ALLOWED (clamped)",
        "  - cpu_limit 8 lowered to 2: the most for group students",
        "  - mem_limit unlimited (the hub's default) lowered to 4G: the most for group students",
        'applied: {"cpu_guarantee": 1.0, "cpu_limit": 2.0, "image": "jupyterhub/k8s-singleuser-sample:0.8.4", '
        '"mem_guarantee": 2147483648, "mem_limit": 4294967296}',
        "pod image: jupyterhub/k8s-singleuser-sample:0.8.4",
        'pod limits: {"cpu": 2.0, "memory": 4294967296}',
        'pod requests: {"cpu": 1.0, "memory": 2147483648}',
    ]
    assert result.stderr == ""


def test_check_denied_exits_1():
    result = jhpolicy("check", "--user", "bob", "--body", FORUM_BODY)
    assert result.returncode == 1
    assert "DENIED: Spawn refused by policy: image jupyterhub/k8s-singleuser-sample:0.8.4 is not allowed" in result.stdout


def test_check_bad_value_exits_2():
    result = jhpolicy("check", "--user", "bob", "--body", '{"mem_limit": "lots"}', "--json")
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["status"] == 400 and report["message"].startswith("Invalid spawn request: mem_limit:")


def test_check_unreachable_opa_exits_2(opa):
    from jhpolicy.local_opa import free_port

    result = jhpolicy("check", "--user", "bob", "--opa-url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert "ERROR (HTTP 503): spawn policy unavailable" in result.stdout


def test_check_with_hub_config_and_service(opa, tmp_path):
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        "c.PolicyKubeSpawner.profile_list = [\n"
        "  {'display_name': 'Big', 'slug': 'big', 'kubespawner_override': {'mem_limit': '6G'}},\n"
        "]\n"
    )
    result = jhpolicy(
        "check", "--user", "carol", "--as-service", "course-orchestrator", "--config", str(config),
        "--opa-url", opa.url, "--body", '{"profile": "big"}', "--json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The profile's 6G is within the service's 8G; the unlimited CPU is lowered to its 4.
    assert json.loads(result.stdout)["pod"]["limits"] == {"cpu": 4.0, "memory": 6 * 1024**3}


def test_spawner_entry_point():
    (ep,) = [e for e in entry_points(group="jupyterhub.spawners") if e.name == "jhpolicy"]
    from jhpolicy import PolicyKubeSpawner

    assert ep.load() is PolicyKubeSpawner
