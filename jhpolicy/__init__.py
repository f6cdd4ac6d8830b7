"""jhpolicy: OPA-decided image, CPU and memory overrides for JupyterHub's KubeSpawner."""

__version__ = "0.1.0"

__all__ = ["PolicyKubeSpawner", "__version__"]


def __getattr__(name):
    # Lazy, so `jhpolicy.core.request` and the CLI's argument parsing do not pay
    # for importing KubeSpawner and the Kubernetes client.
    if name == "PolicyKubeSpawner":
        from .spawner import PolicyKubeSpawner

        return PolicyKubeSpawner
    raise AttributeError(name)
