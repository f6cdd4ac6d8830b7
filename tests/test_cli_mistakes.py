"""The CLI never crashes: each mistake an admin makes (or an environment
jhpolicy did not choose) is one line on stderr naming what to fix, exit 2,
never a traceback, never exit 1 (the "denied" code)."""

from __future__ import annotations

import os
import stat

import pytest

from jhpolicy.tooling.opa_binary import OPA_VERSION, default_tools_dir, is_checkout

from .helpers.cli import jhpolicy
from .helpers.policies import POLICIES, ROOT

# The `jhpolicy` command runs where the admin installs it (pip's newest JupyterHub
# and KubeSpawner), not in the hub: one version set (conftest.py, ONCE).
pytestmark = pytest.mark.once


def one_line_error(result, command: str = "check") -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"jhpolicy {command}: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr.strip()


@pytest.mark.parametrize("body, error", [
    ("[1,2]", "the request body must be a JSON object (as the REST API takes), not [1, 2]"),
    ("null", "the request body must be a JSON object (as the REST API takes), not null"),
    ("{", "--body is not JSON"),
])
def test_a_body_that_is_not_an_object(body, error):
    assert error in one_line_error(jhpolicy("check", "--user", "a", "--body", body))


@pytest.mark.parametrize("name, text, error", [
    ("config.yaml", "hub:\n  config: {}\nsingleuser:\n  image: {name: x}\n",
     "this is a YAML (Helm values) file; give it with --values, and a jupyterhub_config.py with --config"),
    ("values.txt", "singleuser:\n  cpu: {limit: 2}\n", "this is a YAML (Helm values) file"),
    ("syntax.py", "c.KubeSpawner.cpu_limit = (\n", ":1: not Python ('(' was never closed)"),
    ("raises.py", "import nowhere_to_be_found\n", "loading it raised ModuleNotFoundError: No module named 'nowhere_to_be_found'"),
    (None, None, "no such file"),
])
def test_a_config_that_is_not_a_hub_config(tmp_path, name, text, error):
    path = tmp_path / (name or "missing.py")
    if text is not None:
        path.write_text(text)
    assert error in one_line_error(jhpolicy("check", "--user", "a", "--config", str(path)))


def test_a_policy_folder_that_is_not_there(tmp_path):
    for command in ("check", "lint", "configmap"):
        args = ("--user", "a") if command == "check" else ()
        result = jhpolicy(command, *args, "--policies", str(tmp_path / "nope"))
        assert one_line_error(result, command).endswith(f"--policies {tmp_path / 'nope'}: no such folder")


@pytest.mark.parametrize("binary, error", [
    ("/nope/opa", "JHPOLICY_OPA=/nope/opa: no such file"),
    ("/bin/true", "JHPOLICY_OPA=/bin/true: does not run as OPA (`/bin/true version` printed no version)"),
])
def test_jhpolicy_opa_is_checked(binary, error):
    env = dict(os.environ, JHPOLICY_OPA=binary)
    assert one_line_error(jhpolicy("install-opa", env=env), "install-opa") == f"jhpolicy install-opa: {error}"
    assert one_line_error(jhpolicy("check", "--user", "a", env=env)).endswith(error)


def test_an_opa_of_another_version_is_used_with_a_warning(tmp_path):
    fake = tmp_path / "opa"
    fake.write_text("#!/bin/sh\necho 'Version: 0.70.0'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    result = jhpolicy("install-opa", env=dict(os.environ, JHPOLICY_OPA=str(fake)))
    assert (result.returncode, result.stdout) == (0, f"{fake}\n")
    assert result.stderr == f"jhpolicy: JHPOLICY_OPA={fake} is OPA 0.70.0; jhpolicy is tested with {OPA_VERSION}\n"


def test_the_admins_kube_credential_plugin_never_runs(tmp_path):
    marker = tmp_path / "plugin-ran"
    plugin = tmp_path / "credential-plugin"
    plugin.write_text(f"#!/bin/sh\ntouch {marker}\necho 'no credentials for you' >&2\nexit 1\n")
    plugin.chmod(0o755)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""\
apiVersion: v1
kind: Config
clusters: [{{name: prod, cluster: {{server: "https://127.0.0.1:1"}}}}]
users: [{{name: sso, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1, command: {plugin}, interactiveMode: Never}}}}}}]
contexts: [{{name: prod, context: {{cluster: prod, user: sso}}}}]
current-context: prod
""")
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), KUBERNETES_SERVICE_HOST="10.0.0.1")
    result = jhpolicy("check", "--user", "a", "--group", "students", env=env)
    assert result.returncode == 0, result.stderr
    assert not marker.exists()


def test_no_temporary_files_are_left(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    assert jhpolicy("check", "--user", "a", "--group", "students", env=env).returncode == 0
    assert jhpolicy("check", "--user", "a", "--explain", env=env).returncode == 0
    suite = tmp_path / "cases.yaml"
    assert jhpolicy("init-cases", str(suite), "--policies", str(POLICIES), env=env).returncode == 0
    assert jhpolicy("test", str(suite), "--policies", str(POLICIES), env=env).returncode == 0
    assert list(tmp.iterdir()) == []


def test_group_names_no_entry_matches_are_named_with_those_one_typo_away():
    result = jhpolicy("check", "--user", "a", "--group", "Students", "--group", "physics", "--group", "students",
                      "--group", "gpu-user")
    notes = [line for line in result.stdout.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: group {g!r} has no entry in the policy's data (groups or quotas.groups): it grants nothing "
        f"(group names are case-sensitive{hint})" for g, hint in (
            ("Students", "; did you mean 'students'?"), ("gpu-user", "; did you mean 'gpu-users'?"), ("physics", ""))
    ]


def test_a_policy_without_the_librarys_close_keys_gives_no_suggestion(tmp_path):
    # An admin's folder copied by an older jhpolicy init has no close_keys: the note stays, without a guess.
    from jhpolicy.tooling import close_names
    from jhpolicy.tooling.local_opa import LocalOPA
    from jhpolicy.tooling.opa_binary import ensure_opa

    (tmp_path / "p.rego").write_text("package other\n\nx := 1\n")
    server = LocalOPA([tmp_path]).start()
    try:
        assert close_names.from_server(server.url, [("Students", {"students"})]) == [[]]
    finally:
        server.stop()
    assert close_names.from_folder(ensure_opa(), tmp_path, [("Students", {"students"})]) == [[]]
    asked = [("student", {"students", "studant", "gpu-users"}), ("physics", {"students"}), ("gpu", ["gpus", "GPU"])]
    said = [["studant", "students"], [], ["GPU", "gpus"]]
    shipped = LocalOPA([POLICIES]).start()
    try:
        assert close_names.from_server(shipped.url, asked) == said
    finally:
        shipped.stop()
    assert close_names.from_folder(ensure_opa(), POLICIES, asked) == said


def test_verbose_shows_the_reason_behind_a_503():
    from jhpolicy.tooling.local_opa import free_port

    url = f"http://127.0.0.1:{free_port()}"
    quiet = jhpolicy("check", "--user", "a", "--opa-url", url)
    assert quiet.returncode == 2
    assert "reason (hub log)" not in quiet.stdout and "(--verbose shows the reason the hub would log)" in quiet.stdout
    verbose = jhpolicy("check", "--user", "a", "--opa-url", url, "--verbose")
    assert f"reason (hub log): jhpolicy: refusing spawn of a: cannot reach OPA at {url}" in verbose.stdout
    # And a folder without jhpolicy's decision rule: OPA answers {}, which is no decision.
    broken = jhpolicy("check", "--user", "a", "--policies", str(ROOT / "tests" / "policies"), "--verbose")
    assert broken.returncode == 2 and "reason (hub log): " in broken.stdout, broken.stdout


def test_what_counts_as_a_checkout(tmp_path):
    assert is_checkout(ROOT) and default_tools_dir() == ROOT / ".tools" / "bin"
    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[project]\nname = "jhpolicy-fork-of-something"\n')
    assert not is_checkout(other)
    installed = tmp_path / "site-packages"
    installed.mkdir()
    (installed / "pyproject.toml").write_text('[project]\nname = "jhpolicy"\n')
    assert not is_checkout(installed)


# --- #29 item 9: each message names the mistake ---


def test_a_usage_file_may_be_yaml_and_a_bad_one_says_so(tmp_path):
    usage = tmp_path / "usage.yaml"
    usage.write_text("groups:\n  gpu-users: {extra_resources: {nvidia.com/gpu: 4}}\n")
    result = jhpolicy("check", "--user", "g", "--group", "gpu-users", "--usage", str(usage),
                      "--body", '{"extra_resource_limits": {"nvidia.com/gpu": 1}}')
    assert result.returncode == 1 and "quota reached: gpu-users holds 4 of 4 nvidia.com/gpu" in result.stdout, result.stdout
    usage.write_text("groups: [\n")
    assert "--usage " + str(usage) + ": neither JSON nor YAML" in one_line_error(
        jhpolicy("check", "--user", "g", "--usage", str(usage)))


def test_an_option_misspelt_gets_the_commands_usage_and_the_option_meant():
    result = jhpolicy("check", "--groups", "x", "--user", "a")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: jhpolicy check "), result.stderr
    assert result.stderr.endswith("jhpolicy check: error: unrecognized arguments: --groups x (did you mean --group?)\n")


def test_a_missing_wheel_is_no_such_file(tmp_path):
    assert one_line_error(jhpolicy("wheels-configmap", str(tmp_path / "jhpolicy-0-py3-none-any.whl")),
                          "wheels-configmap").endswith("jhpolicy-0-py3-none-any.whl: no such file")


@pytest.mark.parametrize("text, error", [
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {}\n",
     "config.yaml: this is a Kubernetes ConfigMap manifest, not Helm values (hub:, singleuser:, ...); "
     "give the values files you install the chart with"),
    ("hub:\n  extraConfig:\n    auth: |\n      import oauthenticator_not_here\n",
     "No module named 'oauthenticator_not_here': the hub image has it, this Python does not; install it beside "
     "jhpolicy to dry-run this config (pip install oauthenticator_not_here)"),
])
def test_values_that_cannot_be_dry_run_say_why(tmp_path, text, error):
    values = tmp_path / "config.yaml"
    values.write_text(text)
    assert one_line_error(jhpolicy("check", "--user", "a", "--values", str(values))).endswith(error)


def test_output_cut_short_by_the_reader_is_no_bug(tmp_path):
    import subprocess
    import sys

    big = tmp_path / "big.yaml"  # far more output than a pipe holds: the writer meets the closed pipe
    big.write_text("hub:\n  extraConfig:\n" + "".join(f"    k{i}: 'x = {i}'\n" for i in range(50_000)))
    done = subprocess.run(f"{sys.executable} -m jhpolicy.cli values -f {big} | head -1",
                          shell=True, capture_output=True, text=True, timeout=120)
    assert done.stdout == f"# Made by `jhpolicy values` from: {big}\n"
    assert done.stderr == "", done.stderr


def test_check_says_when_the_hub_would_refuse_a_named_server(tmp_path):
    # #29 item 8: Zero to JupyterHub turns named servers off by default.
    note = ("note: this config does not enable named servers (JupyterHub.allow_named_servers; z2jh: hub.allowNamedServers), "
            "so the hub answers 400 'Named servers are not enabled' for server 'lab' before any policy runs")
    plain = tmp_path / "config.yaml"
    plain.write_text("singleuser:\n  cpu: {limit: 1}\n")
    assert note in jhpolicy("check", "--user", "a", "--server", "lab", "--values", str(plain)).stdout.splitlines()
    named = tmp_path / "named.yaml"
    named.write_text("hub:\n  allowNamedServers: true\n")
    assert "note: this config does not enable" not in jhpolicy("check", "--user", "a", "--server", "lab", "--values", str(named)).stdout
    assert "note: this config does not enable" not in jhpolicy("check", "--user", "a").stdout  # the default server
