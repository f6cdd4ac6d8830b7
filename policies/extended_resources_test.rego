# Tests of extended_resources.rego; the helpers (cfg, req, decide, ...) are in spawn_test.rego.
package jupyterhub.spawn_test

import data.jupyterhub.spawn

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
