# What the user is told: which values were lowered, from what, and why.
package jupyterhub.spawn

import data.jupyterhub.lib.quantities

# Where a value came from, as the user is told; nothing for their own request.
from_text(key) := "" if {
	sources[key] == "request"
} else := sprintf(" (%s)", [source_names[sources[key]]]) if {
	source_names[sources[key]]
} else := ""

source_names := {
	"config": "the hub's default",
	"group_overrides": "your group's settings",
	"profile": "the profile",
	"profile_option": "the profile option",
	"unlisted_choice": "your profile option choice",
	"limit": "its limit",
}

# Values that were set somewhere and lowered. A guarantee nobody set follows
# its limit; lowering it is in the decision, but not worth a message.
messages contains msg if {
	some key in numeric_keys
	got := overrides[key]
	asked := pod[key]
	set_somewhere(key)
	msg := sprintf(
		"%s %s%s lowered to %s: %s",
		[key, quantities.show(key, asked), from_text(key), quantities.show(key, got), lowered_because(key, got)],
	)
}

messages contains msg if {
	some key in extra_keys
	some resource, got in overrides[key]
	not sources[key][resource] == "limit"
	asked := pod[key][resource]
	msg := sprintf(
		"%s %s %v%s lowered to %v: %s",
		[key, resource, asked, extra_from_text(key, resource), got, extra_lowered_because(resource, got)],
	)
}

set_somewhere(key) if {
	key in limit_keys
} else if {
	is_number(pod[key])
	not sources[key] == "limit"
}

extra_from_text(key, resource) := "" if {
	sources[key][resource] == "request"
} else := sprintf(" (%s)", [source_names[sources[key][resource]]]) if {
	source_names[sources[key][resource]]
} else := ""

lowered_because(key, got) := sprintf("the most for %s", [concat(", ", providing_entries(key, got))]) if {
	got == charged_maximum[key]
} else := quota_clamp_text(key) if {
	got == quota_left(key)
} else := sprintf("a guarantee cannot exceed %s", [limit_of[key]])

extra_lowered_because(resource, got) := sprintf("the most for %s", [concat(", ", extra_providers(resource, got))]) if {
	got == charged_extra_maximum[resource]
} else := extra_clamp_text(resource)

extra_providers(resource, value) := sort({name |
	some name, entry in allowances
	bounds_the_server(name)
	entry.extra_resources[resource] == value
})

# The allowances whose maximum for key is value, to name them to the user.
providing_entries(key, value) := sort({name |
	some name, entry in allowances
	bounds_the_server(name)
	quantities.as_number(key, entry.max[key]) == value
})

# How to get more, where the admin's data says so (an allowance's "help"):
# for a quota, the charged group's; otherwise the first of the user's
# allowances, by name, that has one. Undefined where none does.
refusal_help := help if {
	denial_reason == "quota"
	help := group_allowance(charge).help
} else := helps[0] if {
	helps := [entry.help | some name in sort(object.keys(allowances)); entry := allowances[name]; entry.help]
}
