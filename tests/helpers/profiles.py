"""profile_lists of the offline spawner tests, which the fuzz tests reuse (the end-to-end hub's is tests/e2e/profiles.py)."""

from __future__ import annotations

SAMPLE = "quay.io/jupyterhub/k8s-singleuser-sample:4.4.0"

POD_TEST_PROFILES = [
    {
        "display_name": "Small",
        "slug": "small",
        "default": True,
        "kubespawner_override": {"cpu_limit": 0.5},
        "profile_options": {
            "image": {
                "display_name": "Image",
                "choices": {"sample": {"display_name": "Sample", "kubespawner_override": {"image": SAMPLE}}},
                # The usual z2jh "Other..." field, with no validation_regex.
                "unlisted_choice": {"enabled": True, "kubespawner_override": {"image": "{value}"}},
            }
        },
    },
    {"display_name": "Huge", "slug": "huge", "kubespawner_override": {"cpu_limit": 16, "mem_limit": "64G"}},
    {"display_name": "Half a GPU", "slug": "half-gpu", "kubespawner_override": {"extra_resource_limits": {"nvidia.com/gpu": "0.5"}}},
]


SPAWNER_TEST_PROFILES = [
    {"display_name": "Small", "slug": "small", "default": True, "kubespawner_override": {"cpu_limit": 0.5}},
    {
        "display_name": "Medium",
        "slug": "medium",
        "kubespawner_override": {"cpu_limit": 1.5, "mem_limit": "3G", "environment": {"PROFILE": "medium"}},
        "profile_options": {
            "image": {
                "display_name": "Image",
                "choices": {
                    "scipy": {"display_name": "SciPy", "kubespawner_override": {"image": "quay.io/jupyter/scipy-notebook:2025"}},
                    "r": {"display_name": "R", "kubespawner_override": {"image": "quay.io/jupyter/r-notebook:2025"}},
                },
            }
        },
    },
]
