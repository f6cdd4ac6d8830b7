# METADATA
# title: The allowances that apply
# description: |
#   Who gets which allowance: entries maps a readable source ("group
#   students") to its data entry. A user's allowance is the most generous
#   over all entries that apply.
package jupyterhub.spawn.allowances

import data.jupyterhub.spawn.given

# METADATA
# title: entries
# description: |
#   The allowance entries that apply to this spawn, by a readable source
#   name ("group students", "admins", "service ci"): the user's groups' (or
#   the default entry), the requesting admin's or service's.
# scope: document
entries[name] := entry if {
	some group in input.user.groups
	entry := given.config.groups[group]
	name := sprintf("group %s", [group])
}

entries[name] := entry if {
	input.requester.kind == "service"
	entry := given.config.requesters.services[input.requester.name]
	name := sprintf("service %s", [input.requester.name])
}

# METADATA
# title: entries
# description: |
#   The default entry, for a user in none of the groups the data lists.
entries["group default"] := given.config.groups["default"] if {
	not in_configured_group
}

# METADATA
# title: entries
# description: |
#   The admins' entry, when an admin makes the request.
entries["admins"] := given.config.requesters.admins if {
	input.requester.admin == true
}

# METADATA
# title: in_configured_group
# description: |
#   The user is in a group data.jhpolicy.groups lists.
in_configured_group if {
	some group in input.user.groups
	given.config.groups[group]
}

# METADATA
# title: sources_text
# description: |
#   The sources of the allowances that apply, as a refusal names them ("you"
#   when none applies).
# scope: document
default sources_text := "you"

sources_text := concat(", ", sort(object.keys(entries))) if {
	count(entries) > 0
}

# METADATA
# title: charge_groups
# description: |
#   The groups whose quotas a spawn may be held against: the user's groups
#   and, for a user in no configured group, "default".
charge_groups := {group | some group in input.user.groups} | {"default" | not in_configured_group}
