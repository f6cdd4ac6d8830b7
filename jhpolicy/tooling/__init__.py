"""What only the `jhpolicy` command (jhpolicy.cli) runs, never the hub: dry
runs of a real PolicyKubeSpawner outside a hub (`dry_run`, `offline`), the
admin's suites (`cases`), lint (`lint`), a local OPA (`local_opa`,
`opa_binary`), the policy folder of one's own (`starter`), deployment files
(`values`, `configmap`, `bundle`, `chart_config`, `own_wheel`), decision
logs (`explain`) and the files that ship with the package (`shipped`)."""
