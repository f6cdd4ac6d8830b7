# Tests of messages.rego; the helpers (cfg, req, decide, ...) are in spawn_test.rego.
package jupyterhub.spawn_test

import data.jupyterhub.spawn

test_sources_named_in_messages if {
	texts := {source: msg |
		some source in ["group_overrides", "profile", "profile_option", "limit", "somewhere-else"]
		d := decide(from_layer([], {"image": "x/y:1"}, source))
		msg := d.messages[0]
	}
	startswith(texts.group_overrides, "image x/y:1 (your group's settings) is not")
	startswith(texts.profile, "image x/y:1 (the profile) is not")
	startswith(texts.profile_option, "image x/y:1 (the profile option) is not")
	startswith(texts.limit, "image x/y:1 (its limit) is not")
	startswith(texts["somewhere-else"], "image x/y:1 is not")
}

test_odd_byte_counts_shown_as_bytes if {
	d := decide(req(["students"], {"mem_limit": 5000000001}))
	"mem_limit 5000000001 lowered to 4G: the most for group students" in d.messages
	d2 := decide(req(["students"], {"mem_limit": 4608 * 1048576}))
	"mem_limit 4608M lowered to 4G: the most for group students" in d2.messages
}

test_a_zero_guarantee_is_not_called_no_limit if {
	d := decide(from_layer([], {"mem_guarantee": 0}, "config"))
	every m in d.messages {
		not contains(m, "would mean no limit")
	}
}

test_unknown_source_of_a_gpu_not_named if {
	d := decide(pod_input(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": 4}, "extra_resource_guarantees": {"nvidia.com/gpu": 4}}, {"extra_resource_limits": {"nvidia.com/gpu": "elsewhere"}}, {}))
	"extra_resource_limits nvidia.com/gpu 4 lowered to 2: the most for group gpu" in d.messages
}

test_large_cpu_numbers_are_not_shown_as_memory if {
	spawn.show("cpu_limit", 2097152) == "2097152"
	spawn.show("cpu_limit", 2147483648) == "2147483648"
	spawn.show("mem_limit", 2097152) == "2M"
}
