# METADATA
# title: The values the server gets
# description: |
#   The values the server gets: each CPU, memory and extended resource
#   amount within the maxima of the allowances that bound the server
#   (charged_maximum) and what its quotas leave (quotas.rego), as overrides
#   of input.pod.
package jupyterhub.spawn.limits

import data.jupyterhub.spawn.given
import data.jupyterhub.spawn.quotas
import data.jupyterhub.spawn.resources

# --- every amount (named by its path, resources.rego) ---

# METADATA
# title: charged_maximum
# description: |
#   The maximum for an amount (its path) of the allowances that bound this
#   server (quotas.bounding).
charged_maximum[path] := max({n |
	some name in quotas.bounding
	n := resources.granted_by(name, path)
}) if {
	some path in resources.amount_paths
}

# METADATA
# title: caps
# description: |
#   The most an amount may be: the charged allowances' maximum and what the
#   quotas leave (a set; empty: no bound).
caps(path) := {n | n := charged_maximum[path]} | {n | n := quotas.quota_left(path)}

# --- CPU and memory: limits and guarantees ---

_final_limit(key) := resources.limit_within(key, caps([key]))

_final_guarantee(key) := resources.guarantee_within(key, caps([key]), {n | n := _final_limit(given.limit_of[key])})

_asked_guarantee(key) := given.pod[key] if {
	is_number(given.pod[key])
} else := _final_limit(given.limit_of[key])

# --- extended resources: a limit and a guarantee under one cap ---

_extra_cap(resource) := min(caps(["extra_resources", resource]))

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
