# CPU and memory: the pod's final limits and guarantees, within the
# maxima of the user's allowances.
package jupyterhub.spawn

denials contains msg if {
	some key in numeric_keys
	value := pod[key]
	not is_number(value)
	not is_null(value)
	msg := sprintf("%s must be a number", [key])
}

denials contains msg if {
	some key in limit_keys
	pod[key] == 0
	msg := sprintf("%s 0 would mean no limit; ask for a positive amount", [key])
}

denials contains msg if {
	some key in numeric_keys
	sources[key] in user_sources
	not maximum(key)
	msg := sprintf("%s cannot be set: no maximum is configured for %s", [key, sources_text])
}

# The most generous maximum for key over all allowances, in cores or bytes.
maximum(key) := max({value |
	some entry in allowances
	value := as_number(key, entry.max[key])
})

as_number(_, value) := value if is_number(value)

as_number(key, value) := units.parse(value) if {
	startswith(key, "cpu_")
	is_string(value)
}

# Memory in data: bytes, "2G" or "2Gi", both 1024-based as in JupyterHub.
as_number(key, value) := units.parse_bytes(concat("", [value, "i"])) if {
	startswith(key, "mem_")
	regex.match(`^[0-9]+(\.[0-9]+)?[KMGT]$`, value)
}

as_number(key, value) := units.parse_bytes(value) if {
	startswith(key, "mem_")
	regex.match(`^[0-9]+(\.[0-9]+)?[KMGT]i$`, value)
}

# The most a value may be: the allowances' maximum and what the quotas leave.
cap(key) := min({n | n := maximum(key)} | {n | n := quota_left(key)})

# A limit: within the cap; unlimited (null) becomes the cap.
final_limit(key) := cap(key) if {
	is_null(pod[key])
} else := min([pod[key], cap(key)]) if {
	is_number(pod[key])
} else := pod[key] if {
	is_number(pod[key])
}

# A guarantee: within its maximum and its limit. Kubernetes makes a missing
# guarantee equal to the limit, so that is what an unset one is judged as.
asked_guarantee(key) := pod[key] if {
	is_number(pod[key])
} else := final_limit(limit_of[key])

final_guarantee(key) := min(guarantee_bounds(key))

# Whichever of these are defined: no cap, or no limit, bounds nothing.
guarantee_bounds(key) := ({v | v := asked_guarantee(key)} | {v | v := cap(key)}) | {v | v := final_limit(limit_of[key])}

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
