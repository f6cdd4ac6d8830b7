package system.authz_test

import data.system.authz

runtime := {"env": {"JHPOLICY_OPA_TOKEN": "0123456789abcdef0123"}}

test_hub_token_admitted if {
	authz.allow with input as {"identity": "0123456789abcdef0123", "path": ["v1", "data"]}
		with opa.runtime as runtime
}

test_other_token_refused if {
	not authz.allow with input as {"identity": "guess", "path": ["v1", "data"]}
		with opa.runtime as runtime
}

test_no_token_refused if {
	not authz.allow with input as {"path": ["v1", "data"]}
		with opa.runtime as runtime
}

test_short_or_missing_configured_token_refuses_everyone if {
	not authz.allow with input as {"identity": ""} with opa.runtime as {"env": {}}
	not authz.allow with input as {"identity": "short"} with opa.runtime as {"env": {"JHPOLICY_OPA_TOKEN": "short"}}
}

test_health_open_to_probes if {
	authz.allow with input as {"method": "GET", "path": ["health"]} with opa.runtime as runtime
}

test_only_health_is_open if {
	not authz.allow with input as {"method": "GET", "path": ["v1", "data", "jhpolicy"]} with opa.runtime as runtime
	not authz.allow with input as {"method": "PUT", "path": ["health"]} with opa.runtime as runtime
}
