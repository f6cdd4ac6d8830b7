# Tests of images.rego; the helpers (cfg, req, decide, ...) are in spawn_test.rego.
package jupyterhub.spawn_test

import data.jupyterhub.spawn

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

test_no_images_configured_says_none if {
	d := spawn.decision with input as req([], {"image": "x/y:1"}) with data.jhpolicy as {"groups": {"default": {}}}
	d.messages == ["image x/y:1 is not allowed for group default; allowed images: none"]
}

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

# A repository two of the user's groups list is one repository, in the
# refusal as on the allowance view (it was counted once per group).
test_a_repository_listed_twice_counts_once_in_the_refusal_and_the_view if {
	two := {"groups": {
		"a": {"image_repositories": {"quay.io/x/y": ["1"], "quay.io/x/z": ["*"]}},
		"b": {"image_repositories": {"quay.io/x/y": ["2"]}},
	}}
	d := spawn.decision with input as req(["a", "b"], {"image": "x/y:1"}) with data.jhpolicy as two
	d.messages == ["image x/y:1 is not allowed for group a, group b; allowed images: 2 listed repositories"]
	v := spawn.allowance_view with input as req(["a", "b"], {}) with data.jhpolicy as two
	v.repositories_total == 2
}

# Each repository counts once, in whichever allowance it is listed first:
# a later allowance adds only what no earlier one lists.
test_every_allowances_repositories_count_once if {
	repositories := {
		"a": {"image_repositories": {"quay.io/x/y": ["1"]}},
		"b": {"image_repositories": {"quay.io/x/y": ["2"], "quay.io/x/z": ["*"]}},
		"c": {"image_repositories": {"quay.io/x/w": ["*"]}},
	}
	d := spawn.decision with input as req(["a", "b", "c"], {"image": "x/y:1"}) with data.jhpolicy as {"groups": repositories}
	d.messages == ["image x/y:1 is not allowed for group a, group b, group c; allowed images: 3 listed repositories"]
	v := spawn.allowance_view with input as req(["a", "b", "c"], {}) with data.jhpolicy as {"groups": repositories}
	v.repositories_total == 3
	v.repositories == ["quay.io/x/w", "quay.io/x/y", "quay.io/x/z"]
}

# The count read without building the set is the set's size, however the
# lists overlap: none, empty ones, one, one inside another, three with
# repeats, in any order of the allowances.
test_the_repository_count_is_the_size_of_the_listed_repositories if {
	lists := [
		{},
		{"a": {"image_repositories": {}}},
		{"a": {"image_repositories": {"r/1": ["*"], "r/2": ["*"]}}},
		{"a": {"image_repositories": {}}, "b": {"image_repositories": {"r/1": ["*"]}}},
		{"a": {"image_repositories": {"r/1": ["*"]}}, "b": {"image_repositories": {"r/1": ["1"], "r/2": ["*"]}}},
		{"a": {"image_repositories": {"r/1": ["*"], "r/2": ["*"]}}, "b": {"image_repositories": {"r/2": ["*"]}}},
		{
			"a": {"image_repositories": {"r/1": ["*"], "r/2": ["*"]}},
			"b": {"image_repositories": {"r/2": ["*"], "r/3": ["*"]}},
			"c": {"image_repositories": {"r/3": ["*"], "r/1": ["*"], "r/4": ["*"]}},
		},
	]
	every groups in lists {
		counted := spawn.images.repository_count with input as req(object.keys(groups), {})
			with data.jhpolicy as {"groups": groups}
		listed := spawn.images.listed_repositories with input as req(object.keys(groups), {})
			with data.jhpolicy as {"groups": groups}
		counted == count(listed)
	}
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

test_a_pod_without_an_image_key_is_not_judged_on_it if {
	no_image := json.remove(pod_input([], {}, {}, {}), ["/pod/image"])
	d := decide(no_image)
	d.allow == true
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
