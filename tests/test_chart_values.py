"""`--values`: the spawner configured as the z2jh chart configures it.
The values jhpolicy merges are compared with what real Helm renders into the
hub's Secret for the same files (`helm template`, Helm v3.22.0 from
.tools/k8s/bin: no cluster needed), and the chart's own jupyterhub_config.py
runs on them, hub.extraConfig snippets included."""

from __future__ import annotations

import base64
import subprocess

import pytest
import yaml

from jhpolicy.tooling.chart_config import CHART, hub_values, load

from .helpers.cli import jhpolicy
from .helpers.policies import POLICIES, ROOT
from .kube.cluster import BIN

# The `jhpolicy` command runs where the admin installs it (pip's newest JupyterHub
# and KubeSpawner), not in the hub: one version set (conftest.py, ONCE).
pytestmark = pytest.mark.once

CONFIG = """\
singleuser:
  image: {name: quay.io/jupyter/scipy-notebook, tag: "2024-10-07"}
  cpu: {limit: 2, guarantee: 0.5}
  memory: {limit: 3G, guarantee: 1G}
  cmd: null              # Helm: a null deletes the chart's default
  profileList:
    - {display_name: Standard, slug: small, default: true}
    - display_name: GPU
      slug: gpu
      kubespawner_override: {extra_resource_limits: {nvidia.com/gpu: "1"}}
hub:
  config:
    KubeSpawner: {start_timeout: 600}
  extraConfig:
    site: |
      c.KubeSpawner.environment = {"SITE": "example"}
"""


def rendered_secret_values(tmp_path, files) -> dict:
    home = tmp_path / "helm-home"
    env = {"HOME": str(home), "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
           "HELM_DATA_HOME": str(home / "data"), "PATH": "/usr/bin:/bin"}
    args = [str(BIN / "helm"), "template", "jhub", str(CHART), "-n", "jhub", "--kube-version", "v1.34.4"]
    result = subprocess.run([*args, *(a for f in files for a in ("-f", str(f)))], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    (secret,) = [d for d in yaml.safe_load_all(result.stdout) if d and d["kind"] == "Secret" and d["metadata"]["name"] == "hub"]
    return yaml.safe_load(base64.b64decode(secret["data"]["values.yaml"]))


@pytest.fixture
def files(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    return [config, ROOT / "helm-values" / "jhpolicy.yaml", ROOT / "helm-values" / "hub-image.yaml"]


def test_the_values_are_the_ones_helm_renders_for_the_hub(tmp_path, files):
    assert hub_values(files) == rendered_secret_values(tmp_path, files)


def test_the_charts_config_configures_the_spawner(files):
    c = load(files)
    assert c.KubeSpawner.image == "quay.io/jupyter/scipy-notebook:2024-10-07"
    assert (c.KubeSpawner.cpu_limit, c.KubeSpawner.cpu_guarantee) == (2, 0.5)
    assert (c.KubeSpawner.mem_limit, c.KubeSpawner.mem_guarantee) == ("3G", "1G")
    assert [p["slug"] for p in c.KubeSpawner.profile_list] == ["small", "gpu"]
    assert c.KubeSpawner.start_timeout == 600  # hub.config
    assert c.KubeSpawner.environment == {"SITE": "example"}  # the admin's extraConfig snippet
    assert c.JupyterHub.spawner_class == "jhpolicy.PolicyKubeSpawner"  # jhpolicy's snippet, after the chart's own
    assert c.Spawner.consecutive_failure_limit == 5  # the chart's default
    assert "cmd" not in c.Spawner  # deleted by the null


def test_check_with_values_answers_as_the_charts_hub(files):
    args = ("check", "--user", "stu", "--group", "students", "--body", '{"cpu_limit": 4}', "--json",
            "--policies", str(POLICIES))
    with_values = jhpolicy(*args, *(a for f in files for a in ("--values", str(f))))
    assert with_values.returncode == 0, with_values.stderr
    report = yaml.safe_load(with_values.stdout)
    assert report["pod"] == {"image": "quay.io/jupyter/scipy-notebook:2024-10-07",
                             "limits": {"cpu": 2.0, "memory": 3 * 2**30},
                             "requests": {"cpu": 0.5, "memory": 2**30}}
    assert report["messages"] == ["cpu_limit 4 lowered to 2: the most for group students"]
    # A default profile students may not select is judged as if named (#28 item 1).
    restricted = [f for f in files]
    restricted[0].write_text(restricted[0].read_text().replace("slug: small, default: true", "slug: standard, default: true"))
    refused = jhpolicy(*args, *(a for f in restricted for a in ("--values", str(f))))
    assert refused.returncode == 1 and "profile standard (the hub's default" in refused.stdout, refused.stdout
    # Without them, KubeSpawner's own defaults: another answer.
    without = yaml.safe_load(jhpolicy(*args).stdout)
    assert without["pod"]["image"] == "quay.io/jupyterhub/singleuser:latest"


@pytest.mark.parametrize("text, error", [
    ("hub:\n  extraConfig:\n    bad: |\n      raise ValueError('oops')\n",
     "--values: the chart's config (with your hub.extraConfig) raised ValueError: oops"),
    ("hub:\n  config:\n    kubespawner: {cpu_limit: 1}\n",
     "--values: the chart's config stopped: FATAL: Invalid hub.config section name: kubespawner."),
    ("- a\n- b\n", "a values file is a mapping"),
    ("hub:\n  config:\n    KubeSpawner: {http_timeout: null}\n",
     "the hub's config is not one KubeSpawner accepts: The 'http_timeout' trait of a PolicyKubeSpawner instance "
     "expected an int, not the NoneType None."),
    ("hub: [\n", "not YAML"),
])
def test_values_the_chart_cannot_use_are_one_line(tmp_path, text, error):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = jhpolicy("check", "--user", "a", "--values", str(path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert error in result.stderr, result.stderr
