# Decisions that break the contract on purpose, for the fail-closed tests.
# Point PolicyKubeSpawner.opa_decision_path at one rule of this package.
package jhpolicy_contract

grants_privileged := {"allow": true, "overrides": {"privileged": true}, "messages": []}

wrong_shape := {"allow": "yes", "overrides": {}, "messages": []}

overrides_not_an_object := {"allow": true, "overrides": ["image"], "messages": []}

bad_value := {"allow": true, "overrides": {"cpu_limit": "lots"}, "messages": []}

huge_integer := {"allow": true, "overrides": {"mem_limit": 9999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999}, "messages": []}

huge_float := {"allow": true, "overrides": {"cpu_limit": 1e400}, "messages": []}

fractional_gpu := {"allow": true, "overrides": {"extra_resource_limits": {"nvidia.com/gpu": 0.5}}, "messages": []}

# Allows the pod exactly as input.pod describes it, whatever it is.
allow_as_is := {"allow": true, "overrides": {}, "messages": []}

# Denies with the input it was sent, so tests can read the input document.
echo_input := {"allow": false, "overrides": {}, "messages": [json.marshal(object.remove(input, ["usage", "groups"]))]}

# One message each, so that none reaches the contract's 1,000 characters.
echo_quota_input := {"allow": false, "overrides": {}, "messages": array.concat([json.marshal(input.groups)], [json.marshal(input.usage[scope]) | some scope in ["user", "user_by_group", "groups", "hub"]])}

# Profile lists for the spawn page's form (opa_profiles_path).
profiles_not_a_list := "small"

profiles_none := []

# Every profile the admin configured, as KubeSpawner alone would show them.
profiles_all := input.profiles

# A value the spawner's trait refuses, for a key in a widened ceiling.
node_selector_not_a_map := {"allow": true, "overrides": {"node_selector": "gpu"}, "messages": []}

# Guarantees above their limits: a pod the API server would refuse.
guarantees_above_limits := {
	"allow": true,
	"overrides": {"cpu_limit": 1, "cpu_guarantee": 2, "mem_limit": "1G", "mem_guarantee": "2G"},
	"messages": [],
}

# The spawn page's profiles, only when the form's input carries the admin's pod.
profiles_when_the_pod_is_known := input.profiles if is_number(input.pod.cpu_limit)

# Lowers the CPU limit to 1 whatever was asked: "clamped", like the shipped
# policy for an 8-CPU request, but to another value.
clamp_cpu_to_one := {"allow": true, "overrides": {"cpu_limit": 1, "cpu_guarantee": 1}, "messages": []}

# Quotas: a charge to a group the user is not in, a quota that is not amounts.
charge_outside_the_users_groups := {"allow": true, "overrides": {}, "messages": [], "charge": "admins"}

quota_not_amounts := {"allow": true, "overrides": {}, "messages": [], "charge": null, "quota": {"servers": "many"}}

# The obvious hand-written clamp: lowers cpu_limit (and GPUs) only, never
# mentioning the guarantees that follow them.
clamp_limits_only := {"allow": true, "overrides": overrides, "messages": []} if {
	overrides := object.union(
		{"cpu_limit": 1 | input.pod.cpu_limit > 1},
		{"extra_resource_limits": {"nvidia.com/gpu": 1} | input.pod.extra_resource_limits["nvidia.com/gpu"] > 1},
	)
}

# Allowance views the spawner must not show (jhpolicy/core/allowance.py).
view_base := {
	"available": true, "sources": [], "images": [], "images_total": 0, "repositories": [],
	"repositories_total": 0, "max": {}, "extra_resources": {}, "profiles": [], "quotas": [],
}

view_negative_quota := object.union(view_base, {"quotas": [{"scope": "user", "group": "", "resource": "servers", "quota": 1, "in_use": 2, "left": -1}]})

view_unknown_max_key := object.union(view_base, {"max": {"privileged": 1}})

view_too_many_images := object.union(view_base, {"images": [sprintf("img%d", [i]) | some i in numbers.range(1, 101)]})

# The shipped view on data with a typo: "not available", saying why.
view_misconfigured := view if {
	view := data.jupyterhub.spawn.allowance_view with data.jhpolicy.groups.students.max.cpu_limit as "4 cores"
}

# The shipped view with one judgement fewer than the spawn page's candidates.
view_one_judgement_short := object.union(view, {"candidates": array.slice(view.candidates, 1, count(view.candidates))}) if {
	view := data.jupyterhub.spawn.allowance_view
}

# A view that allows every candidate, as allow_as_is decides every spawn.
view_allowing_all := object.union(view_base, {"candidates": [{"allow": true, "message": ""} | some _ in input.candidates]})
