# Extended resources (GPUs and the like): amounts within the maxima of the
# user's allowances.
package jupyterhub.spawn

invalid_denials contains msg if {
	some key in extra_keys
	not is_object(pod[key])
	msg := sprintf("%s must be an object of resource name to amount", [key])
}

invalid_denials contains msg if {
	some key in extra_keys
	some resource, amount in pod[key]
	not is_number(amount)
	msg := sprintf("%s: %s must be a number", [key, resource])
}

limit_denials contains msg if {
	some resource in extra_names
	not maximum[["extra_resources", resource]]
	msg := sprintf("%s is not available to %s", [resource, sources_text])
}

# Extended resources the pod would hold some of.
extra_names contains resource if {
	some key in extra_keys
	some resource, amount in pod[key]
	amount != 0
}

# The most the pod asks for of a resource, within the allowances' maximum
# (before quotas): what a group must grant to be charged for it.
uncapped_extra(resource) := min({
	max({n | some key in extra_keys; n := pod[key][resource]}),
	maximum[["extra_resources", resource]],
})

# The most of a resource: the charged allowances' maximum and what the quotas leave.
extra_cap(resource) := min(caps(["extra_resources", resource]))

overrides[key] := lowered if {
	some key in extra_keys
	lowered := {resource: extra_cap(resource) |
		some resource, amount in pod[key]
		amount > extra_cap(resource)
	}
	count(lowered) > 0
}
