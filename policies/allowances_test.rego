# Tests of allowances.rego; the helpers (cfg, req, decide, ...) are in spawn_test.rego.
package jupyterhub.spawn_test

import data.jupyterhub.spawn

test_unconfigured_group_gets_default if {
	d := decide(req(["unknown-group"], {"image": "quay.io/jupyter/minimal-notebook:x"}))
	d.allow == true
}

test_most_generous_group_wins if {
	d := decide(req(["students", "gpu"], {"cpu_limit": 6, "mem_limit": 3 * gib}))
	d.overrides == {}
	d.allow == true
}

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

test_no_allowance_names_you if {
	d := spawn.decision with input as req([], {"image": "x"}) with data.jhpolicy as {}
	"image x is not allowed for you; allowed images: none" in d.messages
}
