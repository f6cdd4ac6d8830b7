"""`--values config.yaml`: the spawner configured as the Zero to JupyterHub
chart configures it in the hub pod, so a dry run answers as the hub would.

The chart renders its values (its values.yaml, then each of yours, merged
as Helm merges them) into the hub's Secret, and the hub runs the chart's
own `jupyterhub_config.py`, which reads them through the chart's `z2jh.py`:
singleuser image, cpu, memory, extraResource, profileList,
hub.config.KubeSpawner and the hub.extraConfig snippets, in the chart's
order. Here the same two files run, from the chart packaged with jhpolicy
(z2jh/jupyterhub-4.4.0.tgz), with `z2jh` reading the merged values instead
of the pod's mounted files. Only what the pod's environment would give
(service ports, generated secrets) is filled in with placeholders.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import tarfile
import types
from functools import lru_cache
from pathlib import Path

import yaml
from traitlets.config import Config

from .configmap import WHEELS_CONFIG_KEY, WHEELS_SNIPPET_HEADER
from .shipped import PACKAGE

CHART = PACKAGE / "z2jh" / "jupyterhub-4.4.0.tgz"
# What the hub pod's environment would give the chart's config.
SERVICE_PORTS = {"PROXY_API_SERVICE_PORT": "8001", "HUB_SERVICE_PORT": "8081"}


class ChartConfigError(Exception):
    """The values cannot configure a hub: the message says where."""


@lru_cache
def chart_file(name: str) -> str:
    with tarfile.open(CHART) as tgz:
        return tgz.extractfile(f"jupyterhub/{name}").read().decode()


def coalesce(base: dict, override: dict) -> dict:
    """Helm's merge of a values file onto what came before: maps merge
    recursively, lists and scalars replace, a null deletes the key."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = value
    return merged


def hub_values(files: list[Path], release: str = "jhub", namespace: str = "jhub") -> dict:
    """The values.yaml of the hub's Secret, as `helm install RELEASE -f FILE...` renders it."""
    chart = yaml.safe_load(chart_file("Chart.yaml"))
    defaults = yaml.safe_load(chart_file("values.yaml"))
    # Helm drops the chart's own top-level nulls (nameOverride, enabled), keeps nested ones.
    values = {k: v for k, v in defaults.items() if v is not None}
    for path in files:
        try:
            doc = yaml.safe_load(Path(path).read_text())
        except OSError as e:
            raise ChartConfigError(f"{path}: {e.strerror or e}") from None
        except yaml.YAMLError as e:
            raise ChartConfigError(f"{path}: not YAML: {' '.join(str(e).split())[:200]}") from None
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ChartConfigError(f"{path}: a values file is a mapping (hub:, singleuser:, ...)")
        if "apiVersion" in doc and "kind" in doc:
            raise ChartConfigError(f"{path}: this is a Kubernetes {doc['kind']} manifest, not Helm values "
                                   "(hub:, singleuser:, ...); give the values files you install the chart with")
        values = coalesce(values, doc)
    values["Chart"] = {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]}
    values["Release"] = {"Name": release, "Namespace": namespace, "Service": "Helm"}
    return values


def load(files: list[Path], notes: list[str] | None = None) -> Config:
    """The Config the chart's jupyterhub_config.py builds from these values;
    in `notes`, what of them only the hub pod can run and is left out."""
    values = hub_values(files)
    extra = values.get("hub", {}).get("extraConfig")
    if isinstance(extra, dict) and str(extra.get(WHEELS_CONFIG_KEY, "")).startswith(WHEELS_SNIPPET_HEADER):
        # The pinned import of the wheels mounted from the ConfigMap: only the
        # pod has them. (The no-image-build stack's placeholder under this key
        # runs, and stops the dry run as it stops the hub.)
        values["hub"]["extraConfig"] = {k: v for k, v in extra.items() if k != WHEELS_CONFIG_KEY}
        if notes is not None:
            notes.append(f"hub.extraConfig {WHEELS_CONFIG_KEY} not run: it imports jhpolicy and httpx from the wheels "
                         "of the hub's ConfigMap (in the hub pod only); this dry run uses the jhpolicy installed here")
    z2jh = _z2jh_reading(values)
    folder = PACKAGE / "z2jh"
    saved_module, saved_path = sys.modules.get("z2jh"), list(sys.path)
    sys.modules["z2jh"] = z2jh
    output = io.StringIO()
    try:
        with _no_curl(), contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            config = Config()
            # What a config file gets from JupyterHub's loader (traitlets' PyFileConfigLoader).
            namespace = {"c": config, "get_config": lambda: config, "__file__": str(folder / "jupyterhub_config.py")}
            source = chart_file("files/hub/jupyterhub_config.py")
            exec(compile(source, "z2jh:files/hub/jupyterhub_config.py", "exec"), namespace)  # noqa: S102
            return config
    except SystemExit as e:
        # raise SystemExit("why") in a snippet says why; the chart's own exits print it first.
        said = [line for line in output.getvalue().splitlines() if line.strip()]
        why = e.code if isinstance(e.code, str) else (said[-1] if said else f"exit {e.code}")
        raise ChartConfigError(f"the chart's config stopped: {why}") from None
    except ChartConfigError:
        raise
    except ModuleNotFoundError as e:  # the hub image has it (an authenticator), this Python does not
        raise ChartConfigError(
            f"the chart's config (with your hub.extraConfig) raised ModuleNotFoundError: {e}: the hub image has it, "
            f"this Python does not; install it beside jhpolicy to dry-run this config (pip install {e.name})"
        ) from None
    except Exception as e:  # the admin's extraConfig, or values the chart's config cannot use
        raise ChartConfigError(f"the chart's config (with your hub.extraConfig) raised {type(e).__name__}: {e}") from None
    finally:
        sys.path[:] = saved_path
        if saved_module is None:
            sys.modules.pop("z2jh", None)
        else:
            sys.modules["z2jh"] = saved_module


def _z2jh_reading(values: dict) -> types.ModuleType:
    """The chart's z2jh.py, reading `values` where the pod reads its mounted Secret."""
    spec = importlib.util.spec_from_loader("z2jh", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(chart_file("files/hub/z2jh.py"), "z2jh:files/hub/z2jh.py", "exec"), module.__dict__)  # noqa: S102
    module._load_config = lambda: values  # noqa: SLF001
    module._get_config_value = lambda key: key  # noqa: SLF001  (the chart's resource names)
    module.get_name_env = lambda name, suffix="": SERVICE_PORTS.get((name + suffix).upper().replace("-", "_"), "80")

    def get_secret_value(key, default="never-explicitly-set"):
        return "dry-run" if default == "never-explicitly-set" else default

    module.get_secret_value = get_secret_value
    return module


@contextlib.contextmanager
def _no_curl():
    """The chart picks tornado's curl client (pycurl is in the hub image); a
    dry run makes no HTTP request, so it keeps the default."""
    from tornado.httpclient import AsyncHTTPClient

    own = AsyncHTTPClient.__dict__.get("configure")  # None: inherited from tornado's Configurable
    AsyncHTTPClient.configure = classmethod(lambda cls, *a, **k: None)
    try:
        yield
    finally:
        if own is None:
            del AsyncHTTPClient.configure
        else:
            AsyncHTTPClient.configure = own
