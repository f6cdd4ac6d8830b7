# METADATA
# description: |
#   Benchmark 12's ablation: quotas.rego as if charging and quotas cost
#   nothing for benchmark 11's student input, each rule the decision reads
#   answering as the shipped one does there (charged to students, no quota
#   sets anything). bench/policy_floor.py checks that the decision is the
#   same, whole.
package jupyterhub.spawn.quotas

import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.given

charge := "students"

charged_quota := {}

denials := set()

bounding := object.keys(allowances.entries)

group_allowance(group) := given.config.groups[group]

# No quota applies: these are undefined for every amount, as the shipped
# rules are without a quota.
_none := {}

quota_left(path) := _none[path]

left(scope, path) := _none[[scope, path]]

whole(path, n) := _none[[path, n]]

holds_text(scope, path) := _none[[scope, path]]

scopes(group) := _none[group]
