# What the user is told: which values were lowered, from what, and why.
package jupyterhub.spawn

import data.jupyterhub.lib.quantities

# Where a value came from (its path in input.sources: ["image"],
# ["cpu_limit"], ["extra_resource_limits", name]), as the user is told;
# nothing for their own request.
from_text(path) := "" if {
	object.get(sources, path, null) == "request"
} else := sprintf(" (%s)", [source_names[object.get(sources, path, null)]]) if {
	source_names[object.get(sources, path, null)]
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
		[key, quantities.show(key, asked), from_text([key]), quantities.show(key, got), lowered_because([key], got)],
	)
}

messages contains msg if {
	some key in extra_keys
	some resource, got in overrides[key]
	not sources[key][resource] == "limit"
	asked := pod[key][resource]
	msg := sprintf(
		"%s %s %v%s lowered to %v: %s",
		[key, resource, asked, from_text([key, resource]), got, lowered_because(["extra_resources", resource], got)],
	)
}

set_somewhere(key) if {
	key in limit_keys
} else if {
	is_number(pod[key])
	not sources[key] == "limit"
}

# Why an amount (its path, resources.rego) was lowered to got: the most the
# charged allowances grant, what the quotas leave, or, for a guarantee, its limit.
lowered_because(path, got) := sprintf("the most for %s", [concat(", ", providing_entries(path, got))]) if {
	got == charged_maximum[path]
} else := quota_clamp_text(path) if {
	got == quota_left(path)
} else := sprintf("a guarantee cannot exceed %s", [limit_of[path[0]]])

# The allowances whose maximum for an amount is value, to name them to the user.
providing_entries(path, value) := sort({name |
	some name, entry in allowances
	bounds_the_server(name)
	allowance_amount(entry, path) == value
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
