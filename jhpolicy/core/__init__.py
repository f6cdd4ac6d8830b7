"""The core: the steps of a decision that do no I/O, each unit-tested
without a hub (as KubeSpawner's `make_pod(...)` is): the request
(`request`), the pod it would give (`pod`), the amounts (`quantities`), the
OPA input (`opa_input`), the decision's and the view's contracts
(`decision`, `allowance`), lifetimes (`lifetime`), the spawn page's offers
(`offers`), the panel's words (`panel`) and the user's groups (`users`).
Two read a spawner's configuration (`pod.prospective`,
`opa_input.build_input`); none changes it or talks to the hub, the cluster
or OPA. It imports nothing else of jhpolicy's, nor JupyterHub, KubeSpawner,
Kubernetes or HTTP libraries (.importlinter).
"""
