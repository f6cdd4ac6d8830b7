# METADATA
# description: |
#   Benchmark 12's floor: the least a policy must evaluate to decide
#   benchmark 11's student input (one allowance applies, 8 CPUs asked):
#   the input's version and keys, the applying allowance's data checked,
#   the image against its globs, each amount clamped to its maximum, one
#   message each. No quotas, lifetimes, extended resources, profiles,
#   requester allowances or help: what the shipped policy does beyond this
#   is what those cost. Amounts are read as the shipped policy reads them
#   (the library's quantities.as_number, loaded with this file).
package floor

import data.jupyterhub.lib.quantities

_amount_keys := {"cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee"}

_entries[name] := data.jhpolicy.groups[name] if some name in input.user.groups

_problems contains name if {
	some name, entry in _entries
	count(object.keys(entry) - {"images", "max", "profiles"}) > 0
}

_problems contains name if {
	some name, entry in _entries
	some key, value in entry.max
	not quantities.as_number(key, value) > 0
}

_problems contains name if {
	some name, entry in _entries
	some pattern in entry.images
	not is_string(pattern)
}

_maximum[key] := max({quantities.as_number(key, entry.max[key]) | some entry in _entries}) if some key in _amount_keys

_image_allowed if {
	some entry in _entries
	some pattern in entry.images
	glob.match(pattern, ["/"], input.pod.image)
}

_overrides[key] := _maximum[key] if {
	some key in _amount_keys
	input.pod[key] > _maximum[key]
}

_messages contains msg if {
	some key, value in _overrides
	msg := sprintf("%s lowered from %v to %v", [key, input.pod[key], value])
}

# METADATA
# title: decision
# description: The floor's decision, in the shipped policy's contract (allow, overrides, messages).
# scope: document
default decision := {"allow": false, "overrides": {}, "messages": ["the spawn policy could not decide this request"]}

decision := {"allow": true, "overrides": _overrides, "messages": sort(_messages)} if {
	input.version == 2
	count(object.keys(input.request.overrides) - (_amount_keys | {"image"})) == 0
	count(_problems) == 0
	_image_allowed
}
