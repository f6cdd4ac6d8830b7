"""The tutorials are tests (issue #29): every shell command they show runs
here as written, as an admin would run it.

Each ```sh / ```bash block in the tutorials, the how-tos and the README is
preceded by `<!-- runs in: ROUTE, ... -->`, naming the tests below that run
it; a block without one, or naming a route no test runs, fails
`test_every_shell_block_is_run_by_a_test`. A route's blocks run in page
order (PAGES), each as one `bash -e -o pipefail` script in the admin's own
folder (not this checkout), with:

- a fresh virtualenv made by the tutorial's own commands from the wheel
  built from this checkout (nothing else of the checkout is in reach);
- the real `kubectl` and `helm` (.tools/k8s/bin, built by ./dev) pointed at
  the project's Kubernetes (kube-apiserver, etcd, kwok nodes);
- the admin's `config.yaml` (ADMIN_CONFIG) and their edit of the policy
  data after `jhpolicy init` (admin_edits), as the tutorial asks for.

What differs from the page, in this one place:

- SUBSTITUTIONS: the chart repository's address becomes a local one serving
  the vendored chart 4.4.0 (an index made by `helm repo index`), as CI
  reaches no other host;
- `docker` lines are not run (no Docker engine here; the page says so next
  to them): `check_docker` checks the Dockerfile and the context they name
  and that the tag is the one config.yaml sets; tests/test_chart_hub.py runs
  the Dockerfile's RUN step;
- `./dev test` (route "ci") is .ci/run itself.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from jhpolicy import __version__
from jhpolicy.tooling.opa_binary import find_opa

from .helpers.policies import ROOT
from .kube.cluster import ApiError

# Runs in a venv of its own (the tutorials' own, from the wheel), whichever venv runs pytest: one
# version set is enough (conftest.py, ONCE).
pytestmark = pytest.mark.once

BIN = ROOT / ".tools" / "k8s" / "bin"
CHART = ROOT / "jhpolicy" / "z2jh" / "jupyterhub-4.4.0.tgz"
# In the order a reader follows them: many-hubs.md continues install-z2jh.md's folder.
PAGES = [
    ROOT / "README.md",
    ROOT / "docs" / "tutorials" / "quick-start.md",
    ROOT / "docs" / "tutorials" / "first-policy.md",
    ROOT / "docs" / "tutorials" / "install-z2jh.md",
    ROOT / "docs" / "tutorials" / "many-hubs.md",
]
ROUTES = {"ci", "first-policy", "image", "no-image"}
CHART_REPO = "https://hub.jupyter.org/helm-chart/"
HUB_IMAGE = "registry.example.org/jupyterhub/k8s-hub-jhpolicy:4.4.0-jhpolicy0.1.0"
WHEEL = f"jhpolicy-{__version__}-py3-none-any.whl"
NAMESPACE = "jhub"  # the tutorial's own

# The admin's config.yaml: their hub image (route A), a list jhpolicy also
# sets (kept by `jhpolicy values`), and what this test cluster needs
# (tests/kube/test-overrides.yaml says why).
ADMIN_CONFIG = {
    "hub": {
        "extraEnv": [{"name": "SITE_NAME", "value": "example-university"}],
        "db": {"type": "sqlite-memory"},
    },
    "prePuller": {"hook": {"enabled": False}, "continuous": {"enabled": False}},
    "scheduling": {"userScheduler": {"enabled": False}},
    "singleuser": {"cpu": {"limit": 1}, "memory": {"limit": "2G"}},
}
IMAGE_CONFIG = {**ADMIN_CONFIG, "hub": {**ADMIN_CONFIG["hub"], "image": {"name": HUB_IMAGE.split(":")[0], "tag": HUB_IMAGE.split(":")[1]}}}
# The admin's own group, added to data.json after `jhpolicy init`: the
# ConfigMap in the cluster must carry it.
PHYSICS = {"images": ["quay.io/jupyter/scipy-notebook:*", "quay.io/jupyterhub/k8s-singleuser-sample:*"],
           "max": {"cpu_limit": 4, "cpu_guarantee": 1, "mem_limit": "8G", "mem_guarantee": "2G"}}


@dataclass
class Block:
    page: Path
    routes: list[str]
    text: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}: {self.text.splitlines()[0]}"


def shell_blocks() -> list[Block]:
    """Every ```sh/```bash block of the pages, with the routes its marker names."""
    found = []
    pages = [*PAGES, *sorted((ROOT / "docs" / "tutorials").glob("*.md")), *sorted((ROOT / "docs" / "how-to").glob("*.md"))]
    for page in dict.fromkeys(pages):
        text = page.read_text()
        for m in re.finditer(r"^( *)```(?:sh|bash)\n(.*?)^ *```", text, re.S | re.M):
            before = text[:m.start()].rstrip().splitlines()
            marker = re.fullmatch(r"\s*<!-- runs in: (.*) -->", before[-1]) if before else None
            routes = [r.strip() for r in marker.group(1).split(",")] if marker else []
            lines = [line[len(m.group(1)):] for line in m.group(2).splitlines()]
            found.append(Block(page, routes, "\n".join(lines)))
    return found


def route(name: str) -> list[Block]:
    return [b for b in shell_blocks() if name in b.routes]


def commands(text: str) -> list[str]:
    """The block's commands, a line ending in a backslash joined to the next."""
    joined, current = [], ""
    for line in text.splitlines():
        current += line
        if line.endswith("\\"):
            current += "\n"
            continue
        if current.strip():
            joined.append(current)
        current = ""
    return joined


def test_every_shell_block_is_run_by_a_test():
    blocks = shell_blocks()
    assert blocks
    unrun = [str(b) for b in blocks if not b.routes or not set(b.routes) <= ROUTES]
    assert not unrun, f"shell blocks no test runs (add `<!-- runs in: ROUTE -->`, ROUTE one of {sorted(ROUTES)}): {unrun}"
    outside = [str(b) for b in blocks if b.page not in PAGES]
    assert not outside, f"pages with shell blocks that tests/test_tutorials.py does not list in PAGES: {outside}"
    # Each route's blocks are run by the test of that name below.
    assert {r for b in blocks for r in b.routes} == ROUTES


def test_the_ci_route_is_the_readme_quick_start():
    """./dev test is .ci/run; the quick start's ./dev check runs in test_quick_start_check."""
    lines = [c for b in route("ci") for c in commands(b.text)]
    assert set(lines) <= {*(c for c in lines if c.startswith("./dev check ")), "./dev test"}
    assert "exec ./dev test" in (ROOT / ".ci" / "run").read_text()


# --- the admin's machine ---


@dataclass
class Admin:
    folder: Path
    env: dict
    chart_repo: str

    def run(self, block: Block) -> str:
        text = block.text
        for written, here in SUBSTITUTIONS.items():
            text = text.replace(written, here(self))
        script = []
        for command in commands(text):
            if command.startswith("docker "):
                check_docker(self.folder, shlex.split(command))
                continue
            script.append(command)
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-x", "-c", "\n".join(script)], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{block} failed ({done.returncode}):\n{done.stderr[-6000:]}\n{done.stdout[-3000:]}\n{self.diagnose()}"
        admin_edits(self, block)
        return done.stdout + done.stderr


    def diagnose(self) -> str:
        """What the cluster holds, for a failure's message."""
        if "KUBECONFIG" not in self.env:
            return ""
        done = subprocess.run(["kubectl", "describe", "pods", "-n", NAMESPACE], cwd=self.folder, env=self.env,
                              capture_output=True, text=True)
        return done.stdout[-6000:] + done.stderr[-1000:]


SUBSTITUTIONS = {CHART_REPO: lambda admin: admin.chart_repo}


def admin_edits(admin: Admin, block: Block) -> None:
    """What the tutorial asks the admin to do between commands: after
    `jhpolicy init hub-policy`, add their own group to the data, and keep
    the folder in git (many-hubs.md stamps the bundle with its revision)."""
    policy = admin.folder / "hub-policy"
    data_file = policy / "policies" / "data.json"
    if "jhpolicy init hub-policy" not in block.text or not data_file.exists() or (policy / ".git").exists():
        return
    data = json.loads(data_file.read_text())
    data["jhpolicy"]["groups"]["physics"] = PHYSICS
    data_file.write_text(json.dumps(data, indent=2) + "\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "our hub policy"]):
        subprocess.run(["git", *args], cwd=policy, env=admin.env, check=True, capture_output=True)


def check_docker(folder: Path, words: list[str]) -> None:
    """A docker line, not run here: what it names must be there."""
    assert words[:2] in (["docker", "build"], ["docker", "push"]), words
    if words[1] == "push":
        assert words[2:] == [HUB_IMAGE]
        return
    options = dict(zip(words[2:-1:2], words[3:-1:2]))
    assert options.get("-t") == HUB_IMAGE, "the tag is the image config.yaml sets"
    dockerfile, context = folder / options["-f"], folder / words[-1]
    (copied,) = re.findall(r"^COPY (\S+) ", dockerfile.read_text(), re.M)
    assert [p.name for p in context.iterdir()] == [WHEEL] and any(context.glob(copied)), (copied, list(context.iterdir()))
    assert dockerfile.read_text().startswith("# The z2jh 4.4.0 hub image") and "FROM quay.io/jupyterhub/k8s-hub:4.4.0" in dockerfile.read_text()


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = dist.glob("jhpolicy-*.whl")
    assert wheel.name == WHEEL
    return wheel


@pytest.fixture(scope="module")
def chart_repo(tmp_path_factory):
    """A Helm chart repository on loopback with the vendored chart, its index made by real helm."""
    folder = tmp_path_factory.mktemp("chart-repo")
    shutil.copy(CHART, folder)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    subprocess.run([str(BIN / "helm"), "repo", "index", str(folder), "--url", url], check=True, capture_output=True,
                   env={"HOME": str(folder.parent), "PATH": "/usr/bin:/bin"})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()


def admin_machine(tmp_path: Path, built_wheel: Path, chart_repo: str, kubeconfig: Path | None, config: dict) -> Admin:
    """The admin's folder (the wheel and their config.yaml) and environment."""
    home, folder, tools = tmp_path / "home", tmp_path / "admin", tmp_path / "tools"
    for path in (home, folder, tools):
        path.mkdir()
    shutil.copy(built_wheel, folder / WHEEL)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    for tool in ("kubectl", "helm"):
        (tools / tool).symlink_to(BIN / tool)
    # OPA as `jhpolicy install-opa` leaves it, in the user's cache (no download in CI).
    cache = home / ".cache"
    (cache / "jhpolicy" / "bin").mkdir(parents=True)
    shutil.copy(find_opa(), cache / "jhpolicy" / "bin" / "opa")
    python = Path(sys._base_executable).parent
    env = {
        "HOME": str(home), "PATH": f"{tools}:{python}:/usr/bin:/bin", "LANG": "C.UTF-8",
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", os.path.expanduser("~/.cache/pip")),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "GIT_AUTHOR_NAME": "Hub Admin", "GIT_AUTHOR_EMAIL": "admin@example.org",
        "GIT_COMMITTER_NAME": "Hub Admin", "GIT_COMMITTER_EMAIL": "admin@example.org",
    }
    if kubeconfig:
        env["KUBECONFIG"] = str(kubeconfig)
    return Admin(folder, env, chart_repo)


def hub_values(cluster) -> dict:
    secret = cluster.request("GET", f"/api/v1/namespaces/{NAMESPACE}/secrets/hub")
    return yaml.safe_load(base64.b64decode(secret["data"]["values.yaml"]))


def running_hub_pod(cluster) -> dict:
    # `kubectl rollout status` (the tutorial's last command) has waited for it.
    pods = [p for p in cluster.pods(NAMESPACE, "component=hub") if not p["metadata"].get("deletionTimestamp")]
    (pod,) = pods
    assert pod["status"]["phase"] == "Running" and pod["spec"]["nodeName"].startswith("kwok-")
    return pod


def assert_policy_hub(cluster, pod: dict, values: dict) -> None:
    """The hub pod runs PolicyKubeSpawner with the admin's policy beside it."""
    assert 'c.JupyterHub.spawner_class = "jhpolicy.PolicyKubeSpawner"' in values["hub"]["extraConfig"]["jhpolicy"]
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert list(containers) == ["hub", "opa"]
    assert {"name": "SITE_NAME", "value": "example-university"} in containers["hub"]["env"]  # the admin's, kept
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["jhpolicy-policies"]["configMap"]["name"] == "jhpolicy-policies"
    policies = cluster.request("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/jhpolicy-policies")
    assert json.loads(policies["data"]["data.json"])["jhpolicy"]["groups"]["physics"] == PHYSICS


def assert_offers_judged(printed: str) -> None:
    """Step 5's lint judged the hub's default spawn under the chart's values
    (the chart's singleuser image, which every group of the data lists): it
    started its own OPA and warned of nothing, as step 2's lint."""
    assert printed.count("hub-policy/policies: OPA loads it and its data has no problems") == 2, printed
    assert "jhpolicy lint:" not in printed, printed  # no warning, no note


def uninstall(cluster, admin: Admin) -> None:
    """The tutorial's namespace is the next test's: helm uninstall, then the namespace, gone."""
    subprocess.run(["helm", "uninstall", "jhub", "-n", NAMESPACE], env=admin.env, cwd=admin.folder, capture_output=True)
    subprocess.run(["kubectl", "delete", "namespace", NAMESPACE, "--wait=true", "--timeout=5m"], env=admin.env,
                   cwd=admin.folder, capture_output=True)
    def gone():
        try:
            cluster.request("GET", f"/api/v1/namespaces/{NAMESPACE}")
        except ApiError as e:
            return e.status == 404
        return False

    cluster.wait_for(gone, f"namespace {NAMESPACE} deleted", timeout=300)


def test_install_z2jh_route_a_your_hub_image(cluster, built_wheel, chart_repo, tmp_path):
    admin = admin_machine(tmp_path, built_wheel, chart_repo, cluster.kubeconfig, IMAGE_CONFIG)
    try:
        printed = "".join(admin.run(block) for block in route("image"))
        assert_offers_judged(printed)
        assert "ALLOWED (clamped)\n  - cpu_limit 4 lowered to 2: the most for group students" in printed, printed

        pod = running_hub_pod(cluster)
        values = hub_values(cluster)
        assert_policy_hub(cluster, pod, values)
        # "far below the 262,144 bytes its annotation copy may take": client-side apply's copy, measured.
        policies = cluster.request("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/jhpolicy-policies")
        assert len(policies["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]) < 262_144 / 2
        hub = next(c for c in pod["spec"]["containers"] if c["name"] == "hub")
        assert hub["image"] == HUB_IMAGE  # the admin's image, not the stack's placeholder
        # Step 6 ran last: the hub pod is the token-auth one.
        opa = next(c for c in pod["spec"]["containers"] if c["name"] == "opa")
        assert "--authentication=token" in opa["args"]
        assert {v["name"] for v in pod["spec"]["volumes"]} >= {"jhpolicy-opa-authz"}
        assert any(e["name"] == "JHPOLICY_OPA_TOKEN" for e in hub["env"])
        # many-hubs.md: the signed bundle and the sidecar's configuration for it.
        assert (admin.folder / "jhpolicy.tar.gz").stat().st_size > 0
        config = cluster.request("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/jhpolicy-opa-config")
        assert yaml.safe_load(config["data"]["opa-config.yaml"])["labels"] == {"hub": "physics"}
        bundles = yaml.safe_load((admin.folder / "jhpolicy-values.yaml").read_text())
        assert bundles["hub"]["image"]["name"] == IMAGE_CONFIG["hub"]["image"]["name"]
    finally:
        uninstall(cluster, admin)


def test_install_z2jh_route_b_no_image_build(cluster, built_wheel, chart_repo, tmp_path):
    admin = admin_machine(tmp_path, built_wheel, chart_repo, cluster.kubeconfig, ADMIN_CONFIG)
    try:
        printed = "".join(admin.run(block) for block in route("no-image"))
        assert_offers_judged(printed)
        assert "note: hub.extraConfig 00-jhpolicy-wheels not run" in printed
        # The sizes the page quotes are what the commands give, within 5 %
        # (the jhpolicy wheel grows with each change; the page says "measured").
        page = (ROOT / "docs" / "tutorials" / "install-z2jh.md").read_text()
        quoted_size, quoted_share = re.search(r"the six wheels are ([\d,]+) bytes, (\d+) %", page).groups()
        size, share = re.search(r"6 wheels, ([\d,]+) bytes of the 1,048,576 a ConfigMap holds \((\d+)%\)", printed).groups()
        assert abs(int(size.replace(",", "")) / int(quoted_size.replace(",", "")) - 1) < 0.05, (size, quoted_size)
        assert abs(int(share) - int(quoted_share)) <= 3, (share, quoted_share)
        quoted_yaml = int(re.search(r"\(([\d,]+) bytes as YAML\)", page).group(1).replace(",", ""))
        assert abs(len((admin.folder / "jhpolicy-wheels.yaml").read_bytes()) / quoted_yaml - 1) < 0.05
        pod = running_hub_pod(cluster)
        values = hub_values(cluster)
        assert_policy_hub(cluster, pod, values)
        hub = next(c for c in pod["spec"]["containers"] if c["name"] == "hub")
        assert hub["image"] == "quay.io/jupyterhub/k8s-hub:4.4.0"  # the chart's own
        wheels = sorted((admin.folder / "wheels").glob("*.whl"))
        assert [w.name.split("-")[0] for w in wheels] == ["anyio", "h11", "httpcore", "httpx", "jhpolicy", "jupyterhub_idle_culler"]
        # The hub imports exactly these, by sha256.
        pins = values["hub"]["extraConfig"]["00-jhpolicy-wheels"]
        for wheel in wheels:
            assert hashlib.sha256(wheel.read_bytes()).hexdigest() in pins, wheel.name
        stored = cluster.request("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/jhpolicy-wheels")
        assert sorted(stored["binaryData"]) == [w.name for w in wheels]
        assert "kubectl.kubernetes.io/last-applied-configuration" not in stored["metadata"].get("annotations", {})
        # What the page says of client-side apply, against the same API server.
        refused = subprocess.run(["kubectl", "apply", "-n", NAMESPACE, "-f", "jhpolicy-wheels.yaml"], cwd=admin.folder,
                                 env=admin.env, capture_output=True, text=True)
        assert refused.returncode != 0 and "metadata.annotations: Too long" in refused.stderr, refused.stderr
    finally:
        uninstall(cluster, admin)


def test_first_policy(built_wheel, tmp_path):
    """first-policy.md's block, with jhpolicy installed as the page says (on PATH, as the workflow has it)."""
    admin = admin_machine(tmp_path, built_wheel, CHART_REPO, None, ADMIN_CONFIG)
    subprocess.run(["python3", "-m", "venv", "venv"], cwd=tmp_path, env=admin.env, check=True)
    subprocess.run([str(tmp_path / "venv" / "bin" / "pip"), "install", "-q", f"./{WHEEL}[cli]"], cwd=admin.folder,
                   env=admin.env, check=True, capture_output=True, timeout=600)
    admin.env["PATH"] = f"{tmp_path / 'venv' / 'bin'}:{admin.env['PATH']}"
    (block,) = route("first-policy")
    printed = admin.run(block)
    assert "OPA loads it and its data has no problems" in printed
    assert (admin.folder / "hub-policy" / "jhpolicy-cases.xml").exists()


@pytest.mark.opa
def test_quick_start_check():
    """The README's and the quick start's ./dev check, run as written from this checkout."""
    lines = {c for b in route("ci") for c in commands(b.text) if c.startswith("./dev check ")}
    assert len(lines) == 1
    done = subprocess.run(["bash", "-e", "-c", lines.pop()], cwd=ROOT, capture_output=True, text=True, timeout=600)
    # What the README shows it printing, in the plain block after the command's.
    shown = re.search(r"\./dev check .*?```\n.*?\n```\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    assert done.returncode == 0 and done.stdout == shown, done.stdout + done.stderr
