# METADATA
# title: What the user is told
# description: |
#   What the user is told: which values were lowered, from what, and why
#   (the allowance that gave the most, or the quota that leaves less).
package jupyterhub.spawn.messages

import data.jupyterhub.lib.quantities
import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.given
import data.jupyterhub.spawn.limits
import data.jupyterhub.spawn.quotas

# METADATA
# title: from_text
# description: |
#   Where a value came from, as the user is told; nothing for their own
#   request.
from_text(key) := "" if {
	given.sources[key] == "request"
} else := sprintf(" (%s)", [_source_names[given.sources[key]]]) if {
	_source_names[given.sources[key]]
} else := ""

_source_names := {
	"config": "the hub's default",
	"group_overrides": "your group's settings",
	"profile": "the profile",
	"profile_option": "the profile option",
	"unlisted_choice": "your profile option choice",
	"limit": "its limit",
}

# METADATA
# title: lowered
# description: |
#   Values that were set somewhere and lowered. A guarantee nobody set
#   follows its limit; lowering it is in the decision, but not worth a
#   message.
# scope: document
lowered contains msg if {
	some key in given.numeric_keys
	got := limits.overrides[key]
	asked := given.pod[key]
	_set_somewhere(key)
	msg := sprintf(
		"%s %s%s lowered to %s: %s",
		[key, quantities.show(key, asked), from_text(key), quantities.show(key, got), _lowered_because(key, got)],
	)
}

lowered contains msg if {
	some key in given.extra_keys
	some resource, got in limits.overrides[key]
	not given.sources[key][resource] == "limit"
	asked := given.pod[key][resource]
	msg := sprintf(
		"%s %s %v%s lowered to %v: %s",
		[key, resource, asked, _extra_from_text(key, resource), got, _extra_lowered_because(resource, got)],
	)
}

_set_somewhere(key) if {
	key in given.limit_keys
} else if {
	is_number(given.pod[key])
	not given.sources[key] == "limit"
}

_extra_from_text(key, resource) := "" if {
	given.sources[key][resource] == "request"
} else := sprintf(" (%s)", [_source_names[given.sources[key][resource]]]) if {
	_source_names[given.sources[key][resource]]
} else := ""

_lowered_because(key, got) := sprintf("the most for %s", [concat(", ", _providing_entries(key, got))]) if {
	got == limits.charged_maximum[key]
} else := _quota_clamp_text(key) if {
	got == quotas.quota_left(key)
} else := sprintf("a guarantee cannot exceed %s", [given.limit_of[key]])

_extra_lowered_because(resource, got) := sprintf(
	"the most for %s",
	[concat(", ", _extra_providers(resource, got))],
) if {
	got == limits.charged_extra_maximum[resource]
} else := _extra_clamp_text(resource)

_extra_providers(resource, value) := sort({name |
	some name, entry in allowances.entries
	quotas.bounds_the_server(name)
	entry.extra_resources[resource] == value
})

# The allowances whose maximum for key is value, to name them to the user.
_providing_entries(key, value) := sort({name |
	some name, entry in allowances.entries
	quotas.bounds_the_server(name)
	quantities.as_number(key, entry.max[key]) == value
})

# The binding quota for a lowered value: "the quota of gpu-users (6 of 8 CPU (limits) in use)".
_quota_clamp_text(key) := sprintf("what the quota leaves (%s)", [texts[0]]) if {
	texts := sort({quotas.holds_text(scope, key) |
		some scope in quotas.scopes(quotas.charge)
		quotas.left(scope, key) == quotas.quota_left(key)
	})
}

_extra_clamp_text(resource) := sprintf("what the quota leaves (%s)", [texts[0]]) if {
	texts := sort({quotas.holds_text(scope, resource) |
		some scope in quotas.scopes(quotas.charge)
		floor(quotas.extra_left(scope, resource)) == quotas.extra_quota_left(resource)
	})
}
