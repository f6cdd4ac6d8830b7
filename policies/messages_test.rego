# Tests of messages.rego; the helpers (cfg, req, decide, ...) are in spawn_test.rego.
package jupyterhub.spawn_test

import data.jupyterhub.lib.quantities
import data.jupyterhub.spawn

test_sources_named_in_messages if {
	texts := {source: msg |
		some source in ["group_overrides", "profile", "profile_option", "limit", "somewhere-else"]
		msg := decide(from_layer([], {"image": "x/y:1"}, source)).messages[0]
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
	quantities.show("mem_limit", 1000) == "1000"
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

# --- refusals: their reason, and how to get more ---

test_each_kind_of_refusal_has_its_reason if {
	cases := [
		[req(["students"], {"image": "evil/miner:1"}), "image"],
		[req(["students"], {"privileged": true}), "limit"],
		[req(["students"], {"extra_resource_limits": {"nvidia.com/gpu": 1}}), "limit"],
		[object.union(req(["students"], {}), {"version": 1}), "invalid"],
		[object.union(req(["students"], {}), {"request": {"profile": "large"}}), "profile"],
	]
	every case in cases {
		d := decide(case[0])
		d.allow == false
		d.reason == case[1]
	}
}

test_a_full_quota_is_reason_quota if {
	full := usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 4}}}, {})
	d := decide_quota(with_usage(req(["gpu"], one_gpu), full))
	d.reason == "quota"
}

test_with_several_kinds_the_first_in_order_is_the_reason if {
	d := decide(req(["students"], {"image": "evil/miner:1", "privileged": true}))
	count(d.messages) == 2
	d.reason == "image"
}

gpu_help := {"text": "Ask for more GPUs", "url": "https://help.example.edu/gpu"}

student_help := {"text": "Ask your course's staff", "url": "https://help.example.edu/courses"}

with_help := object.union(quota_cfg, {"groups": {"gpu": {"help": gpu_help}, "students": {"help": student_help}}})

test_a_quota_refusal_says_how_to_get_more_for_the_charged_group if {
	full := usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 4}}}, {})
	d := spawn.decision with input as with_usage(req(["gpu", "students"], one_gpu), full) with data.jhpolicy as with_help
	d.allow == false
	d.reason == "quota"
	d.help == gpu_help
}

test_another_refusal_says_how_to_get_more_from_the_users_first_entry_with_help if {
	d := spawn.decision with input as req(["gpu", "students"], {"image": "evil/miner:1"}) with data.jhpolicy as with_help
	d.help == gpu_help
	only_students := object.union(quota_cfg, {"groups": {"students": {"help": student_help}}})
	e := spawn.decision with input as req(["gpu", "students"], {"image": "evil/miner:1"}) with data.jhpolicy as only_students
	e.help == student_help
}

test_no_help_configured_means_no_help if {
	d := decide(req(["students"], {"image": "evil/miner:1"}))
	not "help" in object.keys(d)
}

# "aaa" sorts before "gpu": which help a refusal gets tells the charged group from the first by name.
with_aaa_help := object.union(with_help, {"groups": {"aaa": object.union(cfg.groups.students, {"help": student_help})}})

test_a_quota_refusal_gets_the_charged_groups_help_not_the_first_by_name if {
	full := usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 4}}}, {})
	d := spawn.decision with input as with_usage(req(["aaa", "gpu"], one_gpu), full) with data.jhpolicy as with_aaa_help
	d.reason == "quota"
	d.help == gpu_help
}

test_another_refusal_gets_the_first_help_by_name_not_the_charged_groups if {
	d := spawn.decision with input as req(["aaa", "gpu"], object.union(one_gpu, {"image": "evil/miner:1"})) with data.jhpolicy as with_aaa_help
	d.reason == "image"
	d.help == student_help
}

test_malformed_data_refuses_as_misconfigured_even_where_help_is_configured if {
	broken := object.union(with_help, {"groups": {"students": {"max": {"cpu_limit": "4 cores"}}}})
	d := spawn.decision with input as req(["students"], {"image": "evil/miner:1"}) with data.jhpolicy as broken
	d.allow == false
	d.reason == "misconfigured"
	not "help" in object.keys(d)
}
