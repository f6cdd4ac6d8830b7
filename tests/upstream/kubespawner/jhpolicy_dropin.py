"""Runs KubeSpawner's own test suite with PolicyKubeSpawner in KubeSpawner's place.

Loaded with ``pytest -p jhpolicy_dropin`` before the suite's conftest.py, it
replaces ``kubespawner.KubeSpawner`` (what the suite imports) with a
PolicyKubeSpawner whose OPA answers every decision with "allowed as asked"
(``jhpolicy_contract.allow_as_is`` in tests/policies/contract.rego) and
shows every profile the admin configured (``profiles_all``), judging each
as allowed on the spawn page (``view_allowing_all``). The suite's
``c.KubeSpawner.*`` config still applies: PolicyKubeSpawner is a KubeSpawner
subclass. tests/test_kubespawner_suite.py starts that OPA, passes its address
in JHPOLICY_DROPIN_OPA_URL, and reads how many spawns the policy decided from
the file named in JHPOLICY_DROPIN_REPORT, so a run that never reached
PolicyKubeSpawner cannot pass for a drop-in.
"""

import json
import os

import kubespawner
from traitlets import default

from jhpolicy.spawner import PolicyKubeSpawner

DECIDED = []


class DropInPolicyKubeSpawner(PolicyKubeSpawner):
    @default("opa_url")
    def _default_opa_url(self):
        return os.environ["JHPOLICY_DROPIN_OPA_URL"]

    @default("opa_decision_path")
    def _default_opa_decision_path(self):
        return "jhpolicy_contract/allow_as_is"

    @default("opa_profiles_path")
    def _default_opa_profiles_path(self):
        return "jhpolicy_contract/profiles_all"

    @default("opa_allowance_path")
    def _default_opa_allowance_path(self):
        return "jhpolicy_contract/view_allowing_all"

    async def load_user_options(self):
        await super().load_user_options()
        DECIDED.append(self.user.name)


kubespawner.KubeSpawner = DropInPolicyKubeSpawner


def pytest_sessionfinish(session):
    with open(os.environ["JHPOLICY_DROPIN_REPORT"], "w") as f:
        json.dump({"spawner": DropInPolicyKubeSpawner.__mro__[1].__name__, "decided": len(DECIDED)}, f)
