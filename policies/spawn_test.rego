package jupyterhub.spawn_test

import data.jupyterhub.spawn

# Fixture data, so these tests do not change when an admin edits data.json.
cfg := {
	"groups": {
		"default": {
			"images": ["quay.io/jupyter/minimal-notebook:*"],
			"max": {"cpu_limit": 1, "cpu_guarantee": "500m", "mem_limit": "2G", "mem_guarantee": 1073741824},
			"profiles": ["small"],
		},
		"students": {
			"images": ["jupyterhub/k8s-singleuser-sample:*", "quay.io/jupyter/*-notebook:*"],
			"max": {"cpu_limit": 2, "cpu_guarantee": 1, "mem_limit": "4Gi", "mem_guarantee": "2G"},
			"profiles": ["small", "medium"],
		},
		"gpu": {
			"images": ["nvcr.io/nvidia/pytorch:*", "quay.io/jupyter/minimal-notebook:*"],
			"max": {"cpu_limit": 8, "mem_limit": "1.5G"},
			"extra_resources": {"nvidia.com/gpu": 2, "example.com/fpga": "1"},
			"profiles": ["*"],
		},
	},
	"requesters": {
		"admins": {"images": ["**"], "max": {"cpu_limit": 16}, "profiles": ["*"]},
		"services": {"orchestrator": {"images": ["registry.example.edu/courses/**"], "max": {"cpu_limit": 4}}},
	},
}

gib := 1073741824

# The pod as the hub's defaults would give it: within the default maxima.
base_pod := {
	"image": "quay.io/jupyter/minimal-notebook:2025",
	"cpu_limit": 1, "cpu_guarantee": 0.5,
	"mem_limit": gib, "mem_guarantee": gib,
	"extra_resource_limits": {}, "extra_resource_guarantees": {},
}

base_sources := {
	"image": "config",
	"cpu_limit": "config", "cpu_guarantee": "config",
	"mem_limit": "config", "mem_guarantee": "config",
	"extra_resource_limits": {}, "extra_resource_guarantees": {},
}

# Input version 2 with the pod and sources given.
pod_input(groups, pod, sources, overrides) := {
	"version": 2,
	"user": {"name": "alice", "admin": false, "groups": groups},
	"requester": {"kind": "user", "name": "alice", "admin": false},
	"server": {"name": ""},
	"request": {"profile": null, "profile_options": {}, "overrides": overrides, "raw": overrides},
	"pod": object.union(base_pod, pod),
	"sources": object.union(base_sources, sources),
}

# A request: its overrides land in the pod, with the source "request".
req(groups, overrides) := pod_input(groups, overrides, request_sources(overrides), overrides) if {
	is_object(overrides)
} else := pod_input(groups, {}, {}, overrides)

request_sources(overrides) := {key: source |
	some key, value in overrides
	source := source_of(value)
}

source_of(value) := {name: "request" | some name, _ in value} if is_object(value)

else := "request"

# The pod set by a layer other than the request.
from_layer(groups, pod, source) := pod_input(groups, pod, {key: source | some key, _ in pod}, {})

decide(request) := d if {
	d := spawn.decision with input as request with data.jhpolicy as cfg
}

# --- default deny ---

test_empty_input_denied if {
	d := spawn.decision with input as {} with data.jhpolicy as cfg
	d.allow == false
	"unsupported input version: this policy reads jhpolicy input version 2" in d.messages
}

test_version_1_input_denied if {
	d := decide(object.union(req([], {}), {"version": 1}))
	"unsupported input version: this policy reads jhpolicy input version 2" in d.messages
}

test_no_data_denies if {
	d := spawn.decision with input as req([], {}) with data.jhpolicy as "not an object"
	d.allow == false
	some m in d.messages
	contains(m, "no group this hub's spawn policy knows")
}

test_no_default_entry_denies_unknown_group if {
	d := spawn.decision with input as req(["other"], {}) with data.jhpolicy as {"groups": {"students": cfg.groups.students}}
	d.allow == false
}

test_plain_spawn_allowed if {
	d := decide(req([], {}))
	d == {"allow": true, "overrides": {}, "messages": []}
}

test_overrides_not_an_object_denied if {
	d := decide(req([], ["image"]))
	"request.overrides must be an object" in d.messages
}

# --- unknown keys: one message of bounded length ---

test_unknown_key_denied if {
	d := decide(req(["students"], {"privileged": true}))
	d.allow == false
	d.messages == ["privileged cannot be set: this hub lets you choose only cpu_guarantee, cpu_limit, extra_resource_guarantees, extra_resource_limits, image, mem_guarantee, mem_limit"]
}

test_many_unknown_keys_one_bounded_message if {
	overrides := {sprintf("k%02d", [i]): i | some i in numbers.range(1, 40)}
	d := decide(req([], overrides))
	count(d.messages) == 1
	startswith(d.messages[0], "k01, k02, k03, k04, k05 and 35 more cannot be set")
}

test_long_unknown_key_shortened if {
	key := concat("", ["x" | some _ in numbers.range(1, 500)])
	d := decide(req([], {key: 1}))
	startswith(d.messages[0], concat("", [substring(key, 0, 37), "... cannot be set"]))
	count(d.messages[0]) < 300
}

# --- images: the pod's image, whatever set it ---

test_sample_image_allowed_for_students if {
	d := decide(req(["students"], {"image": "jupyterhub/k8s-singleuser-sample:0.8.4"}))
	d.allow == true
	d.overrides == {}
}

test_sample_image_denied_for_default_user if {
	d := decide(req([], {"image": "jupyterhub/k8s-singleuser-sample:0.8.4"}))
	d.messages == ["image jupyterhub/k8s-singleuser-sample:0.8.4 is not allowed for group default; allowed images: quay.io/jupyter/minimal-notebook:*"]
}

test_image_from_the_hubs_default_is_judged_too if {
	d := decide(from_layer([], {"image": "docker.io/evil/miner:1"}, "config"))
	d.messages == ["image docker.io/evil/miner:1 (the hub's default) is not allowed for group default; allowed images: quay.io/jupyter/minimal-notebook:*"]
}

test_image_from_an_unlisted_choice_is_judged if {
	d := decide(from_layer(["students"], {"image": "evil.example/x:1"}, "unlisted_choice"))
	d.allow == false
	startswith(d.messages[0], "image evil.example/x:1 (your profile option choice) is not allowed")
}

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

test_image_not_a_string_denied if {
	d := decide(from_layer([], {"image": 7}, "config"))
	startswith(d.messages[0], "image (not a string) (the hub's default) is not allowed")
}

test_long_image_shortened if {
	image := concat("", ["a" | some _ in numbers.range(1, 300)])
	d := decide(req([], {"image": image}))
	count(d.messages[0]) < 350
}

test_glob_star_does_not_cross_slash if {
	d := decide(req(["students"], {"image": "quay.io/jupyter/a/b-notebook:1"}))
	d.allow == false
}

test_dotted_tags_match_star if {
	decide(req([], {"image": "quay.io/jupyter/minimal-notebook:4.1.0"})).allow == true
	d := spawn.decision with input as req([], {"image": "quay.io/a/b:4.1.0"}) with data.jhpolicy as {"groups": {"default": {"image_repositories": {"quay.io/a/b": ["*"]}}}}
	d.allow == true
}

test_unconfigured_group_gets_default if {
	d := decide(req(["unknown-group"], {"image": "quay.io/jupyter/minimal-notebook:x"}))
	d.allow == true
}

test_no_images_configured_says_none if {
	d := spawn.decision with input as req([], {"image": "x/y:1"}) with data.jhpolicy as {"groups": {"default": {}}}
	d.messages == ["image x/y:1 is not allowed for group default; allowed images: none"]
}

# --- CPU and memory: the pod's final values ---

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

test_most_generous_group_wins if {
	d := decide(req(["students", "gpu"], {"cpu_limit": 6, "mem_limit": 3 * gib}))
	d.overrides == {}
	d.allow == true
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
	d == {"allow": true, "overrides": {}, "messages": []}
}

test_non_number_denied if {
	d := decide(from_layer(["students"], {"cpu_limit": "2"}, "config"))
	"cpu_limit must be a number" in d.messages
}

# --- guarantees ---

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

test_odd_byte_counts_shown_as_bytes if {
	d := decide(req(["students"], {"mem_limit": 5000000001}))
	"mem_limit 5000000001 lowered to 4G: the most for group students" in d.messages
	d2 := decide(req(["students"], {"mem_limit": 4608 * 1048576}))
	"mem_limit 4608M lowered to 4G: the most for group students" in d2.messages
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

test_string_maximum_in_data_grants_nothing if {
	d := decide(req(["gpu"], {"extra_resource_limits": {"example.com/fpga": 1}}))
	d.messages == ["example.com/fpga is not available to group gpu"]
}

test_gpu_malformed_map_denied if {
	d := decide(req(["gpu"], {"extra_resource_limits": [1]}))
	"extra_resource_limits must be an object of resource name to amount" in d.messages
}

test_gpu_amount_not_number_denied if {
	d := decide(req(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": "1"}}))
	"extra_resource_limits: nvidia.com/gpu must be a number" in d.messages
}

# --- who asks ---

test_admin_requester_gets_admin_allowance if {
	request := object.union(req(["students"], {"cpu_limit": 12, "image": "anything/at:all"}), {"requester": {"kind": "user", "name": "root", "admin": true}})
	d := decide(request)
	d.allow == true
	d.overrides == {}
}

test_user_alone_does_not_get_admin_allowance if {
	d := decide(req(["students"], {"cpu_limit": 12}))
	d.overrides.cpu_limit == 2
}

test_service_requester_gets_service_allowance if {
	request := object.union(req(["students"], {"cpu_limit": 4, "image": "registry.example.edu/courses/bio/nb:1"}), {"requester": {"kind": "service", "name": "orchestrator", "admin": false}})
	d := decide(request)
	d.allow == true
	d.overrides == {}
}

test_user_named_like_service_gets_nothing_extra if {
	request := object.union(req(["students"], {"image": "registry.example.edu/courses/bio/nb:1"}), {"requester": {"kind": "user", "name": "orchestrator", "admin": false}})
	decide(request).allow == false
}

# --- profiles ---

test_profile_allowed if {
	request := json.patch(req(["students"], {}), [{"op": "replace", "path": "/request/profile", "value": "medium"}])
	decide(request).allow == true
}

test_profile_denied if {
	request := json.patch(req([], {}), [{"op": "replace", "path": "/request/profile", "value": "medium"}])
	d := decide(request)
	d.messages == ["profile medium is not allowed for group default"]
}

test_profile_star_matches_dotted_slugs if {
	request := json.patch(req(["gpu"], {}), [{"op": "replace", "path": "/request/profile", "value": "gpu.large"}])
	decide(request).allow == true
}

test_visible_profiles_filtered_by_group if {
	request := object.union(req(["students"], {}), {"profiles": ["small", "medium", "gpu"]})
	profiles := spawn.visible_profiles with input as request with data.jhpolicy as cfg
	profiles == ["small", "medium"]
}

test_visible_profiles_empty_without_profiles_input if {
	profiles := spawn.visible_profiles with input as req([], {}) with data.jhpolicy as cfg
	profiles == []
}

# --- the shipped data.json ---

test_shipped_data_students_sample_image if {
	request := req(["students"], {"image": "jupyterhub/k8s-singleuser-sample:0.8.4", "cpu_limit": 8})
	d := spawn.decision with input as request
	d.allow == true
	d.messages == ["cpu_limit 8 lowered to 2: the most for group students"]
}

test_shipped_data_default_user_denied_sample_image if {
	d := spawn.decision with input as req([], {"image": "jupyterhub/k8s-singleuser-sample:0.8.4"})
	d.allow == false
}

test_shipped_data_allows_the_hub_default_images if {
	every groups in [[], ["students"], ["gpu-users"]] {
		every image in ["quay.io/jupyterhub/singleuser:5.3", "quay.io/jupyterhub/k8s-singleuser-sample:4.4.0"] {
			allowed_by_shipped_data(groups, image)
		}
	}
}

allowed_by_shipped_data(groups, image) if {
	d := spawn.decision with input as from_layer(groups, {"image": image}, "config")
	d.allow == true
}

test_no_allowance_names_you if {
	d := spawn.decision with input as req([], {"image": "x"}) with data.jhpolicy as {}
	"image x is not allowed for you; allowed images: none" in d.messages
}

# --- image_repositories: direct lookup by repository ---

repos_cfg := {"groups": {"default": {
	"images": ["quay.io/jupyter/*-notebook:*"],
	"image_repositories": {
		"registry.example.org/team1/notebook": ["*"],
		"registry.example.org:5000/team2/notebook": ["2025-*", "latest"],
		"example.org/untagged": [""],
	},
	"max": {},
}}}

repo_decision(image) := d if {
	d := spawn.decision with input as req([], {"image": image}) with data.jhpolicy as repos_cfg
}

test_repository_any_tag if {
	repo_decision("registry.example.org/team1/notebook:v7").allow == true
}

test_repository_tag_globs if {
	repo_decision("registry.example.org:5000/team2/notebook:2025-03").allow == true
	repo_decision("registry.example.org:5000/team2/notebook:latest").allow == true
	repo_decision("registry.example.org:5000/team2/notebook:2024-12").allow == false
}

test_repository_without_tag if {
	repo_decision("example.org/untagged").allow == true
	repo_decision("registry.example.org/team1/notebook").allow == true
}

test_repository_does_not_match_other_repositories if {
	repo_decision("registry.example.org/team1/notebook-evil:v1").allow == false
	repo_decision("registry.example.org/team1:notebook").allow == false
}

test_digest_references_need_a_glob if {
	repo_decision("registry.example.org/team1/notebook@sha256:0123").allow == false
	d := spawn.decision with input as req([], {"image": "quay.io/jupyter/r-notebook@sha256:0123"}) with data.jhpolicy as {"groups": {"default": {"images": ["quay.io/jupyter/*@sha256:*"]}}}
	d.allow == true
}

test_refusal_counts_repositories if {
	d := repo_decision("docker.io/evil/miner:1")
	d.messages == ["image docker.io/evil/miner:1 is not allowed for group default; allowed images: quay.io/jupyter/*-notebook:*, and 3 listed repositories"]
}

test_refusal_with_only_repositories if {
	d := spawn.decision with input as req([], {"image": "x/y:1"}) with data.jhpolicy as {"groups": {"default": {"image_repositories": {"a/b": ["*"]}}}}
	d.messages == ["image x/y:1 is not allowed for group default; allowed images: 1 listed repositories"]
}

test_refusal_names_at_most_ten_globs if {
	globs := [sprintf("r/%d:*", [i]) | some i in numbers.range(1, 12)]
	d := spawn.decision with input as req([], {"image": "x/y:1"}) with data.jhpolicy as {"groups": {"default": {"images": globs}}}
	endswith(d.messages[0], " and 2 more")
}

# --- boundaries: where a message is shortened, where a value is lowered ---

test_a_pod_without_an_image_key_is_not_judged_on_it if {
	no_image := json.remove(pod_input([], {}, {}, {}), ["/pod/image"])
	d := decide(no_image)
	d.allow == true
}

test_gpu_at_its_maximum_is_left_alone if {
	d := decide(req(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": 2}, "extra_resource_guarantees": {"nvidia.com/gpu": 2}}))
	d == {"allow": true, "overrides": {}, "messages": []}
}

test_most_generous_gpu_maximum_wins if {
	data_two := object.union(cfg, {"groups": {"one-gpu": {"images": ["**"], "extra_resources": {"nvidia.com/gpu": 1}}}})
	d := spawn.decision with input as req(["gpu", "one-gpu"], {"extra_resource_limits": {"nvidia.com/gpu": 2}}) with data.jhpolicy as data_two
	d.overrides == {}
}

test_five_unknown_keys_all_named_six_not if {
	five := decide(req([], {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}))
	startswith(five.messages[0], "a, b, c, d, e cannot be set")
	six := decide(req([], {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1}))
	startswith(six.messages[0], "a, b, c, d, e and 1 more cannot be set")
}

letters(n) := concat("", [sprintf("%d", [i % 10]) | some i in numbers.range(1, n)])

test_key_of_40_characters_named_whole_41_shortened if {
	forty := letters(40)
	startswith(decide(req([], {forty: 1})).messages[0], concat("", [forty, " cannot be set"]))
	startswith(decide(req([], {letters(41): 1})).messages[0], concat("", [substring(letters(41), 0, 37), "... cannot be set"]))
}

test_image_of_200_characters_named_whole_201_shortened if {
	image := letters(200)
	startswith(decide(req([], {"image": image})).messages[0], sprintf("image %s is not allowed", [image]))
	startswith(decide(req([], {"image": letters(201)})).messages[0], sprintf("image %s... is not allowed", [substring(letters(201), 0, 197)]))
}

test_ten_globs_named_whole_twelve_shortened if {
	ten := [sprintf("r/%02d:*", [i]) | some i in numbers.range(1, 10)]
	d := spawn.decision with input as req([], {"image": "x/y:1"}) with data.jhpolicy as {"groups": {"default": {"images": ten}}}
	d.messages == [sprintf("image x/y:1 is not allowed for group default; allowed images: %s", [concat(", ", ten)])]
	eleven := [sprintf("r/%02d:*", [i]) | some i in numbers.range(1, 11)]
	d11 := spawn.decision with input as req([], {"image": "x/y:1"}) with data.jhpolicy as {"groups": {"default": {"images": eleven}}}
	endswith(d11.messages[0], "r/10:* and 1 more")
	twelve := [sprintf("r/%02d:*", [i]) | some i in numbers.range(1, 12)]
	d12 := spawn.decision with input as req([], {"image": "x/y:1"}) with data.jhpolicy as {"groups": {"default": {"images": twelve}}}
	d12.messages == [sprintf("image x/y:1 is not allowed for group default; allowed images: %s and 2 more", [concat(", ", array.slice(twelve, 0, 10))])]
}

test_registry_port_is_not_a_tag if {
	d := spawn.decision with input as req([], {"image": "registry.example.org:5000/team2/notebook"}) with data.jhpolicy as {"groups": {"default": {"image_repositories": {"registry.example.org:5000/team2/notebook": [""]}}}}
	d.allow == true
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
