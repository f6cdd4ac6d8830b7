# The hub configuration cases.yaml runs with (`jhpolicy test cases.yaml`):
# what a jupyterhub_config.py (or z2jh's hub.config / extraConfig) sets for
# the spawner. Replace it with your hub's; keep it to spawner settings.
c = get_config()  # noqa: F821

c.KubeSpawner.image = "quay.io/jupyterhub/singleuser:5.3"
c.KubeSpawner.cpu_limit = 1
c.KubeSpawner.mem_limit = "1G"
c.KubeSpawner.profile_list = [
    {"display_name": "Small", "slug": "small", "default": True,
     "kubespawner_override": {"cpu_limit": 0.5, "mem_limit": "1G"}},
    {"display_name": "Medium", "slug": "medium", "kubespawner_override": {"cpu_limit": 2, "mem_limit": "4G"}},
    {
        "display_name": "GPU",
        "slug": "gpu",
        "kubespawner_override": {"extra_resource_limits": {"nvidia.com/gpu": "1"}},
        "profile_options": {
            "image": {
                "display_name": "Image",
                "choices": {
                    "pytorch": {"display_name": "PyTorch",
                                "kubespawner_override": {"image": "quay.io/jupyter/pytorch-notebook:cuda12-2024-10-07"}},
                },
            }
        },
    },
]
