# How long a server may live: idle at most ("idle") and in all ("max_age"),
# decided at spawn and kept with the server; jupyterhub-idle-culler 2.0 stops
# it through jhpolicy's arbiter (jhpolicy.core.lifetime). Each allowance entry
# that applies may set a lifetime, a group's jhpolicy_lifetime property
# (admin page) in place of its entry's; the user gets the most generous of
# those for each kind, as for maxima. data.jhpolicy.lifetimes.extra_resources
# shortens it for servers that hold an extended resource (any GPU: idle 1 h,
# 8 h at most), whatever the allowance says. A kind no source sets is not
# decided: the culler's own --timeout applies.
package jupyterhub.spawn

import data.jupyterhub.lib.quantities
import data.jupyterhub.lib.texts

lifetime_kinds := {"idle", "max_age"}

lifetime_config := object_or_empty(object.get(config, "lifetimes", {}))

lifetime_rules := object_or_empty(object.get(lifetime_config, "extra_resources", {}))

# The server's lifetime: {kind: {"seconds": n, "from": where}}, empty when
# nothing applies.
lifetime := lifetime_for(held_extra)

# What a server holding the extended resources `held` (a set of names) may live.
lifetime_for(held) := {kind: {"seconds": pair[0], "from": pair[1]} |
	some kind in lifetime_kinds
	pairs := {p | p := granted_lifetime[kind]} | resource_lifetimes(kind, held)
	pair := min(pairs) # undefined when empty: the kind is not decided
}

# The most generous over the allowances that set this kind ([seconds,
# source]); undefined when none does (max of an empty set).
granted_lifetime[kind] := max(pairs) if {
	some kind in lifetime_kinds
	pairs := {[seconds, name] |
		some name, setting in lifetime_settings
		seconds := quantities.duration_seconds(setting[kind])
	}
}

resource_lifetimes(kind, held) := {[seconds, sprintf("servers holding %s", [resource])] |
	some resource in held
	seconds := quantities.duration_seconds(lifetime_rules[resource][kind])
}

# Source name -> its lifetime setting: each allowance's that applies, a
# group's jhpolicy_lifetime property in place of its entry's, and a group
# of the user's with the property but no entry.
lifetime_settings[name] := entry.lifetime if {
	some name, entry in allowances
	not name in property_sources
}

lifetime_settings[sprintf("group %s", [group])] := input.groups[group].properties.jhpolicy_lifetime if {
	some group in input.user.groups
}

property_sources contains sprintf("group %s", [group]) if {
	some group in input.user.groups
	property_set(group)
}

property_set(group) if "jhpolicy_lifetime" in object.keys(object.get(input, ["groups", group, "properties"], {}))

# The extended resources the server holds once decided (a lowered amount
# counts as lowered; 0 holds nothing).
held_extra contains resource if {
	some key in extra_keys
	some resource, amount in pod[key]
	held := min({amount} | {n | n := overrides[key][resource]})
	held > 0
}

# --- the data's checks (data_checks.rego gathers them) ---

duration_text := `a whole number of seconds above 0 or a string like "90m", "2h" or "1d"`

lifetime_problems(path, setting) := {sprintf(`%s is not an object like {"idle": "2h", "max_age": "8h"}`, [path])} if {
	not is_object(setting)
} else := {texts.unknown_key_text(path, key, lifetime_kinds) |
	some key, _ in setting
	not key in lifetime_kinds
} | {sprintf("%s.%s %s is not %s", [path, kind, json.marshal(value), duration_text]) |
	some kind in lifetime_kinds
	value := setting[kind]
	not quantities.duration_seconds(value)
}

# The properties a decision reads (entries are checked with their allowance).
applying_lifetime_problems := lifetime_rules_problems | {p |
	some group in input.user.groups
	some p in lifetime_problems(
		sprintf("group %s property jhpolicy_lifetime", [group]),
		input.groups[group].properties.jhpolicy_lifetime,
	)
}

lifetime_rules_problems := ({texts.unknown_key_text("lifetimes", key, {"extra_resources"}) |
	some key, _ in lifetime_config
	key != "extra_resources"
} | {"lifetimes.extra_resources is not an object of resource name to lifetime" |
	value := lifetime_config.extra_resources
	not is_object(value)
}) | {p |
	some resource, setting in lifetime_rules
	some p in lifetime_problems(sprintf("lifetimes.extra_resources.%s", [resource]), setting)
}
