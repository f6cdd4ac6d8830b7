package jupyterhub.spawn_test

import data.jupyterhub.spawn
import data.jupyterhub.spawn.quotas

# gpu: 4 GPUs for the whole group, 2 servers and 8 CPU (limits) per member;
# students: 6 CPU (limits) for the group; each user 3 servers; the hub 16 CPU
# guaranteed and 64G memory (limits).
quota_cfg := object.union(cfg, {"quotas": {
	"charge_order": ["gpu"],
	"users": {"servers": 3},
	"hub": {"cpu_guarantee": 16, "mem_limit": "64G"},
	"groups": {
		"gpu": {
			"group": {"extra_resources": {"nvidia.com/gpu": 4}},
			"member": {"servers": 2, "cpu_limit": 8},
		},
		"students": {"group": {"cpu_limit": 6}},
	},
}})

no_usage := {"servers": 0, "cpu_limit": 0, "cpu_guarantee": 0, "mem_limit": 0, "mem_guarantee": 0, "extra_resources": {}}

# input.usage as the ledger sends it, with some totals changed.
usage_doc(user, by_group, groups, hub) := {
	"user": object.union(no_usage, user),
	"user_by_group": {g: object.union(no_usage, u) | some g, u in by_group},
	"groups": {g: object.union(no_usage, u) | some g, u in groups},
	"hub": object.union(no_usage, hub),
}

with_usage(request, usage) := object.union(request, {"usage": usage})

decide_quota(request) := d if {
	d := spawn.decision with input as request with data.jhpolicy as quota_cfg
}

one_gpu := {"extra_resource_limits": {"nvidia.com/gpu": 1}}

test_a_server_that_fits_is_charged_to_the_group_with_the_quota if {
	d := decide_quota(with_usage(req(["gpu", "students"], one_gpu), usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 3}}}, {})))
	d.allow == true
	d.charge == "gpu"
	d.quota == {"extra_resources": {"nvidia.com/gpu": 4}}
}

test_a_full_group_refuses_with_what_is_in_use_and_what_frees_it if {
	full := usage_doc({}, {}, {"gpu": {"servers": 4, "extra_resources": {"nvidia.com/gpu": 4}}}, {})
	d := decide_quota(with_usage(req(["gpu"], one_gpu), full))
	d.allow == false
	d.messages == ["quota reached: gpu holds 4 of 4 nvidia.com/gpu; try again when one of the group's servers stops"]
}

test_a_full_group_is_passed_over_for_another_with_room if {
	two_pools := object.union(quota_cfg, {"quotas": {"groups": {"gpu-b": {"group": {"extra_resources": {"nvidia.com/gpu": 2}}}}, "charge_order": ["gpu", "gpu-b"]}})
	cfg_two := object.union(two_pools, {"groups": {"gpu-b": cfg.groups.gpu}})
	full := usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 4}}, "gpu-b": {}}, {})
	d := spawn.decision with input as with_usage(req(["gpu", "gpu-b"], one_gpu), full) with data.jhpolicy as cfg_two
	d.allow == true
	d.charge == "gpu-b"
}

test_charge_order_decides_between_groups_with_room if {
	reversed := object.union(quota_cfg, {"quotas": {"charge_order": ["students", "gpu"]}})
	d := spawn.decision with input as req(["gpu", "students"], {}) with data.jhpolicy as reversed
	d.charge == "students"
	d2 := decide_quota(req(["gpu", "students"], {}))
	d2.charge == "gpu"
}

# A group first in charge_order that grants no GPU is passed over for one
# that does: the server is charged, and its GPUs bounded, where they are granted.
test_a_group_that_grants_no_gpu_is_not_charged_for_one if {
	reversed := object.union(quota_cfg, {"quotas": {"charge_order": ["students", "gpu"]}})
	d := spawn.decision with input as req(["gpu", "students"], {"extra_resource_limits": {"nvidia.com/gpu": 4}}) with data.jhpolicy as reversed
	d.charge == "gpu"
	d.overrides.extra_resource_limits == {"nvidia.com/gpu": 2}
}

test_groups_outside_charge_order_go_by_name if {
	d := spawn.decision with input as req(["students", "gpu"], {}) with data.jhpolicy as json.patch(quota_cfg, [{"op": "remove", "path": "/quotas/charge_order"}])
	d.charge == "gpu"
}

test_a_charge_order_that_is_not_a_list_refuses_as_misconfigured if {
	d := spawn.decision with input as req(["students", "gpu"], {}) with data.jhpolicy as object.union(quota_cfg, {"quotas": {"charge_order": "gpu"}})
	d.messages == ["the hub's spawn policy is misconfigured, ask your hub admin: quotas.charge_order is not a list of group names"]
}

test_a_configured_group_without_quota_is_charged if {
	d := decide_quota(req(["students", "unknown"], {}))
	d.charge == "students"
	d2 := spawn.decision with input as req(["gpu"], {}) with data.jhpolicy as cfg
	d2.charge == "gpu"
	d2.quota == {}
}

test_a_user_in_no_configured_group_is_charged_to_the_default_pool if {
	d := decide_quota(req(["unknown"], {}))
	d.allow == true
	d.charge == "default"
	pool := object.union(quota_cfg, {"quotas": {"groups": {"default": {"group": {"servers": 2}}}}})
	d2 := spawn.decision with input as with_usage(req([], {}), usage_doc({}, {}, {"default": {"servers": 2}}, {})) with data.jhpolicy as pool
	d2.messages == ["quota reached: default holds 2 of 2 servers; try again when one of the group's servers stops"]
}

# The default pool's quota alone, with no user's or hub's quota: it is the
# one quota that applies to a user in no configured group, and it refuses
# and lowers as any other does.
test_the_default_pools_quota_holds_with_no_other_quota if {
	pool := object.union(cfg, {"quotas": {"groups": {"default": {"group": {"servers": 2, "cpu_limit": 3}}}}})
	full := with_usage(req([], {}), usage_doc({}, {}, {"default": {"servers": 2}}, {}))
	d := spawn.decision with input as full with data.jhpolicy as pool
	d.messages == ["quota reached: default holds 2 of 2 servers; try again when one of the group's servers stops"]
	half := with_usage(req([], {"cpu_limit": 1}), usage_doc({}, {}, {"default": {"servers": 1, "cpu_limit": 2.5}}, {}))
	d2 := spawn.decision with input as half with data.jhpolicy as pool
	d2.overrides.cpu_limit == 0.5
	d2.charge == "default"
	d2.quota == {"servers": 2, "cpu_limit": 3}
}

# 16 CPUs an admin asks for a member of gpu: still held by gpu's member
# quota (8), however generous the admin's allowance.
test_a_requesters_allowance_does_not_escape_the_group_quota if {
	request := object.union(req(["gpu"], {"cpu_limit": 16}), {"requester": {"kind": "user", "name": "root", "admin": true}})
	d := decide_quota(request)
	d.charge == "gpu"
	d.overrides.cpu_limit == 8
}

# A GPU only a requester's allowance grants (an admin, for a student): no
# group of the user's grants it, so none is charged; the user's and the
# hub's quotas still hold.
test_a_server_only_a_requester_grants_is_charged_to_none if {
	request := object.union(req(["students"], one_gpu), {"requester": {"kind": "user", "name": "root", "admin": true}})
	admins := object.union(quota_cfg, {"requesters": {"admins": {"extra_resources": {"nvidia.com/gpu": 4}}}})
	d := spawn.decision with input as request with data.jhpolicy as admins
	d.allow == true
	d.charge == null
	d2 := spawn.decision with input as with_usage(request, usage_doc({"servers": 3}, {}, {}, {})) with data.jhpolicy as admins
	d2.allow == false
}

test_each_user_server_count if {
	d := decide_quota(with_usage(req([], {}), usage_doc({"servers": 3}, {}, {}, {})))
	d.messages == ["quota reached: you hold 3 of the 3 servers each user may hold; stop one of your servers to free some"]
	d2 := decide_quota(with_usage(req([], {}), usage_doc({"servers": 2}, {}, {}, {})))
	d2.allow == true
}

test_member_quota_counts_only_servers_charged_to_the_group if {
	mine := usage_doc({"servers": 2}, {"gpu": {"servers": 2}}, {"gpu": {"servers": 2}}, {})
	d := decide_quota(with_usage(req(["gpu"], {}), mine))
	d.messages == ["quota reached: you hold 2 of the 2 servers each member of gpu may hold; stop one of your servers to free some"]
	elsewhere := usage_doc({"servers": 2}, {"gpu": {}}, {"gpu": {}}, {})
	decide_quota(with_usage(req(["gpu"], {}), elsewhere)).allow == true
}

test_cpu_limit_lowered_to_what_the_member_quota_leaves if {
	mine := usage_doc({}, {"gpu": {"cpu_limit": 5}}, {"gpu": {}}, {})
	d := decide_quota(with_usage(req(["gpu"], {"cpu_limit": 8}), mine))
	d.allow == true
	d.overrides.cpu_limit == 3
	"cpu_limit 8 lowered to 3: what the quota leaves (you hold 5 of the 8 CPU (limits) each member of gpu may hold)" in d.messages
}

test_an_unlimited_limit_becomes_what_is_left if {
	d := decide_quota(with_usage(from_layer(["students"], {"cpu_limit": null}, "config"), usage_doc({}, {}, {"students": {"cpu_limit": 5.5}}, {})))
	d.overrides.cpu_limit == 0.5
	d.charge == "students"
}

test_no_cpu_left_refuses if {
	d := decide_quota(with_usage(req(["students"], {}), usage_doc({}, {}, {"students": {"cpu_limit": 6}}, {})))
	d.messages == ["quota reached: students holds 6 of 6 CPU (limits); try again when one of the group's servers stops"]
}

test_hub_guarantees_lower_a_guarantee if {
	d := decide_quota(with_usage(req(["students"], {"cpu_guarantee": 1}), usage_doc({}, {}, {}, {"cpu_guarantee": 15.5})))
	d.overrides.cpu_guarantee == 0.5
	"cpu_guarantee 1 lowered to 0.5: what the quota leaves (the hub holds 15.5 of 16 CPU (guarantees))" in d.messages
}

test_hub_memory_in_data_units if {
	d := decide_quota(with_usage(req(["students"], {}), usage_doc({}, {}, {}, {"mem_limit": 64 * gib})))
	d.messages == ["quota reached: the hub holds 64G of 64G memory (limits); try again when servers stop"]
}

test_gpus_lowered_to_what_the_group_has_left if {
	d := decide_quota(with_usage(req(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": 2}}), usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 3}}}, {})))
	d.allow == true
	d.overrides.extra_resource_limits == {"nvidia.com/gpu": 1}
	"extra_resource_limits nvidia.com/gpu 2 lowered to 1: what the quota leaves (gpu holds 3 of 4 nvidia.com/gpu)" in d.messages
}

# Whole units of an extended resource: 2.5 left of a GPU quota is 2.
test_what_a_quota_leaves_of_a_resource_is_whole_units if {
	d := decide_quota(with_usage(req(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": 2}}), usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 2.5}}}, {})))
	d.overrides.extra_resource_limits == {"nvidia.com/gpu": 1}
	"extra_resource_limits nvidia.com/gpu 2 lowered to 1: what the quota leaves (gpu holds 2.5 of 4 nvidia.com/gpu)" in d.messages
}

test_a_server_without_gpus_is_not_held_by_the_gpu_quota if {
	d := decide_quota(with_usage(req(["gpu"], {}), usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 4}}}, {})))
	d.allow == true
}

test_group_properties_override_the_data_quota if {
	props := {"gpu": {"properties": {"jhpolicy_quota": {"group": {"extra_resources": {"nvidia.com/gpu": 6}}}}}}
	request := object.union(with_usage(req(["gpu"], one_gpu), usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 4}}}, {})), {"groups": props})
	d := decide_quota(request)
	d.allow == true
	d.quota == {"extra_resources": {"nvidia.com/gpu": 6}}
	no_quota := object.union(request, {"groups": {"gpu": {"properties": {"jhpolicy_quota": "not an object"}}}})
	decide_quota(no_quota).allow == false
}

test_properties_give_a_group_without_data_a_quota if {
	props := {"students": {"properties": {"jhpolicy_quota": {"member": {"servers": 1}}}}}
	request := object.union(with_usage(req(["students"], {}), usage_doc({"servers": 1}, {"students": {"servers": 1}}, {}, {})), {"groups": props})
	d := spawn.decision with input as request with data.jhpolicy as cfg
	d.messages == ["quota reached: you hold 1 of the 1 servers each member of students may hold; stop one of your servers to free some"]
}

test_no_usage_in_the_input_counts_as_nothing_in_use if {
	d := decide_quota(object.union(req(["gpu"], one_gpu), {"usage": "broken"}))
	d.allow == true
	d2 := decide_quota(with_usage(req(["gpu"], one_gpu), {"groups": {"gpu": {"extra_resources": {"nvidia.com/gpu": "4"}}}}))
	d2.allow == true
}

test_a_malformed_quota_section_refuses_as_misconfigured if {
	d := spawn.decision with input as req([], {}) with data.jhpolicy as object.union(cfg, {"quotas": ["servers"]})
	d.messages == ["the hub's spawn policy is misconfigured, ask your hub admin: data.jhpolicy.quotas is not an object"]
}

test_totals_missing_from_the_usage_count_as_nothing if {
	props := {"students": {"properties": {"jhpolicy_quota": {"member": {"servers": 1}}}}}
	request := object.union(with_usage(req(["students"], {}), {"user_by_group": {"students": {}}}), {"groups": props})
	decide_quota(request).allow == true
}

test_a_total_that_is_not_a_number_counts_as_nothing if {
	mine := {"user_by_group": {"gpu": {"cpu_limit": "lots"}}}
	props := {"gpu": {"properties": {"jhpolicy_quota": {"member": {"cpu_limit": 1}}}}}
	d := decide_quota(object.union(with_usage(req(["gpu"], {"cpu_limit": 8}), mine), {"groups": props}))
	d.overrides.cpu_limit == 1
}

# The tightest of several quotas binds, and is the one named.
two_scopes := object.union(quota_cfg, {"quotas": {"users": {"cpu_limit": 5, "extra_resources": {"nvidia.com/gpu": 1}}}})

test_the_tightest_cpu_quota_binds_and_is_named if {
	mine := usage_doc({"cpu_limit": 1}, {"gpu": {"cpu_limit": 1}}, {}, {})
	d := spawn.decision with input as with_usage(req(["gpu"], {"cpu_limit": 8}), mine) with data.jhpolicy as two_scopes
	d.overrides.cpu_limit == 4
	"cpu_limit 8 lowered to 4: what the quota leaves (you hold 1 of the 5 CPU (limits) each user may hold)" in d.messages
}

test_the_tightest_gpu_quota_binds_and_is_named if {
	in_use := usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 1}}}, {})
	d := spawn.decision with input as with_usage(req(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": 2}}), in_use) with data.jhpolicy as two_scopes
	d.overrides.extra_resource_limits == {"nvidia.com/gpu": 1}
	"extra_resource_limits nvidia.com/gpu 2 lowered to 1: what the quota leaves (you hold 0 of the 1 nvidia.com/gpu each user may hold)" in d.messages
}

# A CPU amount left below 1m (Kubernetes' smallest) or a memory amount below
# one byte refuses; exactly the smallest is still granted.
test_the_smallest_amount_left_is_granted_and_less_refuses if {
	hub_quota := object.union(cfg, {"quotas": {"hub": {"cpu_limit": 16, "cpu_guarantee": 16, "mem_limit": 64, "mem_guarantee": 64}}})
	every key, smallest in {"cpu_limit": 0.001, "cpu_guarantee": 0.001, "mem_limit": 1, "mem_guarantee": 1} {
		quota := hub_quota.quotas.hub[key]
		at_smallest := with_usage(req(["students"], {}), usage_doc({}, {}, {}, {key: quota - smallest}))
		granted := spawn.decision with input as at_smallest with data.jhpolicy as hub_quota
		granted.allow == true
		below := with_usage(req(["students"], {}), usage_doc({}, {}, {}, {key: quota - (smallest / 2)}))
		refused := spawn.decision with input as below with data.jhpolicy as hub_quota
		refused.allow == false
	}
}

test_the_binding_quota_is_named_not_the_first_in_order if {
	roomy_user := object.union(quota_cfg, {"quotas": {"users": {"cpu_limit": 12}}})
	mine := usage_doc({"cpu_limit": 5}, {"gpu": {"cpu_limit": 5}}, {}, {})
	d := spawn.decision with input as with_usage(req(["gpu"], {"cpu_limit": 8}), mine) with data.jhpolicy as roomy_user
	"cpu_limit 8 lowered to 3: what the quota leaves (you hold 5 of the 8 CPU (limits) each member of gpu may hold)" in d.messages
}

test_when_no_group_fits_the_first_in_charge_order_says_why if {
	full := usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 4}}, "students": {"cpu_limit": 6}}, {})
	d := decide_quota(with_usage(req(["gpu", "students"], one_gpu), full))
	d.messages == [group_full_message]
}

group_full_message := "quota reached: gpu holds 4 of 4 nvidia.com/gpu; try again when one of the group's servers stops"

test_a_malformed_group_quota_in_data_refuses_its_members_only if {
	malformed := object.union(cfg, {"quotas": {"groups": {"students": "lots"}}})
	d := spawn.decision with input as req(["gpu", "students"], {}) with data.jhpolicy as malformed
	d.messages == [`the hub's spawn policy is misconfigured, ask your hub admin: quotas.groups.students is not an object like {"member": {"servers": 1}, "group": {"cpu_limit": 8}}`]
	d2 := spawn.decision with input as req(["gpu"], {}) with data.jhpolicy as malformed
	d2.allow == true
}

# --- no spill-over: a server is charged only where it is granted ---

# The escape found on e4bb184: gpu full, a member who is also a student was
# given a fifth GPU charged to students, a group that grants no GPU at all.
test_a_full_group_does_not_spill_over_into_a_group_that_does_not_grant_it if {
	full := usage_doc({}, {}, {"gpu": {"servers": 4, "extra_resources": {"nvidia.com/gpu": 4}}}, {"servers": 4, "extra_resources": {"nvidia.com/gpu": 4}})
	d := decide_quota(with_usage(req(["gpu", "students"], one_gpu), full))
	d.allow == false
	d.messages == ["quota reached: gpu holds 4 of 4 nvidia.com/gpu; try again when one of the group's servers stops"]
}

# 4 CPUs with gpu's member quota full: students has room but grants 2, so
# the server gets 2, charged to students; never 4 held under students.
test_cpu_beyond_a_groups_maximum_is_never_charged_to_it if {
	member_full := usage_doc({}, {"gpu": {"cpu_limit": 8}}, {}, {})
	d := decide_quota(with_usage(req(["gpu", "students"], {"cpu_limit": 4}), member_full))
	d.charge == "students"
	d.overrides.cpu_limit == 2
	d.messages == ["cpu_limit 4 lowered to 2: the most for group students"]
	d2 := decide_quota(with_usage(req(["gpu", "students"], {"cpu_limit": 4}), usage_doc({}, {}, {}, {})))
	d2.charge == "gpu"
	d2.overrides == {}
}

# Where both groups grant it, the user may hold it through either.
test_a_server_both_groups_grant_goes_to_the_one_with_room if {
	both := object.union(quota_cfg, {"groups": {"students": {"extra_resources": {"nvidia.com/gpu": 1}}}})
	full := usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 4}}}, {})
	d := spawn.decision with input as with_usage(req(["gpu", "students"], one_gpu), full) with data.jhpolicy as both
	d.allow == true
	d.charge == "students"
}

# A value a quota lowers is charged where it was granted before lowering.
test_a_value_lowered_by_a_quota_stays_charged_to_the_group_that_granted_it if {
	mine := usage_doc({}, {"gpu": {"cpu_limit": 6}}, {}, {})
	d := decide_quota(with_usage(req(["gpu", "students"], {"cpu_limit": 8}), mine))
	d.allow == true
	d.charge == "gpu"
	d.overrides.cpu_limit == 2
}

# A group with a quota but no data entry grants what the default entry grants.
test_a_quota_group_without_an_entry_grants_what_the_default_grants if {
	physics := {"physics": {"properties": {"jhpolicy_quota": {"member": {"servers": 1}}}}}
	request := object.union(with_usage(req(["physics"], {}), usage_doc({}, {"physics": {"servers": 1}}, {}, {})), {"groups": physics})
	d := decide_quota(request)
	d.messages == ["quota reached: you hold 1 of the 1 servers each member of physics may hold; stop one of your servers to free some"]
}

# No mix of groups' maxima held under none of them: a GPU (gpu grants it, up
# to 8 CPUs) for a member of gpu and of admins-like "big" (16 CPUs, no GPU)
# gets the admin's unlimited CPU lowered to gpu's 8, and is charged to gpu.
test_values_nobody_chose_are_bounded_by_the_charged_group if {
	big := object.union(quota_cfg, {"groups": {"big": {"images": ["**"], "max": {"cpu_limit": 16}}}})
	request := from_layer(["big", "gpu"], {"cpu_limit": null, "extra_resource_limits": {"nvidia.com/gpu": 1}}, "config")
	asked := object.union(request, {"sources": {"extra_resource_limits": {"nvidia.com/gpu": "request"}}})
	d := spawn.decision with input as asked with data.jhpolicy as big
	d.allow == true
	d.charge == "gpu"
	d.overrides.cpu_limit == 8
	"cpu_limit unlimited (the hub's default) lowered to 8: the most for group gpu" in d.messages
	cpu_only := spawn.decision with input as from_layer(["big", "gpu"], {"cpu_limit": null}, "config") with data.jhpolicy as big
	cpu_only.overrides.cpu_limit == 8
	cpu_only.charge == "gpu"
}

# Two GPU groups: "one" (a quota, 1 GPU each) and "two" (no quota, 2 GPUs).
gpu_pair := object.union(quota_cfg, {
	"groups": {
		"one": {"images": ["**"], "max": {"cpu_limit": 2, "cpu_guarantee": 1}, "extra_resources": {"nvidia.com/gpu": 1}},
		"two": {"images": ["**"], "max": {"cpu_limit": 4, "cpu_guarantee": 2}, "extra_resources": {"nvidia.com/gpu": 2}},
	},
	"quotas": {"charge_order": [], "groups": {"one": {"group": {"servers": 1, "extra_resources": {"nvidia.com/gpu": 4}}}}},
})

decide_pair(request) := d if {
	d := spawn.decision with input as request with data.jhpolicy as gpu_pair
}

# Asked as granted: the quota group first when it grants it in full...
test_a_group_that_grants_exactly_what_is_asked_is_charged_first if {
	d := decide_pair(req(["one", "two"], one_gpu))
	d.charge == "one"
	d.overrides == {}
	d2 := decide_pair(req(["one", "two"], {"cpu_limit": 1, "cpu_guarantee": 2}))
	d2.charge == "one" # the guarantee is judged within its limit (1), which one grants
}

# ... else the group that does, whatever the order.
test_a_group_that_grants_it_in_full_comes_before_one_that_grants_less if {
	d := decide_pair(req(["one", "two"], {"extra_resource_limits": {"nvidia.com/gpu": 2}}))
	d.charge == "two"
	d.overrides == {}
	d2 := decide_pair(req(["one", "two"], {"cpu_limit": 4}))
	d2.charge == "two"
	d2.overrides == {}
}

# The only group with room grants less: lowered to what it grants.
test_a_group_that_grants_less_lowers_what_it_holds_to_its_allowance if {
	full := usage_doc({}, {}, {"two": {"servers": 9}}, {})
	two_full := object.union(gpu_pair, {"quotas": {"groups": {"two": {"group": {"servers": 9}}}}})
	request := with_usage(req(["one", "two"], {"extra_resource_limits": {"nvidia.com/gpu": 2}}), full)
	d := spawn.decision with input as request with data.jhpolicy as two_full
	d.charge == "one"
	d.overrides.extra_resource_limits == {"nvidia.com/gpu": 1}
	"extra_resource_limits nvidia.com/gpu 2 lowered to 1: the most for group one" in d.messages
}

# Only the charged group is named as the one whose maximum applies.
test_a_lowered_value_names_only_the_groups_that_bound_the_server if {
	twins := object.union(quota_cfg, {"groups": {"twin": cfg.groups.students}})
	member_full := usage_doc({}, {"gpu": {"cpu_limit": 8}}, {}, {})
	d := spawn.decision with input as with_usage(req(["gpu", "students", "twin"], {"cpu_limit": 4}), member_full) with data.jhpolicy as twins
	d.charge == "students"
	d.messages == ["cpu_limit 4 lowered to 2: the most for group students"]
}

# An unset guarantee is judged as its limit, not left unset.
test_unset_guarantees_follow_the_lowered_limit_without_an_override_of_their_own if {
	d := decide(from_layer(["gpu"], {"cpu_limit": null, "cpu_guarantee": null}, "config"))
	d.overrides == {"cpu_limit": 8}
}

test_a_lowered_gpu_names_only_the_group_that_bounds_the_server if {
	uno := object.union(gpu_pair, {"groups": {"uno": gpu_pair.groups.one}})
	d := spawn.decision with input as req(["one", "uno"], {"extra_resource_limits": {"nvidia.com/gpu": 2}}) with data.jhpolicy as uno
	d.charge == "one"
	d.messages == ["extra_resource_limits nvidia.com/gpu 2 lowered to 1: the most for group one"]
}

# A quota that sets no amount is no scope: the user's {} and the group's
# member quota {} leave the hub's and gpu's group scope.
test_a_quota_setting_no_amount_is_no_scope if {
	config := object.union(cfg, {"quotas": {
		"users": {}, "hub": {"servers": 9},
		"groups": {"gpu": {"member": {}, "group": {"servers": 4}}},
	}})
	kinds := {[scope.kind, scope.group] | some scope in quotas.scopes("gpu")} with input as req(["gpu"], {}) with data.jhpolicy as config
	kinds == {["hub", ""], ["group", "gpu"]}
}
