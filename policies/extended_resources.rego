# Extended resources (GPUs and the like) under the user's allowances alone:
# which the pod holds, their maxima, the refusals of what no allowance
# grants. The amounts the server gets are in limits.rego.
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
	not _extra_maximum[resource]
	msg := sprintf("%s is not available to %s", [resource, sources_text])
}

# Extended resources the pod would hold some of.
extra_names contains resource if {
	some key in extra_keys
	some resource, amount in pod[key]
	amount != 0
}

_extra_maximum[resource] := max({value |
	some entry in allowances
	value := entry.extra_resources[resource]
	is_number(value)
}) if {
	some resource in extra_names
}

# The most the pod asks for of a resource, within the allowances' maximum
# (before quotas): what a group must grant to be charged for it.
uncapped_extra(resource) := min({max({n | some key in extra_keys; n := pod[key][resource]}), _extra_maximum[resource]})
