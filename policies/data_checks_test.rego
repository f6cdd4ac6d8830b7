package jupyterhub.spawn_test

import data.jupyterhub.spawn
import data.jupyterhub.spawn.data_checks

misconfigured(text) := sprintf("the hub's spawn policy is misconfigured, ask your hub admin: %s", [text])

# The decision for a student with data.jhpolicy changed by patch.
decide_with(groups, patch) := d if {
	d := spawn.decision with input as req(groups, {}) with data.jhpolicy as object.union(cfg, patch)
}

# Every malformed value an admin was seen to write: never "no limit" or "no
# quota", always a refusal that names it and what is accepted.
test_malformed_maxima_refuse_with_where_and_what_is_accepted if {
	cases := [
		[{"cpu_limit": "4 cores"}, `group students: max.cpu_limit "4 cores" is not a number of CPU cores above 0 (e.g. 2 or 0.5) or a string like "500m"`],
		[{"cpu_limit": "four"}, `group students: max.cpu_limit "four" is not a number of CPU cores above 0 (e.g. 2 or 0.5) or a string like "500m"`],
		[{"cpu_limit": null}, `group students: max.cpu_limit null is not a number of CPU cores above 0 (e.g. 2 or 0.5) or a string like "500m"`],
		[{"cpu_limit": 0}, `group students: max.cpu_limit 0 is not a number of CPU cores above 0 (e.g. 2 or 0.5) or a string like "500m"`],
		[{"mem_limit": "1GB"}, `group students: max.mem_limit "1GB" is not a number of bytes above 0 or a string like "512M" or "2G"`],
		[{"mem_limit": "1073741824"}, `group students: max.mem_limit "1073741824" is not a number of bytes above 0 or a string like "512M" or "2G"`],
		[{"cpu_limt": 4}, "group students: max.cpu_limt is not a known key (did you mean cpu_limit? known: cpu_guarantee, cpu_limit, mem_guarantee, mem_limit)"],
		[{"cpu_limit": "2Gi"}, `group students: max.cpu_limit "2Gi" is not a number of CPU cores above 0 (e.g. 2 or 0.5) or a string like "500m"`],
		[{"cpu_limit": "2G"}, `group students: max.cpu_limit "2G" is not a number of CPU cores above 0 (e.g. 2 or 0.5) or a string like "500m"`],
	]
	every case in cases {
		d := decide_with(["students"], {"groups": {"students": {"max": case[0]}}})
		d.messages == [misconfigured(case[1])]
	}
}

test_malformed_entries_refuse if {
	cases := [
		[{"students": "all"}, "group students is not an object"],
		[{"students": {"image": ["**"]}}, "group students: image is not a known key (did you mean images? known: extra_resources, help, image_repositories, images, lifetime, max, profiles)"],
		[{"students": {"help": "ask the admins"}}, sprintf("group students: %s", [data_checks.help_text])],
		[{"students": {"help": {"text": ""}}}, sprintf("group students: %s", [data_checks.help_text])],
		[{"students": {"help": {"text": "ask", "url": "javascript:alert(1)"}}}, sprintf("group students: %s", [data_checks.help_text])],
		[{"students": {"help": {"text": "ask", "link": "https://x"}}}, sprintf("group students: %s", [data_checks.help_text])],
		[{"students": {"images": "quay.io/*"}}, "group students: images is not a list of strings"],
		[{"students": {"profiles": [1]}}, "group students: profiles is not a list of strings"],
		[{"students": {"max": 4}}, "group students: max is not an object"],
		[{"students": {"extra_resources": {"nvidia.com/gpu": -1}}}, "group students: extra_resources.nvidia.com/gpu -1 is not a whole number (0 or more)"],
		[{"students": {"extra_resources": 1}}, "group students: extra_resources is not an object of resource name to amount"],
		[{"students": {"extra_resources": [1]}}, "group students: extra_resources is not an object of resource name to amount"],
		[{"students": {"max": []}}, "group students: max is not an object"],
		[{"students": {"image_repositories": ["quay.io/x"]}}, "group students: image_repositories is not an object of repository to a list of tag globs"],
		[{"students": {"image_repositories": {"quay.io/jupyter/minimal-notebook": "*"}}}, "group students: image_repositories.quay.io/jupyter/minimal-notebook is not a list of tag globs"],
	]
	every case in cases {
		d := decide_with(["students"], {"groups": case[0]})
		d.messages == [misconfigured(case[1])]
	}
}

test_malformed_quotas_refuse if {
	cases := [
		[{"users": {"servers": -1}}, "quotas.users.servers -1 is not a whole number of servers (0 or more)"],
		[{"users": {"servers": "1"}}, `quotas.users.servers "1" is not a whole number of servers (0 or more)`],
		[{"users": {"servers": 1.5}}, "quotas.users.servers 1.5 is not a whole number of servers (0 or more)"],
		[{"users": {"server": 1}}, "quotas.users.server is not a known key (did you mean servers? known: cpu_guarantee, cpu_limit, extra_resources, mem_guarantee, mem_limit, servers)"],
		[{"hub": {"cpu_limit": "1 core"}}, `quotas.hub.cpu_limit "1 core" is not a number of CPU cores (e.g. 8 or 0.5) or a string like "500m"`],
		[{"hub": {"mem_limit": "1073741824"}}, `quotas.hub.mem_limit "1073741824" is not a number of bytes or a string like "512M" or "64G"`],
		[{"hub": {"extra_resources": {"nvidia.com/gpu": "4"}}}, `quotas.hub.extra_resources.nvidia.com/gpu "4" is not a whole number (0 or more)`],
		[{"hub": true}, "quotas.hub is not an object"],
		[{"user": {"servers": 1}}, "quotas.user is not a known key (did you mean users? known: charge_order, groups, hub, users)"],
		[{"groups": ["students"]}, "quotas.groups is not an object"],
		[{"groups": {"students": {"members": {"servers": 1}}}}, "quotas.groups.students.members is not a known key (did you mean member? known: group, member)"],
		[{"groups": {"students": {"member": {"servers": null}}}}, "quotas.groups.students.member.servers null is not a whole number of servers (0 or more)"],
	]
	every case in cases {
		d := decide_with(["students"], {"quotas": case[0]})
		d.messages == [misconfigured(case[1])]
	}
}

# The admin page and the REST API: a property is the quota, whatever its
# value; a malformed one never falls back to the data or to no quota.
test_malformed_quota_properties_refuse if {
	cases := [
		["lots", `group students property jhpolicy_quota is not an object like {"member": {"servers": 1}, "group": {"cpu_limit": 8}}`],
		["1", `group students property jhpolicy_quota is not an object like {"member": {"servers": 1}, "group": {"cpu_limit": 8}}`],
		[true, `group students property jhpolicy_quota is not an object like {"member": {"servers": 1}, "group": {"cpu_limit": 8}}`],
		[null, `group students property jhpolicy_quota is not an object like {"member": {"servers": 1}, "group": {"cpu_limit": 8}}`],
		[[1], `group students property jhpolicy_quota is not an object like {"member": {"servers": 1}, "group": {"cpu_limit": 8}}`],
		[{"member": {"servers": "Infinity"}}, `group students property jhpolicy_quota.member.servers "Infinity" is not a whole number of servers (0 or more)`],
		[{"member": {"user": 1}}, "group students property jhpolicy_quota.member.user is not a known key (known: cpu_guarantee, cpu_limit, extra_resources, mem_guarantee, mem_limit, servers)"],
	]
	every case in cases {
		request := object.union(req(["students"], {}), {"groups": {"students": {"properties": {"jhpolicy_quota": case[0]}}}})
		d := spawn.decision with input as request with data.jhpolicy as cfg
		d.messages == [misconfigured(case[1])]
	}
}

test_the_top_level_of_the_data_is_checked if {
	d := decide_with(["students"], {"quota": {"users": {"servers": 1}}})
	d.messages == [misconfigured("data.jhpolicy.quota is not a known key (did you mean quotas? known: groups, lifetimes, quotas, requesters)")]
	d2 := spawn.decision with input as req(["students"], {}) with data.jhpolicy as ["groups"]
	"the hub's spawn policy is misconfigured, ask your hub admin: data.jhpolicy is not an object" in d2.messages
	d3 := decide_with(["students"], {"requesters": {"services": []}})
	d3.messages == [misconfigured("requesters.services is not an object")]
	d4 := decide_with(["students"], {"groups": "students"})
	misconfigured("data.jhpolicy.groups is not an object") in d4.messages
}

# A problem refuses only the spawns it governs: another group's typo does not.
test_a_problem_refuses_only_the_spawns_it_governs if {
	typo := {"groups": {"gpu": {"max": {"cpu_limt": 4}}}, "requesters": {"admins": {"max": {"cpu_limit": "lots"}}}}
	decide_with(["students"], typo).allow == true
	decide_with(["gpu"], typo).allow == false
	by_admin := object.union(req(["students"], {}), {"requester": {"kind": "user", "name": "root", "admin": true}})
	d := spawn.decision with input as by_admin with data.jhpolicy as object.union(cfg, typo)
	d.messages == [misconfigured(`admins: max.cpu_limit "lots" is not a number of CPU cores above 0 (e.g. 2 or 0.5) or a string like "500m"`)]
}

test_many_problems_make_one_bounded_message if {
	d := decide_with(["students"], {"groups": {"students": {"max": {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}}}})
	count(d.messages) == 1
	endswith(d.messages[0], "; and 2 more")
}

# jhpolicy lint: everything in the data, whoever it governs.
test_problems_everywhere_checks_all_of_the_data if {
	typo := object.union(cfg, {
		"groups": {"gpu": {"max": {"cpu_limt": 4}}},
		"requesters": {
			"services": {"orchestrator": {"images": "x", "image_repositories": {"a/b": "*"}}},
			"admins": {"image_repositories": {"c/d": "*"}},
		},
		"quotas": {"charge_order": "gpu", "groups": {"nobody": {"group": {"servers": -2}}}},
	})
	problems := spawn.problems_everywhere with data.jhpolicy as typo
	problems == {
		"group gpu: max.cpu_limt is not a known key (did you mean cpu_limit? known: cpu_guarantee, cpu_limit, mem_guarantee, mem_limit)",
		"service orchestrator: images is not a list of strings",
		"service orchestrator: image_repositories.a/b is not a list of tag globs",
		"admins: image_repositories.c/d is not a list of tag globs",
		"quotas.charge_order is not a list of group names",
		"quotas.groups.nobody.group.servers -2 is not a whole number of servers (0 or more)",
	}
	clean := spawn.problems_everywhere with data.jhpolicy as cfg
	count(clean) == 0
}

test_zero_quotas_are_well_formed if {
	d := decide_with(["students"], {"quotas": {"users": {"servers": 0, "cpu_limit": 0}}})
	d.messages == [
		"quota reached: you hold 0 of the 0 CPU (limits) each user may hold; stop one of your servers to free some",
		"quota reached: you hold 0 of the 0 servers each user may hold; stop one of your servers to free some",
	]
	d2 := decide_with(["students"], {"groups": {"students": {"extra_resources": {"nvidia.com/gpu": 0}}}})
	d2.allow == true
}

test_more_shape_problems_are_named_once if {
	d := decide_with(["students"], {"quota": 5, "groups": {"students": {"images": {"a": "quay.io/*"}}}})
	d.messages == [misconfigured("data.jhpolicy.quota is not a known key (did you mean quotas? known: groups, lifetimes, quotas, requesters); group students: images is not a list of strings")]
	d2 := decide_with(["students"], {"quotas": {"groups": {"students": {"members": {"servers": "x"}}}}})
	d2.messages == [misconfigured("quotas.groups.students.members is not a known key (did you mean member? known: group, member)")]
	d3 := decide_with(["students"], {"groups": {"students": {"max": {"cpu_limit": "2k"}}}})
	d3.messages == [misconfigured(`group students: max.cpu_limit "2k" is not a number of CPU cores above 0 (e.g. 2 or 0.5) or a string like "500m"`)]
}

test_three_problems_are_listed_and_more_are_counted if {
	three := decide_with(["students"], {"groups": {"students": {"max": {"a": 1, "b": 1, "c": 1}}}})
	three.messages == [misconfigured("group students: max.a is not a known key (known: cpu_guarantee, cpu_limit, mem_guarantee, mem_limit); group students: max.b is not a known key (known: cpu_guarantee, cpu_limit, mem_guarantee, mem_limit); group students: max.c is not a known key (known: cpu_guarantee, cpu_limit, mem_guarantee, mem_limit)")]
	four := decide_with(["students"], {"groups": {"students": {"max": {"a": 1, "b": 1, "c": 1, "d": 1}}}})
	four.messages == [misconfigured("group students: max.a is not a known key (known: cpu_guarantee, cpu_limit, mem_guarantee, mem_limit); group students: max.b is not a known key (known: cpu_guarantee, cpu_limit, mem_guarantee, mem_limit); group students: max.c is not a known key (known: cpu_guarantee, cpu_limit, mem_guarantee, mem_limit); and 1 more")]
}

# The default pool's quota governs users in no configured group only.
test_a_malformed_default_quota_refuses_only_users_in_no_configured_group if {
	typo := {"quotas": {"groups": {"default": {"group": {"servers": "2"}}}}}
	decide_with([], typo).messages == [misconfigured(`quotas.groups.default.group.servers "2" is not a whole number of servers (0 or more)`)]
	decide_with(["students"], typo).allow == true
}

# A decision reads only the repository its image names (so its cost does
# not grow with the list); lint reads them all.
test_a_malformed_repository_entry_the_image_does_not_name_is_for_lint if {
	typo := object.union(cfg, {"groups": {"students": {"image_repositories": {"quay.io/x": "*"}}}})
	d := spawn.decision with input as req(["students"], {}) with data.jhpolicy as typo
	d.allow == true
	problems := spawn.problems_everywhere with data.jhpolicy as typo
	problems == {"group students: image_repositories.quay.io/x is not a list of tag globs"}
}

test_a_help_text_of_300_characters_is_fine_301_is_not if {
	text_300 := concat("", [x | some _ in numbers.range(1, 300); x := "a"])
	fine := decide_with(["students"], {"groups": {"students": object.union(cfg.groups.students, {"help": {"text": text_300}})}})
	not fine.reason == "misconfigured"
	too_long := decide_with(["students"], {"groups": {"students": object.union(cfg.groups.students, {"help": {"text": concat("", [text_300, "a"])}})}})
	too_long.reason == "misconfigured"
	one := decide_with(["students"], {"groups": {"students": object.union(cfg.groups.students, {"help": {"text": "?"}})}})
	not one.reason == "misconfigured"
	with_url := decide_with(["students"], {"groups": {"students": object.union(cfg.groups.students, {"help": {"text": "ask", "url": "https://help.example.edu/x"}})}})
	not with_url.reason == "misconfigured"
}

test_a_help_url_of_500_characters_is_fine_501_is_not if {
	url_500 := concat("", ["https://h.example/", concat("", [x | some _ in numbers.range(1, 482); x := "a"])])
	count(url_500) == 500
	fine := decide_with(["students"], {"groups": {"students": object.union(cfg.groups.students, {"help": {"text": "ask", "url": url_500}})}})
	not fine.reason == "misconfigured"
	too_long := decide_with(["students"], {"groups": {"students": object.union(cfg.groups.students, {"help": {"text": "ask", "url": concat("", [url_500, "a"])}})}})
	too_long.reason == "misconfigured"
	spaced := decide_with(["students"], {"groups": {"students": object.union(cfg.groups.students, {"help": {"text": "ask", "url": "https://h.example/a b"}})}})
	spaced.reason == "misconfigured"
}

# What the spawner's contract check refuses (jhpolicy.core.decision.HELP_URL_PATTERN)
# the data checks refuse too, so `jhpolicy lint` catches it before a refusal
# turns into a 503: quotes, angle brackets, any whitespace, non-ASCII.
test_a_help_url_with_a_character_the_spawner_refuses_is_misconfigured if {
	every url in [
		`https://help.example/?q="x"`, "https://help.example/?q='x'",
		"https://help.example/<x>", "https://help.example/a>b",
		"https://help.example/a\u00a0b", "https://help.example/a\u2028b",
		"https://help.example/a\tb", "https://help.example/é",
	] {
		d := decide_with(["students"], {"groups": {"students": object.union(cfg.groups.students, {"help": {"text": "ask", "url": url}})}})
		d.reason == "misconfigured"
	}
	fine := decide_with(["students"], {"groups": {"students": object.union(cfg.groups.students, {"help": {"text": "ask", "url": "https://h.example/a-b_c~d?e=f&g=%22#h"}})}})
	not fine.reason == "misconfigured"
}
