package jupyterhub.spawn_test

import data.jupyterhub.spawn

# The view's input: a decision's input with an empty request.
view_input(groups) := req(groups, {})

view(groups, config) := v if {
	v := spawn.allowance_view with input as view_input(groups) with data.jhpolicy as config
}

view_with_usage(groups, usage) := v if {
	v := spawn.allowance_view with input as with_usage(view_input(groups), usage) with data.jhpolicy as quota_cfg
}

test_a_student_sees_their_images_maxima_and_profiles if {
	v := view(["students"], cfg)
	v.available == true
	v.sources == ["group students"]
	v.images == ["jupyterhub/k8s-singleuser-sample:*", "quay.io/jupyter/*-notebook:*"]
	v.images_total == 2
	v.max == {"cpu_limit": 2, "cpu_guarantee": 1, "mem_limit": 4 * gib, "mem_guarantee": 2 * gib}
	v.extra_resources == {}
	v.profiles == ["medium", "small"]
	v.quotas == []
}

test_the_view_is_the_most_generous_over_the_users_entries if {
	v := view(["students", "gpu"], cfg)
	v.sources == ["group gpu", "group students"]
	v.max.cpu_limit == 8
	v.max.mem_limit == 4 * gib
	v.extra_resources == {"nvidia.com/gpu": 2}
	v.profiles == ["*", "medium", "small"]
}

test_a_user_in_no_configured_group_sees_the_default_entry if {
	v := view(["physics"], cfg)
	v.sources == ["group default"]
	v.max.cpu_limit == 1
}

test_an_admin_requester_adds_the_admins_allowance if {
	request := object.union(view_input(["students"]), {"requester": {"kind": "user", "name": "root", "admin": true}})
	v := spawn.allowance_view with input as request with data.jhpolicy as cfg
	v.sources == ["admins", "group students"]
	v.max.cpu_limit == 16
}

test_a_gpu_user_sees_each_quota_with_what_is_in_use_and_left if {
	usage := usage_doc({"servers": 1}, {"gpu": {"servers": 1, "cpu_limit": 2}}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 3}}}, {"cpu_guarantee": 15.5})
	v := view_with_usage(["gpu"], usage)
	v.quotas == [
		{"scope": "user", "group": "", "resource": "servers", "quota": 3, "in_use": 1, "left": 2},
		{"scope": "member", "group": "gpu", "resource": "cpu_limit", "quota": 8, "in_use": 2, "left": 6},
		{"scope": "member", "group": "gpu", "resource": "servers", "quota": 2, "in_use": 1, "left": 1},
		{"scope": "group", "group": "gpu", "resource": "nvidia.com/gpu", "quota": 4, "in_use": 3, "left": 1},
		{"scope": "hub", "group": "", "resource": "cpu_guarantee", "quota": 16, "in_use": 15.5, "left": 0.5},
		{"scope": "hub", "group": "", "resource": "mem_limit", "quota": 64 * gib, "in_use": 0, "left": 64 * gib},
	]
}

test_what_is_left_is_never_below_zero if {
	usage := usage_doc({"servers": 5}, {}, {}, {})
	v := view_with_usage(["students"], usage)
	some row in v.quotas
	row.scope == "user"
	row.left == 0
	row.in_use == 5
}

test_a_quota_set_as_a_group_property_is_the_one_shown if {
	request := object.union(view_input(["students"]), {"groups": {"students": {"properties": {"jhpolicy_quota": {"member": {"servers": 1}}}}}})
	v := spawn.allowance_view with input as request with data.jhpolicy as quota_cfg
	{"scope": "member", "group": "students", "resource": "servers", "quota": 1, "in_use": 0, "left": 1} in v.quotas
	every row in v.quotas {
		row.scope != "group"
	}
}

test_long_allowlists_are_cut_and_counted if {
	many := object.union(cfg, {"groups": {"students": {
		"images": [sprintf("registry.example.org/img%02d:*", [i]) | some i in numbers.range(1, 30)],
		"image_repositories": {sprintf("registry.example.org/repo%02d", [i]): ["*"] | some i in numbers.range(1, 25)},
	}}})
	v := view(["students"], many)
	count(v.images) == 20
	v.images_total == 30
	v.images[0] == "registry.example.org/img01:*"
	count(v.repositories) == 20
	v.repositories_total == 25
	v.repositories[0] == "registry.example.org/repo01"
}

test_malformed_data_gives_no_view_but_says_why if {
	broken := object.union(cfg, {"groups": {"students": {"max": {"cpu_limit": "4 cores"}}}})
	v := view(["students"], broken)
	v.available == false
	contains(v.message, `group students: max.cpu_limit "4 cores" is not`)
}

test_no_entry_at_all_gives_no_view if {
	v := view(["physics"], {"groups": {}})
	v == {"available": false, "message": "the spawn policy could not describe your allowance"}
}

test_each_extended_resource_shows_its_most_generous_maximum if {
	two := object.union(cfg, {"groups": {"students": {"extra_resources": {"nvidia.com/gpu": 1, "example.com/fpga": 1}}}})
	v := view(["students", "gpu"], two)
	v.extra_resources == {"nvidia.com/gpu": 2, "example.com/fpga": 1}
}

# The spawn page's candidates: a spawn each, judged by the decision.
candidate(profile, pod, source) := {
	"request": {"profile": profile, "profile_options": {}, "overrides": {}, "raw": {}},
	"pod": object.union(base_pod, pod),
	"sources": object.union(base_sources, {key: source | some key, _ in pod}),
}

with_candidates(request, candidates) := object.union(request, {"candidates": candidates})

test_each_candidate_is_judged_by_the_decision_in_order if {
	candidates := [
		candidate("small", {}, "profile"),
		candidate("gpu", {"extra_resource_limits": {"nvidia.com/gpu": 1}}, "profile"),
		candidate("medium", {"image": "evil/miner:1"}, "profile_option"),
	]
	v := spawn.allowance_view with input as with_candidates(view_input(["students"]), candidates) with data.jhpolicy as cfg
	v.candidates == [
		{"allow": true, "message": ""},
		{"allow": false, "message": "profile gpu is not allowed for group students"},
		{"allow": false, "message": "image evil/miner:1 (the profile option) is not allowed for group students; allowed images: jupyterhub/k8s-singleuser-sample:*, quay.io/jupyter/*-notebook:*"},
	]
}

test_a_candidate_the_quota_has_no_room_for_is_refused_saying_so if {
	usage := usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 4}}}, {})
	candidates := [candidate("gpu", {"extra_resource_limits": {"nvidia.com/gpu": 1}}, "profile"), candidate("small", {}, "profile")]
	request := with_candidates(with_usage(view_input(["gpu"]), usage), candidates)
	v := spawn.allowance_view with input as request with data.jhpolicy as quota_cfg
	v.candidates[0].allow == false
	contains(v.candidates[0].message, "gpu holds 4 of 4 nvidia.com/gpu")
	v.candidates[1] == {"allow": true, "message": ""}
}

test_a_candidate_without_its_pod_is_left_out if {
	candidates := [{"request": {"profile": "small"}}, candidate("small", {}, "profile")]
	v := spawn.allowance_view with input as with_candidates(view_input(["students"]), candidates) with data.jhpolicy as cfg
	v.candidates == [{"allow": true, "message": ""}]
}

test_no_candidates_no_judgements if {
	v := view(["students"], cfg)
	v.candidates == []
}

# The page judges by `refusal`: it must say what the decision says.
test_refusal_is_what_the_decision_refuses_with if {
	broken := object.union(cfg, {"groups": {"students": {"max": {"cpu_limit": "4 cores"}}}})
	every case in [
		[req(["students"], {}), cfg],
		[req(["students"], {"image": "evil/miner:1", "cpu_limit": 64}), cfg],
		[req(["students"], {}), broken],
		[req(["physics"], {}), {"groups": {}}],
	] {
		d := spawn.decision with input as case[0] with data.jhpolicy as case[1]
		r := spawn.refusal with input as case[0] with data.jhpolicy as case[1]
		allowed := count(r) == 0
		d.allow == allowed
		same_refusal(d, r)
	}
}

same_refusal(d, _) if d.allow

same_refusal(d, r) if {
	not d.allow
	r == d.messages
}

test_a_candidate_without_a_profile_is_judged_as_the_spawn_it_is if {
	candidates := [candidate(null, {}, "config")]
	v := spawn.allowance_view with input as with_candidates(view_input(["students"]), candidates) with data.jhpolicy as cfg
	v.candidates == [{"allow": true, "message": ""}]
}

# The view's own input (the hub's default spawn) may hold a GPU a candidate
# does not: the candidate is judged as its own pod, not merged with it.
test_a_candidate_is_judged_without_the_base_inputs_pod if {
	base := object.union(view_input(["students"]), {"pod": {"extra_resource_limits": {"nvidia.com/gpu": 1}}})
	v := spawn.allowance_view with input as with_candidates(base, [candidate("small", {}, "profile")]) with data.jhpolicy as cfg
	v.candidates == [{"allow": true, "message": ""}]
}

# A refusal's help reaches the page with the judgement, as with the decision.
test_a_refused_candidate_carries_its_help if {
	usage := usage_doc({}, {}, {"gpu": {"extra_resources": {"nvidia.com/gpu": 4}}}, {})
	with_help := object.union(quota_cfg, {"groups": {"gpu": {"help": {"text": "Ask for GPUs", "url": "https://help.example.edu/gpu"}}}})
	candidates := [candidate("gpu", {"extra_resource_limits": {"nvidia.com/gpu": 1}}, "profile"), candidate("small", {}, "profile")]
	request := with_candidates(with_usage(view_input(["gpu"]), usage), candidates)
	v := spawn.allowance_view with input as request with data.jhpolicy as with_help
	v.candidates[0].help == {"text": "Ask for GPUs", "url": "https://help.example.edu/gpu"}
	not v.candidates[1].help
}

# A misconfigured refusal says only that (as the decision does): no help.
# The malformed repository entry is one only the candidate's image looks up.
test_a_misconfigured_candidate_carries_no_help if {
	broken := object.union(cfg, {"groups": {"students": {
		"image_repositories": {"registry.example.edu/broken": "*"},
		"help": {"text": "Ask", "url": "https://help.example.edu/x"},
	}}})
	candidates := [candidate("small", {"image": "registry.example.edu/broken:1"}, "profile")]
	v := spawn.allowance_view with input as with_candidates(view_input(["students"]), candidates) with data.jhpolicy as broken
	v.available == true
	v.candidates[0].allow == false
	contains(v.candidates[0].message, "misconfigured")
	not v.candidates[0].help
}
