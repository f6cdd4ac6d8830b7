# METADATA
# title: The values the server gets
# description: |
#   The values the server gets: each CPU, memory and extended resource
#   amount within the maxima of the allowances that bound the server
#   (charged_maximum) and what its quotas leave (quotas.rego), as overrides
#   of input.pod.
package jupyterhub.spawn.limits

import data.jupyterhub.lib.quantities
import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.extended_resources
import data.jupyterhub.spawn.given
import data.jupyterhub.spawn.quotas
import data.jupyterhub.spawn.resources

# --- CPU and memory ---

# The most a value may be: the allowances' maximum and what the quotas leave.
_caps(key) := {n | n := charged_maximum[key]} | {n | n := quotas.quota_left(key)}

# METADATA
# title: charged_maximum
# description: |
#   The maximum of the allowances that bound this server (quotas.rego).
charged_maximum[key] := max({value |
	some name, entry in allowances.entries
	quotas.bounds_the_server(name)
	value := quantities.as_number(key, entry.max[key])
}) if {
	some key in given.numeric_keys
}

_final_limit(key) := resources.limit_within(key, _caps(key))

_final_guarantee(key) := resources.guarantee_within(key, _caps(key), {n | n := _final_limit(given.limit_of[key])})

_asked_guarantee(key) := given.pod[key] if {
	is_number(given.pod[key])
} else := _final_limit(given.limit_of[key])

# --- extended resources ---

# The most of a resource: the charged group's allowance and what the quotas leave.
_extra_cap(resource) := min({n | n := charged_extra_maximum[resource]} | {n | n := quotas.extra_quota_left(resource)})

# METADATA
# title: charged_extra_maximum
# description: |
#   The extended-resource maxima of the allowances that bound this server
#   (quotas.bounds_the_server).
charged_extra_maximum[resource] := max({value |
	some name, entry in allowances.entries
	quotas.bounds_the_server(name)
	value := entry.extra_resources[resource]
	is_number(value)
}) if {
	some resource in extended_resources.extra_names
}

# --- the overrides: what differs from input.pod ---

# METADATA
# title: overrides
# description: |
#   The changes to input.pod the decision makes: each value lowered to what
#   the allowances and quotas allow.
# scope: document
overrides[key] := value if {
	some key in given.limit_keys
	value := _final_limit(key)
	value != given.pod[key]
}

overrides[key] := value if {
	some key in object.keys(given.limit_of)
	value := _final_guarantee(key)
	value != _asked_guarantee(key)
}

overrides[key] := lowered if {
	some key in given.extra_keys
	lowered := {resource: _extra_cap(resource) |
		some resource, amount in given.pod[key]
		amount > _extra_cap(resource)
	}
	count(lowered) > 0
}
