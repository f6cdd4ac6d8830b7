# METADATA
# title: Amounts under the allowances
# description: |
#   Every amount (CPU, memory, each extended resource such as GPUs) under
#   the user's allowances alone, through one pipeline: what each allowance
#   grants, the maximum, the refusals of what no allowance grants, and the
#   value before any quota lowers it (uncapped_amount: what a group must
#   grant to be charged, quotas.rego). The values the server gets are in
#   limits.rego.
package jupyterhub.spawn.resources

import data.jupyterhub.lib.quantities
import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.given

# METADATA
# title: invalid_denials
# description: |
#   Refusals of malformed values of the pod.
# scope: document
invalid_denials contains msg if {
	some key in given.numeric_keys
	value := given.pod[key]
	not is_number(value)
	not is_null(value)
	msg := sprintf("%s must be a number", [key])
}

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
# scope: document
limit_denials contains msg if {
	some key in given.limit_keys
	given.pod[key] == 0
	msg := sprintf("%s 0 would mean no limit; ask for a positive amount", [key])
}

limit_denials contains msg if {
	some key in given.chosen_keys
	not maximum[[key]]
	msg := sprintf("%s cannot be set: no maximum is configured for %s", [key, allowances.sources_text])
}

limit_denials contains msg if {
	some resource in given.extra_names
	not maximum[["extra_resources", resource]]
	msg := sprintf("%s is not available to %s", [resource, allowances.sources_text])
}

# --- every amount: CPU, memory and each extended resource, one pipeline ---

# An amount is named by its path in a quota and in usage: [key] for CPU and
# memory (cpu_limit, ..., mem_guarantee), ["extra_resources", name] for an
# extended resource, whose maximum and quota cover its limit and guarantee
# alike. The rules that take a path (here granted_by, maximum,
# uncapped_amount; quotas.quota_amount, quotas.left, quotas.quota_left;
# limits.charged_maximum, limits.caps; why a value was lowered, in
# messages.rego) are the same for every amount. A function of a path
# matches it in its heads ([key], ["extra_resources", name]), where OPA picks
# the body without evaluating an expression (a test in the body cost 3-6 %
# of a decision's expressions, measured); Regal v0.38.1 reads such a head's
# variables as undeclared output variables (.regal/config.yaml).

# METADATA
# title: pod_amount_paths
# description: |
#   The amounts of this pod: CPU and memory, and each extended resource it
#   holds some of.
pod_amount_paths := {[key] | some key in given.numeric_keys} | {["extra_resources", name] |
	some name in given.extra_names
}

# METADATA
# title: amount_paths
# description: |
#   Every amount a decision or the view works out: CPU and memory, each
#   extended resource the pod holds some of, and each one an allowance that
#   applies names (the view lists them all).
amount_paths := pod_amount_paths | {["extra_resources", resource] |
	some entry in allowances.entries
	some resource, _ in object.get(entry, "extra_resources", {})
}

# METADATA
# title: allowance_amount
# description: |
#   An amount an allowance entry grants: CPU and memory under max (cores or
#   bytes, as numbers or strings), an extended resource under
#   extra_resources (a number of units). Undefined where it grants none.
# scope: document
allowance_amount(entry, [key]) := quantities.as_number(key, entry.max[key])

allowance_amount(entry, ["extra_resources", resource]) := n if {
	n := entry.extra_resources[resource]
	is_number(n)
}

# METADATA
# title: granted_by
# description: |
#   An amount the allowance that applies named `name` grants, as
#   allowance_amount reads it. (By the allowance's name: OPA keeps a function's
#   result for its arguments, and a name is cheaper to key on than an entry
#   that may list thousands of images.)
# scope: document
granted_by(name, [key]) := quantities.as_number(key, allowances.entries[name].max[key])

granted_by(name, ["extra_resources", resource]) := n if {
	n := allowances.entries[name].extra_resources[resource]
	is_number(n)
}

# METADATA
# title: maximum
# description: |
#   The most generous maximum for an amount over all allowances that apply,
#   in cores, bytes or units; undefined where none grants it.
maximum[path] := max({n | some name, _ in allowances.entries; n := granted_by(name, path)}) if {
	some path in amount_paths
}

# METADATA
# title: uncapped_amount
# description: |
#   An amount of the pod (pod_amount_paths) under the allowances alone,
#   before any quota lowers it: what a group must grant to be charged for it
#   (quotas.rego). An extended resource: the most the pod asks for, within
#   its maximum.
# scope: document
uncapped_amount[[key]] := uncapped[key] if some key in given.numeric_keys

uncapped_amount[["extra_resources", name]] := min({
	max({n | some key in given.extra_keys; n := given.pod[key][name]}),
	maximum[["extra_resources", name]],
}) if {
	some name in given.extra_names
}

# METADATA
# title: uncapped
# description: |
#   A CPU or memory value under the allowances alone, before any quota
#   lowers it.
# scope: document
uncapped[key] := value if {
	some key in given.limit_keys
	value := _uncapped_limit[key]
}

uncapped[key] := guarantee_within(key, {n | n := maximum[[key]]}, {n | n := _uncapped_limit[given.limit_of[key]]}) if {
	some key, _ in given.limit_of
}

_uncapped_limit[key] := limit_within(key, {n | n := maximum[[key]]}) if {
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
