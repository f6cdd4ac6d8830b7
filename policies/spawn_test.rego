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
			"images": ["nvcr.io/nvidia/pytorch:*"],
			"max": {"cpu_limit": 8, "mem_limit": "1.5G"},
			"extra_resources": {"nvidia.com/gpu": 2},
		},
	},
	"requesters": {
		"admins": {"images": ["**"], "max": {"cpu_limit": 16}, "profiles": ["*"]},
		"services": {"orchestrator": {"images": ["registry.example.edu/courses/**"], "max": {"cpu_limit": 4}}},
	},
}

gib := 1073741824

req(groups, overrides) := {
	"version": 1,
	"user": {"name": "alice", "admin": false, "groups": groups},
	"requester": {"kind": "user", "name": "alice", "admin": false},
	"server": {"name": ""},
	"request": {"profile": null, "profile_options": {}, "overrides": overrides, "raw": overrides},
	"current": {"image": "quay.io/jupyterhub/singleuser:5", "cpu_limit": null, "mem_limit": null},
}

decide(request) := d if {
	d := spawn.decision with input as request with data.jhpolicy as cfg
}

# --- default deny ---

test_empty_input_denied if {
	d := spawn.decision with input as {} with data.jhpolicy as cfg
	d.allow == false
	"unsupported input version: this policy reads jhpolicy input version 1" in d.messages
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

# --- images ---

test_sample_image_allowed_for_students if {
	d := decide(req(["students"], {"image": "jupyterhub/k8s-singleuser-sample:0.8.4"}))
	d.allow == true
	d.overrides == {"image": "jupyterhub/k8s-singleuser-sample:0.8.4"}
}

test_sample_image_denied_for_default_user if {
	d := decide(req([], {"image": "jupyterhub/k8s-singleuser-sample:0.8.4"}))
	d.allow == false
	d.messages == ["image jupyterhub/k8s-singleuser-sample:0.8.4 is not allowed for group default; allowed images: quay.io/jupyter/minimal-notebook:*"]
}

test_glob_star_does_not_cross_slash if {
	d := decide(req(["students"], {"image": "quay.io/jupyter/evil/x-notebook:1"}))
	d.allow == false
}

test_unconfigured_group_gets_default if {
	d := decide(req(["unknown-group"], {"image": "quay.io/jupyter/minimal-notebook:2025"}))
	d.allow == true
}

test_no_images_configured_says_none if {
	d := spawn.decision with input as req(["gpu"], {"image": "x"}) with data.jhpolicy as {"groups": {"gpu": {"max": {}}}}
	d.messages == ["image x is not allowed for group gpu; allowed images: none"]
}

# --- CPU and memory ---

test_cpu_clamped_with_message if {
	d := decide(req(["students"], {"cpu_limit": 8}))
	d.allow == true
	d.overrides == {"cpu_limit": 2}
	d.messages == ["cpu_limit 8 lowered to 2: the most for group students"]
}

test_memory_clamped_with_message if {
	d := decide(req(["students"], {"mem_limit": 8 * gib}))
	d.overrides.mem_limit == 4 * gib
	d.messages == ["mem_limit 8G lowered to 4G: the most for group students"]
}

test_memory_data_forms if {
	spawn.maximum("mem_limit") == 2 * gib with input as req([], {}) with data.jhpolicy as cfg
	spawn.maximum("mem_guarantee") == gib with input as req([], {}) with data.jhpolicy as cfg
	spawn.maximum("mem_limit") == 1610612736 with input as req(["gpu"], {}) with data.jhpolicy as cfg
}

test_cpu_millicores_in_data if {
	spawn.maximum("cpu_guarantee") == 0.5 with input as req([], {}) with data.jhpolicy as cfg
}

test_within_maximum_unchanged if {
	d := decide(req(["students"], {"cpu_limit": 1.5, "mem_limit": 3 * gib}))
	d.overrides == {"cpu_limit": 1.5, "mem_limit": 3 * gib}
	d.messages == []
}

test_most_generous_group_wins if {
	d := decide(req(["students", "gpu"], {"cpu_limit": 32, "mem_limit": 8 * gib}))
	d.overrides == {"cpu_limit": 8, "mem_limit": 4 * gib}
	d.messages == [
		"cpu_limit 32 lowered to 8: the most for group gpu",
		"mem_limit 8G lowered to 4G: the most for group students",
	]
}

test_guarantee_lowered_to_requested_limit if {
	d := decide(req(["students"], {"cpu_limit": 0.5, "cpu_guarantee": 1}))
	d.overrides == {"cpu_limit": 0.5, "cpu_guarantee": 0.5}
	d.messages == ["cpu_guarantee 1 lowered to 0.5: a guarantee cannot exceed cpu_limit"]
}

test_guarantee_lowered_to_current_limit if {
	request := json.patch(req(["students"], {"mem_guarantee": 2 * gib}), [{"op": "add", "path": "/current/mem_limit", "value": 1536 * 1048576}])
	d := decide(request)
	d.overrides == {"mem_guarantee": 1536 * 1048576}
	d.messages == ["mem_guarantee 2G lowered to 1536M: a guarantee cannot exceed mem_limit"]
}

test_guarantee_clamped_to_its_own_maximum if {
	d := decide(req(["students"], {"mem_guarantee": 3 * gib}))
	d.overrides == {"mem_guarantee": 2 * gib}
	d.messages == ["mem_guarantee 3G lowered to 2G: the most for group students"]
}

test_odd_byte_counts_shown_as_bytes if {
	d := decide(req(["students"], {"mem_guarantee": 3 * gib, "mem_limit": 1000}))
	d.messages == ["mem_guarantee 3G lowered to 1000: a guarantee cannot exceed mem_limit"]
}

test_key_without_maximum_denied if {
	d := decide(req(["gpu"], {"cpu_guarantee": 1}))
	d.messages == ["cpu_guarantee cannot be set: no maximum is configured for group gpu"]
}

test_non_number_denied if {
	d := decide(req(["students"], {"cpu_limit": "lots"}))
	d.allow == false
	"cpu_limit must be a number" in d.messages
}

test_false_limit_does_not_conflict if {
	d := decide(req(["students"], {"cpu_limit": false, "cpu_guarantee": 1}))
	d.allow == false
}

# --- unknown keys ---

test_unknown_key_denied if {
	d := decide(req(["students"], {"privileged": true}))
	d.allow == false
	d.messages == ["privileged cannot be set: this hub lets you choose only cpu_guarantee, cpu_limit, extra_resource_guarantees, extra_resource_limits, image, mem_guarantee, mem_limit"]
}

# --- GPUs ---

test_gpu_clamped if {
	d := decide(req(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": 4}}))
	d.overrides == {"extra_resource_limits": {"nvidia.com/gpu": 2}}
	d.messages == ["extra_resource_limits nvidia.com/gpu 4 lowered to 2: the most for group gpu"]
}

test_gpu_not_available_to_default if {
	d := decide(req([], {"extra_resource_limits": {"nvidia.com/gpu": 1}}))
	d.messages == ["extra_resource_limits: nvidia.com/gpu is not available to group default"]
}

test_gpu_guarantee_lowered_to_limit if {
	d := decide(req(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": 1}, "extra_resource_guarantees": {"nvidia.com/gpu": 2}}))
	d.overrides.extra_resource_guarantees == {"nvidia.com/gpu": 1}
	"extra_resource_guarantees nvidia.com/gpu 2 lowered to 1: a guarantee cannot exceed its limit" in d.messages
}

test_gpu_guarantee_lowered_to_current_limit if {
	request := json.patch(req(["gpu"], {"extra_resource_guarantees": {"nvidia.com/gpu": 2}}), [{"op": "add", "path": "/current/extra_resource_limits", "value": {"nvidia.com/gpu": 1}}])
	d := decide(request)
	d.overrides == {"extra_resource_guarantees": {"nvidia.com/gpu": 1}}
}

test_gpu_guarantee_without_limit if {
	d := decide(req(["gpu"], {"extra_resource_guarantees": {"nvidia.com/gpu": 1}}))
	d.overrides == {"extra_resource_guarantees": {"nvidia.com/gpu": 1}}
}

test_gpu_malformed_map_denied if {
	d := decide(req(["gpu"], {"extra_resource_limits": "1"}))
	d.messages == ["extra_resource_limits must be an object of resource name to amount"]
}

test_gpu_amount_not_number_denied if {
	d := decide(req(["gpu"], {"extra_resource_limits": {"nvidia.com/gpu": "x"}}))
	"extra_resource_limits: nvidia.com/gpu must be a number" in d.messages
}

# --- who asks ---

test_admin_requester_gets_admin_allowance if {
	request := json.patch(req([], {"image": "anything/at:all", "cpu_limit": 12}), [{"op": "replace", "path": "/requester", "value": {"kind": "user", "name": "root", "admin": true}}])
	d := decide(request)
	d.allow == true
	d.overrides == {"image": "anything/at:all", "cpu_limit": 12}
}

test_user_alone_does_not_get_admin_allowance if {
	d := decide(req([], {"cpu_limit": 12}))
	d.overrides == {"cpu_limit": 1}
}

test_service_requester_gets_service_allowance if {
	request := json.patch(req([], {"image": "registry.example.edu/courses/bio101/nb:3", "cpu_limit": 3}), [{"op": "replace", "path": "/requester", "value": {"kind": "service", "name": "orchestrator", "admin": false}}])
	d := decide(request)
	d.allow == true
	d.overrides == {"image": "registry.example.edu/courses/bio101/nb:3", "cpu_limit": 3}
}

test_user_named_like_service_gets_nothing_extra if {
	request := json.patch(req([], {"cpu_limit": 3}), [{"op": "replace", "path": "/requester", "value": {"kind": "user", "name": "orchestrator", "admin": false}}])
	d := decide(request)
	d.overrides == {"cpu_limit": 1}
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

test_no_allowance_names_you if {
	d := spawn.decision with input as req([], {"image": "x"}) with data.jhpolicy as {}
	"image x is not allowed for you; allowed images: none" in d.messages
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
