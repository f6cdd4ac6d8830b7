# Who gets which allowance: allowances maps a readable source ("group
# students") to its data entry. A user's allowance is the most generous
# over all entries that apply.
package jupyterhub.spawn

allowances[name] := entry if {
	some group in input.user.groups
	entry := config.groups[group]
	name := sprintf("group %s", [group])
}

allowances[name] := entry if {
	input.requester.kind == "service"
	entry := config.requesters.services[input.requester.name]
	name := sprintf("service %s", [input.requester.name])
}

allowances["group default"] := config.groups["default"] if {
	not in_configured_group
}

allowances["admins"] := config.requesters.admins if {
	input.requester.admin == true
}

in_configured_group if {
	some group in input.user.groups
	config.groups[group]
}

default sources_text := "you"

sources_text := concat(", ", sort(object.keys(allowances))) if {
	count(allowances) > 0
}

# The groups whose quotas a spawn may be held against: the user's groups
# and, for a user in no configured group, "default".
charge_groups := {group | some group in input.user.groups} | {"default" | not in_configured_group}
