# METADATA
# title: Extended resources (GPUs)
# description: |
#   Extended resources (GPUs and the like) under the user's allowances
#   alone: which the pod holds, their maxima, the refusals of what no
#   allowance grants. The amounts the server gets are in limits.rego.
package jupyterhub.spawn.extended_resources

import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.given

# METADATA
# title: invalid_denials
# description: |
#   Refusals of malformed values of the pod.
# scope: document
invalid_denials contains msg if {
	some key in given.extra_keys
	not is_object(given.pod[key])
	msg := sprintf("%s must be an object of resource name to amount", [key])
}

invalid_denials contains msg if {
	some key in given.extra_keys
	some resource, amount in given.pod[key]
	not is_number(amount)
	msg := sprintf("%s: %s must be a number", [key, resource])
}

# METADATA
# title: limit_denials
# description: |
#   Refusals of values no allowance grants.
limit_denials contains msg if {
	some resource in extra_names
	not extra_maximum[resource]
	msg := sprintf("%s is not available to %s", [resource, allowances.sources_text])
}

# METADATA
# title: extra_names
# description: |
#   Extended resources the pod would hold some of.
extra_names contains resource if {
	some key in given.extra_keys
	some resource, amount in given.pod[key]
	amount != 0
}

# METADATA
# title: extra_maximum
# description: |
#   The most of each extended resource the allowances that apply grant
#   (undefined for a resource none grants): what a pod may ask for, and what
#   the allowance view shows.
extra_maximum[resource] := max({value |
	some entry in allowances.entries
	value := entry.extra_resources[resource]
	is_number(value)
}) if {
	some entry in allowances.entries
	some resource, _ in object.get(entry, "extra_resources", {})
}

# METADATA
# title: uncapped_extra
# description: |
#   The most the pod asks for of a resource, within the allowances' maximum
#   (before quotas): what a group must grant to be charged for it.
uncapped_extra(resource) := min({
	max({n | some key in given.extra_keys; n := given.pod[key][resource]}),
	extra_maximum[resource],
})
