# METADATA
# title: Only the hub may use OPA
# description: |
#   Loaded with `opa run --authentication=token --authorization=basic`.
#   The hub sends JHPOLICY_OPA_TOKEN as a bearer token; OPA reads the same
#   token from its environment (both come from one Kubernetes Secret).
package system.authz

default allow := false

allow if {
	expected := object.get(opa.runtime().env, "JHPOLICY_OPA_TOKEN", "")
	count(expected) >= 16
	input.identity == expected
}

# The kubelet's liveness and readiness probes carry no token.
allow if {
	input.method == "GET"
	input.path == ["health"]
}
