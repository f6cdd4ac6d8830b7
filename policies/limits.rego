# The values the server gets: each CPU, memory and extended resource amount
# within the maxima of the allowances that bound the server (charged_maximum)
# and what its quotas leave (quotas.rego), as overrides of input.pod.
package jupyterhub.spawn

import data.jupyterhub.lib.quantities

# --- CPU and memory ---

# The most a value may be: the allowances' maximum and what the quotas leave.
_caps(key) := {n | n := charged_maximum[key]} | {n | n := quota_left(key)}

# The maximum of the allowances that bound this server (quotas.rego).
charged_maximum[key] := max({value |
	some name, entry in allowances
	bounds_the_server(name)
	value := quantities.as_number(key, entry.max[key])
}) if {
	some key in numeric_keys
}

_final_limit(key) := limit_within(key, _caps(key))

_final_guarantee(key) := guarantee_within(key, _caps(key), {n | n := _final_limit(limit_of[key])})

_asked_guarantee(key) := pod[key] if {
	is_number(pod[key])
} else := _final_limit(limit_of[key])

# --- extended resources ---

# The most of a resource: the charged group's allowance and what the quotas leave.
_extra_cap(resource) := min({n | n := charged_extra_maximum[resource]} | {n | n := extra_quota_left(resource)})

charged_extra_maximum[resource] := max({value |
	some name, entry in allowances
	bounds_the_server(name)
	value := entry.extra_resources[resource]
	is_number(value)
}) if {
	some resource in extra_names
}

# --- the overrides: what differs from input.pod ---

overrides[key] := value if {
	some key in limit_keys
	value := _final_limit(key)
	value != pod[key]
}

overrides[key] := value if {
	some key in object.keys(limit_of)
	value := _final_guarantee(key)
	value != _asked_guarantee(key)
}

overrides[key] := lowered if {
	some key in extra_keys
	lowered := {resource: _extra_cap(resource) |
		some resource, amount in pod[key]
		amount > _extra_cap(resource)
	}
	count(lowered) > 0
}
