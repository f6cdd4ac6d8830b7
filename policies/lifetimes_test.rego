package jupyterhub.spawn_test

import data.jupyterhub.spawn

# students: idle 2 h, 1 d at most; gpu: idle 6 h, no maximum age; GPU
# servers: idle 1 h, 8 h at most; admins (as requesters): idle 12 h.
life_cfg := object.union(cfg, {
	"groups": {
		"students": {"lifetime": {"idle": "2h", "max_age": "1d"}},
		"gpu": {"lifetime": {"idle": 21600}},
	},
	"requesters": {"admins": {"lifetime": {"idle": "12h"}}},
	"lifetimes": {"extra_resources": {"nvidia.com/gpu": {"idle": "1h", "max_age": "8h"}}},
})

decide_life(request) := d if {
	d := spawn.decision with input as request with data.jhpolicy as life_cfg
}

with_properties(request, group, properties) := object.union(request, {"groups": {group: {"properties": properties}}})

as_admin(request) := object.union(request, {"requester": {"kind": "user", "name": "root", "admin": true}})

gpus(n) := {"extra_resource_limits": {"nvidia.com/gpu": n}}

test_no_lifetime_in_the_data_decides_none if {
	d := decide(req(["students"], {}))
	d.allow
	not "lifetime" in object.keys(d)
}

# Each source alone decides (lifetimes.rego works a lifetime out only where
# some source sets one): one allowance's lifetime, one resource's rule.
test_one_allowances_lifetime_alone_is_the_servers if {
	only_students := object.union(cfg, {"groups": {"students": {"lifetime": {"idle": "2h"}}}})
	d := spawn.decision with input as req(["students"], {}) with data.jhpolicy as only_students
	d.lifetime == {"idle": {"seconds": 7200, "from": "group students"}}
}

test_one_resources_rule_alone_is_the_servers if {
	only_rule := object.union(cfg, {"lifetimes": {"extra_resources": {"nvidia.com/gpu": {"max_age": "8h"}}}})
	d := spawn.decision with input as req(["gpu"], gpus(1)) with data.jhpolicy as only_rule
	d.allow
	d.lifetime == {"max_age": {"seconds": 28800, "from": "servers holding nvidia.com/gpu"}}
}

test_a_groups_lifetime_is_the_servers if {
	d := decide_life(req(["students"], {}))
	d.lifetime == {
		"idle": {"seconds": 7200, "from": "group students"},
		"max_age": {"seconds": 86400, "from": "group students"},
	}
}

test_the_most_generous_of_the_users_entries_for_each_kind if {
	d := decide_life(req(["students", "gpu"], {}))
	d.lifetime == {
		"idle": {"seconds": 21600, "from": "group gpu"},
		"max_age": {"seconds": 86400, "from": "group students"},
	}
}

test_an_admin_requesters_allowance_counts_too if {
	d := decide_life(as_admin(req(["students"], {})))
	d.lifetime.idle == {"seconds": 43200, "from": "admins"}
	d.lifetime.max_age == {"seconds": 86400, "from": "group students"}
}

test_a_gpu_server_gets_the_gpu_rule_where_it_is_shorter if {
	d := decide_life(req(["gpu"], gpus(1)))
	d.allow
	d.lifetime == {
		"idle": {"seconds": 3600, "from": "servers holding nvidia.com/gpu"},
		"max_age": {"seconds": 28800, "from": "servers holding nvidia.com/gpu"},
	}
}

test_the_allowance_wins_where_it_is_shorter_than_the_gpu_rule if {
	short := object.union(life_cfg, {"groups": {"gpu": {"lifetime": {"idle": "30m"}}}})
	d := spawn.decision with input as req(["gpu"], gpus(1)) with data.jhpolicy as short
	d.lifetime.idle == {"seconds": 1800, "from": "group gpu"}
}

test_a_server_asking_no_gpu_or_zero_is_not_held_to_the_gpu_rule if {
	d := decide_life(req(["gpu"], gpus(0)))
	d.lifetime == {"idle": {"seconds": 21600, "from": "group gpu"}}
}

test_a_gpu_lowered_to_the_maximum_is_still_held if {
	d := decide_life(req(["gpu"], gpus(3)))
	d.overrides.extra_resource_limits == {"nvidia.com/gpu": 2}
	d.lifetime.idle.from == "servers holding nvidia.com/gpu"
}

test_a_gpu_lowered_to_zero_is_not_held if {
	none := object.union(life_cfg, {"groups": {"gpu": {"extra_resources": {"nvidia.com/gpu": 0}}}})
	d := spawn.decision with input as req(["gpu"], gpus(1)) with data.jhpolicy as none
	d.overrides.extra_resource_limits == {"nvidia.com/gpu": 0}
	d.lifetime == {"idle": {"seconds": 21600, "from": "group gpu"}}
}

test_a_gpu_guarantee_alone_is_held if {
	d := decide_life(req(["gpu"], {"extra_resource_guarantees": {"nvidia.com/gpu": 1}}))
	d.lifetime.idle.seconds == 3600
}

test_a_group_property_replaces_the_groups_entry if {
	d := decide_life(with_properties(req(["students"], {}), "students", {"jhpolicy_lifetime": {"idle": "30m"}}))
	d.lifetime == {"idle": {"seconds": 1800, "from": "group students"}}
}

test_a_property_on_a_group_without_an_entry_applies if {
	request := with_properties(req(["students", "night-owls"], {}), "night-owls", {"jhpolicy_lifetime": {"max_age": "3d"}})
	d := decide_life(request)
	d.lifetime.max_age == {"seconds": 259200, "from": "group night-owls"}
	d.lifetime.idle.from == "group students"
}

test_other_properties_leave_the_entry if {
	d := decide_life(with_properties(req(["students"], {}), "students", {"jhpolicy_quota": {"member": {"servers": 1}}}))
	d.lifetime.idle.seconds == 7200
}

# --- malformed data refuses, naming the place ---

misconfigured_life(patch, request) := d if {
	d := spawn.decision with input as request with data.jhpolicy as object.union(life_cfg, patch)
	d.allow == false
	d.reason == "misconfigured"
}

test_a_malformed_entry_lifetime_refuses if {
	d := misconfigured_life({"groups": {"students": {"lifetime": {"idle": "2 hours"}}}}, req(["students"], {}))
	d.messages == [misconfigured(`group students: lifetime.idle "2 hours" is not a whole number of seconds above 0 or a string like "90m", "2h" or "1d"`)]
}

test_an_unknown_lifetime_key_refuses if {
	d := misconfigured_life({"groups": {"students": {"lifetime": {"idle": "2h", "maxage": "1d"}}}}, req(["students"], {}))
	d.messages == [misconfigured("group students: lifetime.maxage is not a known key (did you mean max_age? known: idle, max_age)")]

	# An unknown key is named once, whatever its value.
	d2 := misconfigured_life({"groups": {"students": {"lifetime": {"ttl": "soon"}}}}, req(["students"], {}))
	d2.messages == [misconfigured("group students: lifetime.ttl is not a known key (known: idle, max_age)")]
}

test_a_lifetime_that_is_not_an_object_refuses if {
	d := misconfigured_life({"groups": {"students": {"lifetime": "2h"}}}, req(["students"], {}))
	d.messages == [misconfigured(`group students: lifetime is not an object like {"idle": "2h", "max_age": "8h"}`)]
}

test_a_malformed_property_refuses_and_never_falls_back if {
	request := with_properties(req(["students"], {}), "students", {"jhpolicy_lifetime": null})
	d := misconfigured_life({}, request)
	d.messages == [misconfigured(`group students property jhpolicy_lifetime is not an object like {"idle": "2h", "max_age": "8h"}`)]
}

test_a_property_with_a_zero_duration_refuses if {
	request := with_properties(req(["students"], {}), "students", {"jhpolicy_lifetime": {"idle": "2h", "max_age": 0}})
	d := misconfigured_life({}, request)
	d.messages == [misconfigured(`group students property jhpolicy_lifetime.max_age 0 is not a whole number of seconds above 0 or a string like "90m", "2h" or "1d"`)]
}

test_malformed_resource_rules_refuse if {
	d := misconfigured_life({"lifetimes": {"extra_resources": {"nvidia.com/gpu": {"idle": "soon"}}}}, req(["students"], {}))
	d.messages == [misconfigured(`lifetimes.extra_resources.nvidia.com/gpu.idle "soon" is not a whole number of seconds above 0 or a string like "90m", "2h" or "1d"`)]
	d2 := misconfigured_life({"lifetimes": {"extra_resources": ["nvidia.com/gpu"]}}, req(["students"], {}))
	d2.messages == [misconfigured("lifetimes.extra_resources is not an object of resource name to lifetime")]
	d3 := misconfigured_life({"lifetimes": {"gpus": {}}}, req(["students"], {}))
	d3.messages == [misconfigured("lifetimes.gpus is not a known key (known: extra_resources)")]
	d4 := spawn.decision with input as req(["students"], {}) with data.jhpolicy as object.union(cfg, {"lifetimes": "8h"})
	d4.messages == [misconfigured("data.jhpolicy.lifetimes is not an object")]
}

test_lint_finds_lifetime_problems_everywhere if {
	problems := spawn.problems_everywhere with data.jhpolicy as object.union(life_cfg, {
		"groups": {"gpu": {"lifetime": {"idle": 0}}},
		"lifetimes": {"extra_resources": {"nvidia.com/gpu": {"max_age": "1w"}}},
	})
	problems == {
		`group gpu: lifetime.idle 0 is not a whole number of seconds above 0 or a string like "90m", "2h" or "1d"`,
		`lifetimes.extra_resources.nvidia.com/gpu.max_age "1w" is not a whole number of seconds above 0 or a string like "90m", "2h" or "1d"`,
	}
}

# --- the view says what decisions do ---

test_the_view_says_the_lifetimes_of_each_kind_of_server if {
	v := view(["gpu", "students"], life_cfg)
	v.lifetimes == {
		"servers": {
			"idle": {"seconds": 21600, "from": "group gpu"},
			"max_age": {"seconds": 86400, "from": "group students"},
		},
		"extra_resources": {"nvidia.com/gpu": {
			"idle": {"seconds": 3600, "from": "servers holding nvidia.com/gpu"},
			"max_age": {"seconds": 28800, "from": "servers holding nvidia.com/gpu"},
		}},
	}

	# And the decisions of those servers agree.
	cpu := decide_life(req(["gpu", "students"], {}))
	cpu.lifetime == v.lifetimes.servers
	gpu := decide_life(req(["gpu", "students"], gpus(1)))
	gpu.lifetime == v.lifetimes.extra_resources["nvidia.com/gpu"]
}

test_the_view_without_lifetimes_is_empty if {
	v := view(["students"], cfg)
	v.lifetimes == {"servers": {}, "extra_resources": {}}
}
