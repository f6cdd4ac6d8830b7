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

test_amounts_shown_as_people_write_them if {
	d := decide(req(["students"], {"mem_limit": 5000000001}))
	"mem_limit 4.66G lowered to 4G: the most for group students" in d.messages
	d2 := decide(req(["students"], {"mem_limit": 4608 * 1048576}))
	"mem_limit 4.5G lowered to 4G: the most for group students" in d2.messages
	d3 := decide(req([], {"mem_limit": 1536 * 1024}))
	d3.messages == ["mem_guarantee 1G (the hub's default) lowered to 1.5M: a guarantee cannot exceed mem_limit"]
	spawn.show("mem_limit", 1000) == "1000"
}

# A 1.3G quota and 0.6 of 0.7 CPU in use: not 1395864371 bytes, nor 0.09999999999999998.
test_quota_amounts_shown_as_people_write_them if {
	quotas := {"quotas": {"users": {"mem_limit": "1.3G", "cpu_limit": 0.7}}}
	used := {"usage": {"user": {"cpu_limit": 0.6}}}
	d := spawn.decision with input as object.union(req(["students"], {"cpu_limit": 1, "mem_limit": gib}), used) with data.jhpolicy as object.union(cfg, quotas)
	d.messages == [
		"cpu_guarantee 0.5 (the hub's default) lowered to 0.1: a guarantee cannot exceed cpu_limit",
		"cpu_limit 1 lowered to 0.1: what the quota leaves (you hold 0.6 of the 0.7 CPU (limits) each user may hold)",
	]
	full := {"usage": {"user": {"mem_limit": 1395864371}}}
	d2 := spawn.decision with input as object.union(req(["students"], {}), full) with data.jhpolicy as object.union(cfg, quotas)
	d2.messages == ["quota reached: you hold 1.3G of the 1.3G memory (limits) each user may hold; stop one of your servers to free some"]
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

test_memory_units_are_exact_powers_of_1024 if {
	spawn.show("mem_limit", 102400) == "100K"
	spawn.show("mem_limit", 1053819) == "1.01M"
	spawn.show("servers", 2048) == "2048"
}
