# The admin's data checked where decisions read it. An allowance, a quota or
# a jhpolicy_quota group property that is not well formed refuses the spawns
# it governs, naming where it is and what is accepted: a typo never means
# "no limit" or "no quota". A decision checks only what it reads (the
# allowances that apply, the quotas of the user, the hub and the user's
# groups), so its cost does not grow with the data; problems_everywhere
# checks all of data.jhpolicy at once, for `jhpolicy lint`.
package jupyterhub.spawn

import data.jupyterhub.lib.images
import data.jupyterhub.lib.quantities
import data.jupyterhub.lib.texts

# The one message of a misconfigured decision (spawn.rego): what else the
# malformed data would make the policy say would only mislead.
misconfigured_message := sprintf(
	"the hub's spawn policy is misconfigured, ask your hub admin: %s",
	[texts.problems_text(governing_problems)],
) if {
	count(governing_problems) > 0
}

governing_problems := shape_problems | applying_data_problems

applying_data_problems := (applying_allowance_problems | applying_quota_problems) | applying_lifetime_problems

# METADATA
# title: problems_everywhere
# description: Every problem of data.jhpolicy, wherever it is (jhpolicy lint).
# entrypoint: true
problems_everywhere := (shape_problems | all_data_problems) | charge_order_problems

all_data_problems := (all_allowance_problems | all_quota_problems) | lifetime_rules_problems

# --- the document's shape ---

top_keys := {"groups", "quotas", "requesters", "lifetimes"}

entry_keys := {"images", "image_repositories", "max", "extra_resources", "profiles", "help", "lifetime"}

quota_top_keys := {"users", "hub", "groups", "charge_order"}

quota_amount_keys := quota_keys | {"extra_resources"}

shape_problems contains "data.jhpolicy is not an object" if {
	value := data.jhpolicy
	not is_object(value)
}

shape_problems contains texts.unknown_key_text("data.jhpolicy", key, top_keys) if {
	some key, _ in config
	not key in top_keys
}

shape_problems contains sprintf("data.jhpolicy.%s is not an object", [key]) if {
	some key in top_keys
	value := config[key]
	not is_object(value)
}

shape_problems contains texts.unknown_key_text("quotas", key, quota_top_keys) if {
	some key, _ in quota_config
	not key in quota_top_keys
}

shape_problems contains "quotas.groups is not an object" if {
	value := quota_config.groups
	not is_object(value)
}

shape_problems contains "requesters.services is not an object" if {
	value := config.requesters.services
	not is_object(value)
}

charge_order_problems contains "quotas.charge_order is not a list of group names" if {
	value := quota_config.charge_order
	not is_string_list(value)
}

# --- allowances: images, maxima, extended resources, profiles ---

applying_allowance_problems contains p if {
	some name, entry in allowances
	some p in entry_problems(name, entry, object.get(pod, "image", null))
}

# What a spawn page candidate's decision would find beyond the problems of
# the view's own input, which has none (else there is no view,
# allowance_view.rego): the image_repositories entry its image looks up.
candidate_problems(image) := {sprintf("%s: %s", [name, p]) |
	some name, entry in allowances
	some p in repositories_problems(object.get(entry, "image_repositories", {}), image)
}

all_allowance_problems := ({p |
	some group, entry in object_or_empty(object.get(config, "groups", {}))
	some p in entry_problems(sprintf("group %s", [group]), entry, true)
} | {p |
	entry := config.requesters.admins
	some p in entry_problems("admins", entry, true)
}) | {p |
	some service, entry in object_or_empty(object.get(config, ["requesters", "services"], {}))
	some p in entry_problems(sprintf("service %s", [service]), entry, true)
}

# everything: true, every image_repositories entry (lint); else an image,
# only the entry it looks up, so a decision's cost does not grow with the
# list (null: none).
entry_problems(name, entry, everything) := {sprintf("%s is not an object", [name])} if {
	not is_object(entry)
} else := {sprintf("%s: %s", [name, p]) | some p in entry_field_problems(entry, everything)}

entry_field_problems(entry, everything) := (listed | help) | lifetimes if {
	unknown := {texts.unknown_key_text("", key, entry_keys) | some key, _ in entry; not key in entry_keys}
	lists := {sprintf("%s is not a list of strings", [key]) |
		some key in {"images", "profiles"}
		value := entry[key]
		not is_string_list(value)
	}
	maxima := amounts_problems("max", object.get(entry, "max", {}), "max")
	extras := extra_amounts_problems("extra_resources", object.get(entry, "extra_resources", {}))
	repositories := repositories_problems(object.get(entry, "image_repositories", {}), everything)
	listed := (((unknown | lists) | maxima) | extras) | repositories
	help := {help_text | "help" in object.keys(entry); not well_formed_help(entry.help)}
	lifetimes := {p | "lifetime" in object.keys(entry); some p in lifetime_problems("lifetime", entry.lifetime)}
}

help_text := concat(" ", [
	`help is not an object like {"text": "Ask for GPU access", "url": "https://..."}`,
	"(text: 1 to 300 characters; url, optional: http:// or https://, at most 500 characters",
	"of printable ASCII without spaces, quotes or angle brackets)",
])

# What a refusal tells the user to do to get more (messages.rego). Not an
# object: help.text is undefined, so it is not well formed.
well_formed_help(help) if {
	is_string(help.text)
	count(help.text) > 0
	count(help.text) <= 300
	well_formed_help_url(help)
	every key, _ in help {
		key in {"text", "url"}
	}
}

well_formed_help_url(help) if not "url" in object.keys(help)

# A bounded repetition (\S{1,492}) would cost every decision most of a
# millisecond in OPA's regex engine: the length is counted instead.
well_formed_help_url(help) if {
	count(help.url) <= 500
	regex.match(`^https?://[!#-&(-;=?-~]+$`, help.url)
}

repositories_problems(value, everything) := {repositories_shape_text} if {
	not is_object(value)
} else := {sprintf("image_repositories.%s is not a list of tag globs", [repository]) |
	some repository in checked_repositories(value, everything)
	globs := value[repository]
	not is_string_list(globs)
}

repositories_shape_text := "image_repositories is not an object of repository to a list of tag globs"

checked_repositories(value, true) := object.keys(value)

checked_repositories(_, image) := {repository | [repository, _] := images.repository_and_tag(image)} if is_string(image)

# --- quotas: the user's, the hub's, the user's groups' (data or property) ---

applying_quota_problems := (charge_order_problems | {p |
	some scope in {"users", "hub"}
	value := quota_config[scope]
	some p in amounts_problems(sprintf("quotas.%s", [scope]), value, "quota")
}) | {p |
	some group in charge_groups
	some p in group_quota_problems(group)
}

all_quota_problems := {p |
	some scope in {"users", "hub"}
	value := quota_config[scope]
	some p in amounts_problems(sprintf("quotas.%s", [scope]), value, "quota")
} | {p |
	some group, quota in object_or_empty(object.get(quota_config, "groups", {}))
	some p in group_quota_shape_problems(sprintf("quotas.groups.%s", [group]), quota)
}

# A property, whatever its value (null included), is the quota: a malformed
# one never falls back to the data.
group_quota_problems(group) := group_quota_shape_problems(property_path(group), quota) if {
	quota := input.groups[group].properties.jhpolicy_quota
} else := group_quota_shape_problems(sprintf("quotas.groups.%s", [group]), quota_config.groups[group])

property_path(group) := sprintf("group %s property jhpolicy_quota", [group])

group_quota_shape_problems(path, quota) := {sprintf(
	`%s is not an object like {"member": {"servers": 1}, "group": {"cpu_limit": 8}}`,
	[path],
)} if {
	not is_object(quota)
} else := {texts.unknown_key_text(path, key, {"member", "group"}) |
	some key, _ in quota
	not key in {"member", "group"}
} | {p |
	some scope in {"member", "group"}
	value := quota[scope]
	some p in amounts_problems(sprintf("%s.%s", [path, scope]), value, "quota")
}

# --- amounts: maxima above 0, quotas 0 or more ---

# kind: "max" (above 0) or "quota" (0 or more, and servers too).
amounts_problems(path, amounts, kind) := {sprintf("%s is not an object", [path])} if {
	not is_object(amounts)
} else := {p |
	some key, value in amounts
	not extras_in(kind, key)
	p := amount_problem(path, key, value, kind)
} | extra_amounts_problems(sprintf("%s.extra_resources", [path]), object.get(amounts, "extra_resources", {}))

# A quota holds extended resources beside its amounts; an allowance has them
# in an entry key of their own, not in max.
extras_in("quota", "extra_resources")

amount_problem(path, key, value, kind) := texts.unknown_key_text(path, key, amount_keys[kind]) if {
	not key in amount_keys[kind]
} else := sprintf("%s.%s %s is not %s", [path, key, json.marshal(value), accepted[kind][amount_kind(key)]]) if {
	not well_formed(kind, key, value)
}

amount_keys := {"max": numeric_keys, "quota": quota_amount_keys}

well_formed("max", key, value) if quantities.as_number(key, value) > 0

well_formed("quota", "servers", value) if quantities.whole_number(value)

well_formed("quota", key, value) if {
	key != "servers"
	quantities.as_number(key, value) >= 0
}

extra_amounts_problems(path, amounts) := {sprintf("%s is not an object of resource name to amount", [path])} if {
	not is_object(amounts)
} else := {sprintf("%s.%s %s is not %s", [path, resource, json.marshal(n), accepted.quota.extra]) |
	some resource, n in amounts
	not quantities.whole_number(n)
}

amount_kind(key) := "cpu" if startswith(key, "cpu_")

else := "mem" if startswith(key, "mem_")

else := key

accepted := {
	"max": {
		"cpu": `a number of CPU cores above 0 (e.g. 2 or 0.5) or a string like "500m"`,
		"mem": `a number of bytes above 0 or a string like "512M" or "2G"`,
	},
	"quota": {
		"cpu": `a number of CPU cores (e.g. 8 or 0.5) or a string like "500m"`,
		"mem": `a number of bytes or a string like "512M" or "64G"`,
		"servers": "a whole number of servers (0 or more)",
		"extra": "a whole number (0 or more)",
	},
}

is_string_list(value) if {
	is_array(value)
	every item in value {
		is_string(item)
	}
}
