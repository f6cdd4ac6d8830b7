# METADATA
# title: Server lifetimes
# description: |
#   How long a server may live: idle at most ("idle") and in all
#   ("max_age"), decided at spawn and kept with the server; jupyterhub-idle-
#   culler 2.0 stops it through jhpolicy's arbiter (jhpolicy.core.lifetime).
#   Each allowance entry that applies may set a lifetime, a group's
#   jhpolicy_lifetime property (admin page) in place of its entry's; the
#   user gets the most generous of those for each kind, as for maxima.
#   data.jhpolicy.lifetimes.extra_resources shortens it for servers that
#   hold an extended resource (any GPU: idle 1 h, 8 h at most), whatever the
#   allowance says. A kind no source sets is not decided: the culler's own
#   --timeout applies.
package jupyterhub.spawn.lifetimes

import data.jupyterhub.lib.quantities
import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.given
import data.jupyterhub.spawn.limits

# METADATA
# title: lifetime
# description: |
#   The server's lifetime: {kind: {"seconds": n, "from": where}}, empty when
#   nothing applies.
# scope: document
default lifetime := {}

# Worked out only where something sets a lifetime: most hubs set none, and
# every decision asks.
lifetime := lifetime_for(_held_extra) if _some_source

_some_source if some _ in _lifetime_settings

_some_source if some _ in given.lifetime_rules

# METADATA
# title: lifetime_for
# description: |
#   What a server holding the extended resources `held` (a set of names) may
#   live.
lifetime_for(held) := {kind: {"seconds": pair[0], "from": pair[1]} |
	some kind in given.lifetime_kinds
	pairs := {p | p := _granted_lifetime[kind]} | _resource_lifetimes(kind, held)
	pair := min(pairs) # undefined when empty: the kind is not decided
}

# The most generous over the allowances that set this kind ([seconds,
# source]); undefined when none does (max of an empty set).
_granted_lifetime[kind] := max(pairs) if {
	some kind in given.lifetime_kinds
	pairs := {[seconds, name] |
		some name, setting in _lifetime_settings
		seconds := quantities.duration_seconds(setting[kind])
	}
}

_resource_lifetimes(kind, held) := {[seconds, sprintf("servers holding %s", [resource])] |
	some resource in held
	seconds := quantities.duration_seconds(given.lifetime_rules[resource][kind])
}

# Source name -> its lifetime setting: each allowance's that applies, a
# group's jhpolicy_lifetime property in place of its entry's, and a group
# of the user's with the property but no entry.
_lifetime_settings[name] := entry.lifetime if {
	some name, entry in allowances.entries
	not name in _property_sources
}

_lifetime_settings[sprintf("group %s", [group])] := input.groups[group].properties.jhpolicy_lifetime if {
	some group in input.user.groups
}

_property_sources contains sprintf("group %s", [group]) if {
	some group in input.user.groups
	_property_set(group)
}

_property_set(group) if "jhpolicy_lifetime" in object.keys(object.get(input, ["groups", group, "properties"], {}))

# The extended resources the server holds once decided (a lowered amount
# counts as lowered; 0 holds nothing).
_held_extra contains resource if {
	some key in given.extra_keys
	some resource, amount in given.pod[key]
	held := min({amount} | {n | n := limits.overrides[key][resource]})
	held > 0
}
