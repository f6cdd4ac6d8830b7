"""The end-to-end hub's profile_list (tests/e2e/jupyterhub_config.py), which
the offline tests of the spawn page (tests/test_offers.py) judge too."""

PYTORCH = "quay.io/jupyter/pytorch-notebook:cuda12"
MATLAB = "registry.example.edu/licensed/matlab:r2026a"  # in no group's allowlist

PROFILE_LIST = [
    {"display_name": "Small", "slug": "small", "default": True, "kubespawner_override": {"cpu_limit": 0.5, "mem_limit": "1G"}},
    {"display_name": "Medium", "slug": "medium", "kubespawner_override": {"cpu_limit": 2, "mem_limit": "4G"}},
    {
        "display_name": "GPU",
        "slug": "gpu",
        "kubespawner_override": {"extra_resource_limits": {"nvidia.com/gpu": "1"}},
        "profile_options": {
            "image": {
                "display_name": "Image",
                "choices": {
                    "pytorch": {"display_name": "PyTorch", "kubespawner_override": {"image": PYTORCH}},
                    # The spawn page takes it out, saying why.
                    "matlab": {"display_name": "MATLAB", "kubespawner_override": {"image": MATLAB}},
                },
            }
        },
    },
]
