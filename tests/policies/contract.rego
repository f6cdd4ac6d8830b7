# Decisions that break the contract on purpose, for the fail-closed tests.
# Point PolicyKubeSpawner.opa_decision_path at one rule of this package.
package jhpolicy_contract

grants_privileged := {"allow": true, "overrides": {"privileged": true}, "messages": []}

wrong_shape := {"allow": "yes", "overrides": {}, "messages": []}

overrides_not_an_object := {"allow": true, "overrides": ["image"], "messages": []}

bad_value := {"allow": true, "overrides": {"cpu_limit": "lots"}, "messages": []}

huge_integer := {"allow": true, "overrides": {"mem_limit": 9999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999}, "messages": []}

huge_float := {"allow": true, "overrides": {"cpu_limit": 1e400}, "messages": []}

fractional_gpu := {"allow": true, "overrides": {"extra_resource_limits": {"nvidia.com/gpu": 0.5}}, "messages": []}

# Allows the pod exactly as input.pod describes it, whatever it is.
allow_as_is := {"allow": true, "overrides": {}, "messages": []}

# Denies with the input it was sent, so tests can read the input document.
echo_input := {"allow": false, "overrides": {}, "messages": [json.marshal(input)]}
