# METADATA
# title: What a decision is given
# description: |
#   What a decision is given: the input (the spawn the hub would run, who
#   asks, what is in use) and the admin's data (data.jhpolicy), each read in
#   one place with what an absent or malformed value means, and the spawner
#   attributes the policy decides. Every other file of the package reads
#   them from here; this one reads no other.
package jupyterhub.spawn.given

# METADATA
# title: config
# description: |
#   The admin's data (data.json); an absent or malformed one grants nothing.
# scope: document
default config := {}

config := data.jhpolicy if is_object(data.jhpolicy)

# METADATA
# title: requested
# description: |
#   The request's overrides (input.request.overrides), {} when absent.
requested := object.get(input, ["request", "overrides"], {})

# METADATA
# title: pod
# description: |
#   The pod the spawn would give (input.pod), {} when absent.
pod := object.get(input, "pod", {})

# METADATA
# title: sources
# description: |
#   Where each of the pod's values came from (input.sources), {} when
#   absent.
sources := object.get(input, "sources", {})

# METADATA
# title: handled_keys
# description: |
#   The keys this policy knows how to decide.
handled_keys := {
	"image",
	"cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee",
	"extra_resource_limits", "extra_resource_guarantees",
}

# METADATA
# title: limit_keys
# description: |
#   The CPU and memory limits the policy decides.
limit_keys := {"cpu_limit", "mem_limit"}

# METADATA
# title: limit_of
# description: |
#   Each guarantee and the limit it may not exceed.
limit_of := {
	"cpu_guarantee": "cpu_limit",
	"mem_guarantee": "mem_limit",
}

# METADATA
# title: numeric_keys
# description: |
#   The CPU and memory limits and guarantees the policy decides.
numeric_keys := {"cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee"}

# METADATA
# title: extra_keys
# description: |
#   The pod's extended resources: limits and guarantees, each an object of
#   resource name to amount.
extra_keys := {"extra_resource_limits", "extra_resource_guarantees"}

# METADATA
# title: extra_names
# description: |
#   The extended resources the pod would hold some of.
extra_names contains resource if {
	some key in extra_keys
	some resource, amount in pod[key]
	amount != 0
}

# METADATA
# title: user_sources
# description: |
#   Values the user chose rather than the admin: a key needs a configured
#   maximum before a user may set it.
user_sources := {"request", "unlisted_choice"}

# METADATA
# title: chosen_keys
# description: |
#   The CPU and memory keys whose values the user chose (user_sources): what
#   needs a configured maximum, and what a pool must grant to be charged.
#   Worked out once, not asked of every allowance.
chosen_keys contains key if {
	some key in numeric_keys
	sources[key] in user_sources
}

# --- quotas (quotas.rego) and lifetimes (lifetimes.rego) in the data ---

# METADATA
# title: quota_config
# description: |
#   data.jhpolicy.quotas, {} when absent or not an object (the data checks
#   refuse a malformed one).
quota_config := object_or_empty(object.get(config, "quotas", {}))

# METADATA
# title: usage
# description: |
#   What is in use (input.usage, kept by jhpolicy's ledger), {} when absent.
usage := object_or_empty(object.get(input, "usage", {}))

# METADATA
# title: quota_keys
# description: |
#   The amounts a quota can set besides extended resources.
quota_keys := {"servers", "cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee"}

# METADATA
# title: group_quota
# description: |
#   A group's quota ({"member": {...}, "group": {...}}) and where it is set:
#   ["property", its jhpolicy_quota property] when it has one, whatever its
#   value (null included: the data checks refuse a malformed one, which
#   never falls back to the data), else ["data", its entry in
#   data.jhpolicy.quotas.groups]. Undefined for a group with neither.
group_quota(group) := ["property", quota] if {
	quota := input.groups[group].properties.jhpolicy_quota
} else := ["data", quota_config.groups[group]]

# METADATA
# title: charge_order
# description: |
#   The admin's order for charging a server (quotas.rego); a malformed one
#   is refused by the data checks and orders nothing here.
# scope: document
default charge_order := []

charge_order := quota_config.charge_order if is_string_list(quota_config.charge_order)

# METADATA
# title: lifetime_kinds
# description: |
#   The lifetimes a server can have: idle at most, and in all.
lifetime_kinds := {"idle", "max_age"}

# METADATA
# title: lifetime_config
# description: |
#   data.jhpolicy.lifetimes, {} when absent or not an object.
lifetime_config := object_or_empty(object.get(config, "lifetimes", {}))

# METADATA
# title: lifetime_rules
# description: |
#   data.jhpolicy.lifetimes.extra_resources: a resource's name to the
#   lifetime of servers holding it.
lifetime_rules := object_or_empty(object.get(lifetime_config, "extra_resources", {}))

# --- shapes ---

# METADATA
# title: object_or_empty
# description: |
#   `value` when it is an object, else {}.
object_or_empty(value) := value if {
	is_object(value)
} else := {}

# METADATA
# title: is_string_list
# description: |
#   `value` is a list of strings.
is_string_list(value) if {
	is_array(value)
	every item in value {
		is_string(item)
	}
}
