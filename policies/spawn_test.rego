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
			"extra_resources": {"nvidia.com/gpu": 2},
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
	d := spawn.decision with input as req([], {}) with data.jhpolicy as {}
	"you are in no group this hub's spawn policy knows, and it has no default entry" in d.messages
	d2 := spawn.decision with input as req([], {}) with data.jhpolicy as "not an object"
	d2.messages == ["the hub's spawn policy is misconfigured, ask your hub admin: data.jhpolicy is not an object"]
	d2.reason == "misconfigured"
}

test_no_default_entry_denies_unknown_group if {
	d := spawn.decision with input as req(["other"], {}) with data.jhpolicy as {"groups": {"students": cfg.groups.students}}
	d.allow == false
}

test_plain_spawn_allowed if {
	d := decide(req([], {}))
	d == {"allow": true, "overrides": {}, "messages": [], "charge": "default", "quota": {}}
}

test_overrides_not_an_object_denied if {
	d := decide(req([], ["image"]))
	"request.overrides must be an object" in d.messages
}

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
