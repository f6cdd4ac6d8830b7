# Tests of resources.rego; the helpers (cfg, req, decide, ...) are in spawn_test.rego.
package jupyterhub.spawn_test

import data.jupyterhub.spawn

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
