"""What runs in JupyterHub besides the three things a hub's config names
(`jhpolicy.spawner`, `jhpolicy.api`, `jhpolicy.culler`): the traits
(`settings`), the OPA server they name (`opa_http`), the books of what
servers hold (`ledger`; one server's side of them in `books`; agreeing
with the cluster in `reconcile`), what a spawn sets on the spawner and puts
back (`transaction`), the spawn page and allowance view (`spawn_page`), the
shadow policy (`shadow`), the HTTP errors a refusal raises (`errors`),
metrics (`metrics`), JupyterHub 5's failure count (`failure_count`) and
every private KubeSpawner and JupyterHub member jhpolicy uses (`upstream`).
Built on jhpolicy.core only.
"""
