# What a decision is given: the input (the spawn the hub would run, who
# asks, what is in use) and the admin's data (data.jhpolicy), each read in
# one place with what an absent or malformed value means, and the spawner
# attributes the policy decides. Every other file of the package reads
# them from here; this one reads no other.
package jupyterhub.spawn

# The admin's data (data.json); an absent or malformed one grants nothing.
default config := {}

config := data.jhpolicy if is_object(data.jhpolicy)

requested := object.get(input, ["request", "overrides"], {})

pod := object.get(input, "pod", {})

sources := object.get(input, "sources", {})

# The keys this policy knows how to decide.
handled_keys := {
	"image",
	"cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee",
	"extra_resource_limits", "extra_resource_guarantees",
}

limit_keys := {"cpu_limit", "mem_limit"}

# Each guarantee and the limit it may not exceed.
limit_of := {
	"cpu_guarantee": "cpu_limit",
	"mem_guarantee": "mem_limit",
}

numeric_keys := {"cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee"}

extra_keys := {"extra_resource_limits", "extra_resource_guarantees"}

# Values the user chose rather than the admin: a key needs a configured
# maximum before a user may set it.
user_sources := {"request", "unlisted_choice"}

# --- quotas (quotas.rego) and lifetimes (lifetimes.rego) in the data ---

quota_config := object_or_empty(object.get(config, "quotas", {}))

usage := object_or_empty(object.get(input, "usage", {}))

quota_keys := {"servers", "cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee"}

# The admin's order for charging a server (quotas.rego); a malformed one is
# refused by the data checks and orders nothing here.
default charge_order := []

charge_order := quota_config.charge_order if is_string_list(quota_config.charge_order)

lifetime_kinds := {"idle", "max_age"}

lifetime_config := object_or_empty(object.get(config, "lifetimes", {}))

lifetime_rules := object_or_empty(object.get(lifetime_config, "extra_resources", {}))

# --- shapes ---

object_or_empty(value) := value if {
	is_object(value)
} else := {}

is_string_list(value) if {
	is_array(value)
	every item in value {
		is_string(item)
	}
}
