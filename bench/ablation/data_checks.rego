# METADATA
# description: |
#   Benchmark 12's ablation: data_checks.rego as if checking the admin's
#   data cost nothing for benchmark 11's student input, whose data is well
#   formed (misconfigured_message undefined, as the shipped rule is there).
package jupyterhub.spawn.data_checks

_none := set()

misconfigured_message := message if some message in _none

problems_everywhere := set()
