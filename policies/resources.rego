# METADATA
# title: CPU and memory maxima
# description: |
#   CPU and memory under the user's allowances alone: each key's maximum,
#   the refusals of what no allowance grants, and the value before any quota
#   lowers it (uncapped: what a group must grant to be charged,
#   quotas.rego). The values the server gets are in limits.rego.
package jupyterhub.spawn.resources

import data.jupyterhub.lib.quantities
import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.given

# METADATA
# title: invalid_denials
# description: |
#   Refusals of malformed values of the pod.
invalid_denials contains msg if {
	some key in given.numeric_keys
	value := given.pod[key]
	not is_number(value)
	not is_null(value)
	msg := sprintf("%s must be a number", [key])
}

# METADATA
# title: limit_denials
# description: |
#   Refusals of values no allowance grants.
# scope: document
limit_denials contains msg if {
	some key in given.limit_keys
	given.pod[key] == 0
	msg := sprintf("%s 0 would mean no limit; ask for a positive amount", [key])
}

limit_denials contains msg if {
	some key in given.numeric_keys
	given.sources[key] in given.user_sources
	not maximum[key]
	msg := sprintf("%s cannot be set: no maximum is configured for %s", [key, allowances.sources_text])
}

# METADATA
# title: maximum
# description: |
#   The most generous maximum for key over all allowances, in cores or
#   bytes. (Rules rather than functions: OPA evaluates each once per
#   decision.)
maximum[key] := max({value |
	some entry in allowances.entries
	value := quantities.as_number(key, entry.max[key])
}) if {
	some key in given.numeric_keys
}

# METADATA
# title: uncapped
# description: |
#   The value under the allowances alone, before any quota lowers it: what a
#   group must grant to be charged for it (quotas.rego).
# scope: document
uncapped[key] := value if {
	some key in given.limit_keys
	value := _uncapped_limit[key]
}

uncapped[key] := guarantee_within(key, {n | n := maximum[key]}, {n | n := _uncapped_limit[given.limit_of[key]]}) if {
	some key, _ in given.limit_of
}

_uncapped_limit[key] := limit_within(key, {n | n := maximum[key]}) if {
	some key in given.limit_keys
}

# METADATA
# title: limit_within
# description: |
#   A limit within bounds (a set; empty: none): unlimited (null) becomes the
#   lowest bound; no bound leaves it as it is.
limit_within(key, bounds) := min(bounds) if {
	is_null(given.pod[key])
} else := min(bounds | {given.pod[key]}) if {
	is_number(given.pod[key])
}

# METADATA
# title: guarantee_within
# description: |
#   A guarantee within bounds and its limit. Kubernetes makes a missing
#   guarantee equal to the limit, so that is what an unset one is judged as.
guarantee_within(key, bounds, limits) := min((({n | n := given.pod[key]; is_number(n)} | bounds) | limits))
