# CPU and memory: the pod's final limits and guarantees, within the
# maxima of the user's allowances.
package jupyterhub.spawn

import data.jupyterhub.lib.quantities

invalid_denials contains msg if {
	some key in numeric_keys
	value := pod[key]
	not is_number(value)
	not is_null(value)
	msg := sprintf("%s must be a number", [key])
}

limit_denials contains msg if {
	some key in limit_keys
	pod[key] == 0
	msg := sprintf("%s 0 would mean no limit; ask for a positive amount", [key])
}

limit_denials contains msg if {
	some key in numeric_keys
	sources[key] in user_sources
	not maximum[[key]]
	msg := sprintf("%s cannot be set: no maximum is configured for %s", [key, sources_text])
}

# --- every amount: CPU, memory and each extended resource, one pipeline ---

# An amount is named by its path in a quota and in usage: [key] for CPU and
# memory (cpu_limit, ..., mem_guarantee), ["extra_resources", name] for an
# extended resource, whose maximum and quota cover its limit and guarantee
# alike. The rules below (maxima, the charged allowance's maxima, what the
# quotas leave, quotas.rego; why a value was lowered, messages.rego) take a
# path, so every amount goes through the same ones.
amount_paths := pod_amount_paths | {["extra_resources", name] | some name in granted_resources}

# The amounts of this pod: CPU and memory, and each extended resource it holds some of.
pod_amount_paths := {[key] | some key in numeric_keys} | {["extra_resources", name] | some name in extra_names}

# Extended resources some allowance grants (the view lists them all).
granted_resources contains name if {
	some entry in allowances
	some name, _ in object.get(entry, "extra_resources", {})
}

# An amount an allowance grants: CPU and memory under max (cores or bytes,
# as numbers or strings), an extended resource under extra_resources (a
# number of units).
allowance_amount(entry, path) := quantities.as_number(path[0], entry.max[path[0]]) if count(path) == 1

allowance_amount(entry, path) := n if {
	path[0] == "extra_resources"
	n := object.get(entry, path, null)
	is_number(n)
}

# The most generous maximum for an amount over all allowances.
# (Rules rather than functions: OPA evaluates each once per decision.)
maximum[path] := max({n | some entry in allowances; n := allowance_amount(entry, path)}) if {
	some path in amount_paths
}

# The maximum of the allowances that bound this server (quotas.rego).
charged_maximum[path] := max({n |
	some name, entry in allowances
	bounds_the_server(name)
	n := allowance_amount(entry, path)
}) if {
	some path in amount_paths
}

# The most an amount may be: the charged allowances' maximum and what the quotas leave.
caps(path) := {n | n := charged_maximum[path]} | {n | n := quota_left(path)}

# --- CPU and memory: limits and guarantees ---

final_limit(key) := limit_within(key, caps([key]))

final_guarantee(key) := guarantee_within(key, caps([key]), {n | n := final_limit(limit_of[key])})

# An amount under the allowances alone, before any quota lowers it: what a
# group must grant to be charged for it (quotas.rego).
uncapped_amount[[key]] := uncapped[key] if some key in numeric_keys

uncapped_amount[["extra_resources", name]] := uncapped_extra(name) if some name in extra_names

# The value under the allowances alone, before any quota lowers it.
uncapped[key] := value if {
	some key in limit_keys
	value := uncapped_limit[key]
}

uncapped[key] := guarantee_within(key, {n | n := maximum[[key]]}, {n | n := uncapped_limit[limit_of[key]]}) if {
	some key, _ in limit_of
}

uncapped_limit[key] := limit_within(key, {n | n := maximum[[key]]}) if {
	some key in limit_keys
}

# A limit within bounds (a set; empty: none): unlimited (null) becomes the
# lowest bound; no bound leaves it as it is.
limit_within(key, bounds) := min(bounds) if {
	is_null(pod[key])
} else := min(bounds | {pod[key]}) if {
	is_number(pod[key])
}

# A guarantee within bounds and its limit. Kubernetes makes a missing
# guarantee equal to the limit, so that is what an unset one is judged as.
guarantee_within(key, bounds, limits) := min((({n | n := pod[key]; is_number(n)} | bounds) | limits))

asked_guarantee(key) := pod[key] if {
	is_number(pod[key])
} else := final_limit(limit_of[key])

overrides[key] := value if {
	some key in limit_keys
	value := final_limit(key)
	value != pod[key]
}

overrides[key] := value if {
	some key in object.keys(limit_of)
	value := final_guarantee(key)
	value != asked_guarantee(key)
}
