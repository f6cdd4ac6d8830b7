# Tests of profiles.rego; the helpers (cfg, req, decide, ...) are in spawn_test.rego.
package jupyterhub.spawn_test

import data.jupyterhub.spawn

test_profile_allowed if {
	request := json.patch(req(["students"], {}), [{"op": "replace", "path": "/request/profile", "value": "medium"}])
	decide(request).allow == true
}

test_profile_denied if {
	request := json.patch(req([], {}), [{"op": "replace", "path": "/request/profile", "value": "medium"}])
	d := decide(request)
	d.messages == ["profile medium is not allowed for group default"]
}

# A request that names no profile gets the hub's default: judged all the same.
test_default_profile_denied_saying_it_is_the_default if {
	request := json.patch(req(["students"], {}), [
		{"op": "replace", "path": "/request/profile", "value": "gpu"},
		{"op": "add", "path": "/request/profile_named", "value": false},
	])
	d := decide(request)
	d.allow == false
	d.reason == "profile"
	d.messages == [concat("", [
		"profile gpu (the hub's default, used when a request names none) is not allowed for group students; ",
		"name a profile you may select",
	])]
}

test_default_profile_allowed if {
	request := json.patch(req(["students"], {}), [
		{"op": "replace", "path": "/request/profile", "value": "small"},
		{"op": "add", "path": "/request/profile_named", "value": false},
	])
	decide(request).allow == true
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
