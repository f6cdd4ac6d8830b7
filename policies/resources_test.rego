# Tests of resources.rego; the helpers (cfg, req, decide, ...) are in spawn_test.rego.
package jupyterhub.spawn_test

import data.jupyterhub.spawn
import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.resources

test_cpu_clamped_with_message if {
	d := decide(req(["students"], {"cpu_limit": 8}))
	d.allow == true
	d.overrides == {"cpu_limit": 2}
	d.messages == ["cpu_limit 8 lowered to 2: the most for group students"]
}

test_unlimited_is_lowered_to_the_maximum if {
	d := decide(from_layer(["students"], {"cpu_limit": null, "mem_limit": null}, "config"))
	d.overrides.cpu_limit == 2
	d.overrides.mem_limit == 4 * gib
	d.messages == [
		"cpu_limit unlimited (the hub's default) lowered to 2: the most for group students",
		"mem_limit unlimited (the hub's default) lowered to 4G: the most for group students",
	]
}

test_profile_above_the_maximum_lowered if {
	d := decide(from_layer([], {"cpu_limit": 16}, "profile"))
	d.overrides == {"cpu_limit": 1}
	d.messages == ["cpu_limit 16 (the profile) lowered to 1: the most for group default"]
}

test_zero_limit_denied if {
	d := decide(req(["students"], {"cpu_limit": 0}))
	"cpu_limit 0 would mean no limit; ask for a positive amount" in d.messages
}

test_memory_clamped_with_message if {
	d := decide(req(["students"], {"mem_limit": 8 * gib}))
	d.overrides.mem_limit == 4 * gib
	"mem_limit 8G lowered to 4G: the most for group students" in d.messages
}

test_memory_data_forms if {
	# "2G" in data means 2 GiB, as in JupyterHub; "1.5G" likewise.
	decide(req([], {"mem_limit": 3 * gib})).overrides.mem_limit == 2 * gib
	decide(req(["gpu"], {"mem_limit": 2 * gib})).overrides.mem_limit == 1610612736
}

test_cpu_millicores_in_data if {
	decide(req([], {"cpu_guarantee": 1})).overrides.cpu_guarantee == 0.5
}

test_within_maximum_unchanged if {
	d := decide(req(["students"], {"cpu_limit": 1.5, "mem_limit": 3 * gib}))
	d.overrides == {}
	d.messages == []
}

test_key_without_maximum_denied_when_the_user_set_it if {
	d := decide(req(["gpu"], {"cpu_guarantee": 1}))
	"cpu_guarantee cannot be set: no maximum is configured for group gpu" in d.messages
	d2 := decide(from_layer(["gpu"], {"cpu_guarantee": 1, "cpu_limit": 2}, "unlisted_choice"))
	"cpu_guarantee cannot be set: no maximum is configured for group gpu" in d2.messages
}

test_key_without_maximum_from_the_admin_is_left_alone if {
	d := decide(from_layer(["gpu"], {"cpu_guarantee": 1, "cpu_limit": 2, "mem_guarantee": gib}, "config"))
	d.allow == true
	d.overrides == {}
}

test_unlimited_without_maximum_stays_unlimited if {
	d := spawn.decision with input as from_layer([], {"cpu_limit": null, "cpu_guarantee": null}, "config") with data.jhpolicy as {"groups": {"default": {"images": ["**"]}}}
	d == {"allow": true, "overrides": {}, "messages": [], "charge": "default", "quota": {}}
}

test_non_number_denied if {
	d := decide(from_layer(["students"], {"cpu_limit": "2"}, "config"))
	"cpu_limit must be a number" in d.messages
}

test_guarantee_lowered_to_its_limit if {
	d := decide(req(["students"], {"mem_limit": gib, "mem_guarantee": 2 * gib}))
	d.overrides == {"mem_guarantee": gib}
	d.messages == ["mem_guarantee 2G lowered to 1G: a guarantee cannot exceed mem_limit"]
}

test_guarantee_lowered_to_the_lowered_limit if {
	d := decide(from_layer(["students"], {"cpu_limit": 8, "cpu_guarantee": 1.5}, "config"))
	d.overrides == {"cpu_limit": 2, "cpu_guarantee": 1}
}

test_admin_guarantee_above_requested_limit if {
	d := decide(pod_input(["students"], {"cpu_limit": 0.25, "cpu_guarantee": 0.5}, {"cpu_limit": "request"}, {"cpu_limit": 0.25}))
	d.overrides == {"cpu_guarantee": 0.25}
	d.messages == ["cpu_guarantee 0.5 (the hub's default) lowered to 0.25: a guarantee cannot exceed cpu_limit"]
}

test_guarantee_clamped_to_its_own_maximum if {
	d := decide(req(["students"], {"cpu_guarantee": 2}))
	d.overrides == {"cpu_guarantee": 1}
	d.messages == ["cpu_guarantee 2 lowered to 1: the most for group students"]
}

test_guarantee_that_follows_its_limit_lowered_quietly if {
	d := decide(pod_input(["students"], {"cpu_limit": 2, "cpu_guarantee": 2}, {"cpu_limit": "request", "cpu_guarantee": "limit"}, {"cpu_limit": 2}))
	d.overrides == {"cpu_guarantee": 1}
	d.messages == []
}

test_unset_guarantee_of_an_unlimited_limit if {
	# Kubernetes would make it the (lowered) limit: 2 > the maximum guarantee 1.
	d := decide(from_layer(["students"], {"cpu_limit": null, "cpu_guarantee": null}, "config"))
	d.overrides == {"cpu_limit": 2, "cpu_guarantee": 1}
	d.messages == ["cpu_limit unlimited (the hub's default) lowered to 2: the most for group students"]
}

# --- extended resources (GPUs) ---

test_gpu_clamped if {
	d := decide(req(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": 4}, "extra_resource_guarantees": {"nvidia.com/gpu": 4}}))
	d.allow == true
	d.overrides == {"extra_resource_limits": {"nvidia.com/gpu": 2}, "extra_resource_guarantees": {"nvidia.com/gpu": 2}}
	"extra_resource_limits nvidia.com/gpu 4 lowered to 2: the most for group gpu" in d.messages
}

test_gpu_guarantee_following_its_limit_lowered_quietly if {
	d := decide(pod_input(
		["gpu"],
		{"extra_resource_limits": {"nvidia.com/gpu": 4}, "extra_resource_guarantees": {"nvidia.com/gpu": 4}},
		{"extra_resource_limits": {"nvidia.com/gpu": "profile"}, "extra_resource_guarantees": {"nvidia.com/gpu": "limit"}},
		{},
	))
	d.overrides.extra_resource_guarantees == {"nvidia.com/gpu": 2}
	d.messages == ["extra_resource_limits nvidia.com/gpu 4 (the profile) lowered to 2: the most for group gpu"]
}

test_gpu_not_available_to_default if {
	d := decide(req([], {"extra_resource_limits": {"nvidia.com/gpu": 1}}))
	d.messages == ["nvidia.com/gpu is not available to group default"]
}

test_zero_gpus_need_no_allowance if {
	d := decide(req([], {"extra_resource_limits": {"nvidia.com/gpu": 0}}))
	d.allow == true
}

test_gpu_from_the_admin_is_judged_too if {
	d := decide(from_layer([], {"extra_resource_limits": {"nvidia.com/gpu": 1}}, "config"))
	d.allow == false
}

test_a_resource_no_allowance_names_is_not_available if {
	d := decide(req(["gpu"], {"extra_resource_limits": {"example.com/fpga": 1}}))
	d.messages == ["example.com/fpga is not available to group gpu"]
}

# A string amount in data is a typo to fix, not "grants nothing" (nor "no limit").
test_string_maximum_in_data_refuses_as_misconfigured if {
	typo := object.union(cfg, {"groups": {"gpu": {"extra_resources": {"example.com/fpga": "1"}}}})
	d := spawn.decision with input as req(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": 1}}) with data.jhpolicy as typo
	d.allow == false
	d.messages == ["the hub's spawn policy is misconfigured, ask your hub admin: group gpu: extra_resources.example.com/fpga \"1\" is not a whole number (0 or more)"]
}

test_gpu_malformed_map_denied if {
	d := decide(req(["gpu"], {"extra_resource_limits": [1]}))
	"extra_resource_limits must be an object of resource name to amount" in d.messages
}

test_gpu_amount_not_number_denied if {
	d := decide(req(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": "1"}}))
	"extra_resource_limits: nvidia.com/gpu must be a number" in d.messages
}

test_gpu_at_its_maximum_is_left_alone if {
	d := decide(req(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": 2}, "extra_resource_guarantees": {"nvidia.com/gpu": 2}}))
	d == {"allow": true, "overrides": {}, "messages": [], "charge": "gpu", "quota": {}}
}

test_most_generous_gpu_maximum_wins if {
	data_two := object.union(cfg, {"groups": {"one-gpu": {"images": ["**"], "extra_resources": {"nvidia.com/gpu": 1}}}})
	d := spawn.decision with input as req(["gpu", "one-gpu"], {"extra_resource_limits": {"nvidia.com/gpu": 2}}) with data.jhpolicy as data_two
	d.overrides == {}
}

# A key of a widened ceiling (node_selector) is a map too, not resource amounts.
test_other_maps_in_the_pod_are_not_resource_amounts if {
	d := decide(from_layer(["students"], {"node_selector": {"disk": "ssd"}}, "config"))
	d == {"allow": true, "overrides": {}, "messages": [], "charge": "students", "quota": {}}
}

# granted_by (an applying allowance, by name) and allowance_amount (any
# entry, for charging) read an amount alike: one pipeline, two ways in.
test_granted_by_reads_amounts_as_allowance_amount_does if {
	paths := [["cpu_limit"], ["cpu_guarantee"], ["mem_limit"], ["mem_guarantee"], ["extra_resources", "nvidia.com/gpu"]]
	request := req(["gpu", "students"], {})
	by_name := {[name, path]: n |
		some name, _ in allowances.entries
		some path in paths
		n := resources.granted_by(name, path)
	} with input as request with data.jhpolicy as cfg
	by_entry := {[name, path]: n |
		some name, entry in allowances.entries
		some path in paths
		n := resources.allowance_amount(entry, path)
	} with input as request with data.jhpolicy as cfg
	by_name == by_entry
	by_name[["group gpu", ["extra_resources", "nvidia.com/gpu"]]] == 2
	count(by_name) >= 5
}
