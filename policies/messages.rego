# METADATA
# title: What the user is told
# description: |
#   What the user is told: which values were lowered, from what, and why
#   (the allowance that gave the most, or the quota that leaves less).
package jupyterhub.spawn.messages

import data.jupyterhub.lib.quantities
import data.jupyterhub.spawn.given
import data.jupyterhub.spawn.limits
import data.jupyterhub.spawn.quotas
import data.jupyterhub.spawn.resources

# METADATA
# title: from_text
# description: |
#   Where a value came from (its path in input.sources: ["image"],
#   ["cpu_limit"], ["extra_resource_limits", name]), as the user is told;
#   nothing for their own request.
from_text(path) := "" if {
	object.get(given.sources, path, null) == "request"
} else := sprintf(" (%s)", [_source_names[object.get(given.sources, path, null)]]) if {
	_source_names[object.get(given.sources, path, null)]
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
	some key, got in limits.overrides
	asked := given.pod[key]
	_set_somewhere(key) # CPU and memory only: an extended resource's override is an object, below
	msg := sprintf(
		"%s %s%s lowered to %s: %s",
		[key, quantities.show(key, asked), from_text([key]), quantities.show(key, got), _lowered_because([key], got)],
	)
}

lowered contains msg if {
	some key, amounts in limits.overrides
	some resource, got in amounts # extended resources only: CPU and memory overrides are numbers
	not given.sources[key][resource] == "limit"
	asked := given.pod[key][resource]
	msg := sprintf(
		"%s %s %v%s lowered to %v: %s",
		[key, resource, asked, from_text([key, resource]), got, _lowered_because(["extra_resources", resource], got)],
	)
}

_set_somewhere(key) if {
	key in given.limit_keys
} else if {
	is_number(given.pod[key])
	not given.sources[key] == "limit"
}

# Why an amount (its path, resources.rego) was lowered to got: the
# most the charged allowances grant, what the quotas leave, or, for a
# guarantee, its limit.
_lowered_because(path, got) := sprintf("the most for %s", [concat(", ", _providing_entries(path, got))]) if {
	got == limits.charged_maximum[path]
} else := _quota_clamp_text(path) if {
	got == quotas.quota_left(path)
} else := sprintf("a guarantee cannot exceed %s", [given.limit_of[path[0]]])

# The allowances whose maximum for an amount is value, to name them to the user.
_providing_entries(path, value) := sort({name |
	some name in quotas.bounding
	resources.granted_by(name, path) == value
})

# The binding quota for a lowered amount: "the quota of gpu-users (6 of 8
# CPU (limits) in use)". (The least left is bound first: with
# `quotas.whole(path, quotas.left(scope, path)) == quotas.quota_left(path)`
# in one expression, OPA 1.22.3 reports conflicting values of left, as if it
# were called with path unbound.)
_quota_clamp_text(path) := sprintf("what the quota leaves (%s)", [texts[0]]) if {
	least := quotas.quota_left(path)
	texts := sort({quotas.holds_text(scope, path) |
		some scope in quotas.scopes(quotas.charge)
		quotas.whole(path, quotas.left(scope, path)) == least
	})
}
