# METADATA
# title: The admin's data, checked
# description: |
#   The admin's data checked where decisions read it. An allowance, a quota,
#   a lifetime, or a jhpolicy_quota or jhpolicy_lifetime group property that
#   is not well formed refuses the spawns it governs, naming where it is and
#   what is accepted: a typo never means "no limit" or "no quota". A
#   decision checks only what it reads (the allowances that apply, the
#   quotas of the user, the hub and the user's groups), so its cost does not
#   grow with the data; problems_everywhere checks all of data.jhpolicy at
#   once, for `jhpolicy lint`.
package jupyterhub.spawn.data_checks

import data.jupyterhub.lib.images
import data.jupyterhub.lib.quantities
import data.jupyterhub.lib.texts
import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.given

# METADATA
# title: misconfigured_message
# description: |
#   The one message of a misconfigured decision (spawn.rego): what else the
#   malformed data would make the policy say would only mislead.
misconfigured_message := sprintf(
	"the hub's spawn policy is misconfigured, ask your hub admin: %s",
	[texts.problems_text(governing_problems)],
) if {
	count(governing_problems) > 0
}

# METADATA
# title: governing_problems
# description: |
#   The problems of the data this spawn reads: the document's shape, the
#   allowances that apply, the quotas and lifetimes of the user and their
#   groups.
governing_problems := _shape_problems | _applying_data_problems

_applying_data_problems := (_applying_allowance_problems | _applying_quota_problems) | _applying_lifetime_problems

# METADATA
# title: problems_everywhere
# description: |
#   Every problem of data.jhpolicy, wherever it is (jhpolicy lint).
problems_everywhere := (_shape_problems | _all_data_problems) | _charge_order_problems

_all_data_problems := (_all_allowance_problems | _all_quota_problems) | _lifetime_rules_problems

# --- the document's shape ---

_top_keys := {"groups", "quotas", "requesters", "lifetimes"}

_entry_keys := {"images", "image_repositories", "max", "extra_resources", "profiles", "help", "lifetime"}

_quota_top_keys := {"users", "hub", "groups", "charge_order"}

_quota_amount_keys := given.quota_keys | {"extra_resources"}

_shape_problems contains "data.jhpolicy is not an object" if {
	value := data.jhpolicy
	not is_object(value)
}

_shape_problems contains texts.unknown_key_text("data.jhpolicy", key, _top_keys) if {
	some key in (object.keys(given.config) - _top_keys)
}

_shape_problems contains sprintf("data.jhpolicy.%s is not an object", [key]) if {
	some key in _top_keys
	value := given.config[key]
	not is_object(value)
}

_shape_problems contains texts.unknown_key_text("quotas", key, _quota_top_keys) if {
	some key in (object.keys(given.quota_config) - _quota_top_keys)
}

_shape_problems contains "quotas.groups is not an object" if {
	value := given.quota_config.groups
	not is_object(value)
}

_shape_problems contains "requesters.services is not an object" if {
	value := given.config.requesters.services
	not is_object(value)
}

_charge_order_problems contains "quotas.charge_order is not a list of group names" if {
	value := given.quota_config.charge_order
	not given.is_string_list(value)
}

# --- allowances: images, maxima, extended resources, profiles ---

_applying_allowance_problems contains p if {
	some name, entry in allowances.entries
	some p in _entry_problems(name, entry, object.get(given.pod, "image", null))
}

# METADATA
# title: candidate_problems
# description: |
#   What a spawn page candidate's decision would find beyond the problems of
#   the view's own input, which has none (else there is no view,
#   allowance_view.rego): the image_repositories entry its image looks up.
candidate_problems(image) := {sprintf("%s: %s", [name, p]) |
	some name, entry in allowances.entries
	some p in _repositories_problems(object.get(entry, "image_repositories", {}), image)
}

_all_allowance_problems := ({p |
	some group, entry in given.object_or_empty(object.get(given.config, "groups", {}))
	some p in _entry_problems(sprintf("group %s", [group]), entry, true)
} | {p |
	entry := given.config.requesters.admins
	some p in _entry_problems("admins", entry, true)
}) | {p |
	some service, entry in given.object_or_empty(object.get(given.config, ["requesters", "services"], {}))
	some p in _entry_problems(sprintf("service %s", [service]), entry, true)
}

# everything: true, every image_repositories entry (lint); else an image,
# only the entry it looks up, so a decision's cost does not grow with the
# list (null: none).
_entry_problems(name, entry, everything) := set() if {
	_plainly_well_formed(entry)
} else := {sprintf("%s is not an object", [name])} if {
	not is_object(entry)
} else := {sprintf("%s: %s", [name, p]) | some p in _entry_field_problems(entry, everything)}

# An entry of the commonest keys, each well formed: no problem to name.
# Every decision checks every allowance that applies, and looking for
# problems field by field (_entry_field_problems), which names each one,
# costs a student's decision about 80 expressions, this about 35. Anything
# else, well formed or not, is checked field by field;
# tests/test_data_checks_fast.py draws entries of both kinds and checks
# that this says "well formed" only where that finds nothing.
_plainly_well_formed(entry) if {
	count(object.keys(entry) - {"images", "profiles", "max", "extra_resources", "help"}) == 0
	amounts := object.get(entry, "max", {})
	is_object(amounts)
	extras := object.get(entry, "extra_resources", {})
	is_object(extras)
	_plain_help(entry)
	every key in {"images", "profiles"} {
		given.is_string_list(object.get(entry, key, []))
	}
	every key, value in amounts {
		key in given.numeric_keys
		_well_formed("max", key, value)
	}
	every _, n in extras {
		quantities.whole_number(n)
	}
}

_plain_help(entry) if not "help" in object.keys(entry)

_plain_help(entry) if _well_formed_help(entry.help)

_entry_field_problems(entry, everything) := (listed | help) | lifetimes if {
	unknown := {texts.unknown_key_text("", key, _entry_keys) | some key in (object.keys(entry) - _entry_keys)}
	lists := {sprintf("%s is not a list of strings", [key]) |
		some key in {"images", "profiles"}
		value := entry[key]
		not given.is_string_list(value)
	}
	maxima := _amounts_problems("max", object.get(entry, "max", {}), "max")
	extras := _extra_amounts_problems("extra_resources", object.get(entry, "extra_resources", {}))
	repositories := _repositories_problems(object.get(entry, "image_repositories", {}), everything)
	listed := (((unknown | lists) | maxima) | extras) | repositories
	help := {help_text | "help" in object.keys(entry); not _well_formed_help(entry.help)}
	lifetimes := {p | "lifetime" in object.keys(entry); some p in _lifetime_problems("lifetime", entry.lifetime)}
}

# METADATA
# title: help_text
# description: |
#   What a malformed allowance `help` is told.
help_text := concat(" ", [
	`help is not an object like {"text": "Ask for GPU access", "url": "https://..."}`,
	"(text: 1 to 300 characters; url, optional: http:// or https://, at most 500 characters",
	"of printable ASCII without spaces, quotes or angle brackets)",
])

# What a refusal tells the user to do to get more (refusal_help in spawn.rego). Not an
# object: help.text is undefined, so it is not well formed.
_well_formed_help(help) if {
	is_string(help.text)
	count(help.text) > 0
	count(help.text) <= 300
	_well_formed_help_url(help)
	every key, _ in help {
		key in {"text", "url"}
	}
}

_well_formed_help_url(help) if not "url" in object.keys(help)

# A bounded repetition (\S{1,492}) would cost every decision most of a
# millisecond in OPA's regex engine: the length is counted instead.
_well_formed_help_url(help) if {
	count(help.url) <= 500
	regex.match(`^https?://[!#-&(-;=?-~]+$`, help.url)
}

_repositories_problems(value, everything) := {_repositories_shape_text} if {
	not is_object(value)
} else := {sprintf("image_repositories.%s is not a list of tag globs", [repository]) |
	some repository in _checked_repositories(value, everything)
	globs := value[repository]
	not given.is_string_list(globs)
}

_repositories_shape_text := "image_repositories is not an object of repository to a list of tag globs"

_checked_repositories(value, true) := object.keys(value)

# An entry without image_repositories ({}) looks nothing up: the image is
# not parsed.
_checked_repositories(value, image) := {repository |
	[repository, _] := images.repository_and_tag(image)
} if {
	value != {}
	is_string(image)
}

# --- quotas: the user's, the hub's, the user's groups' (data or property) ---

_applying_quota_problems := (_charge_order_problems | {p |
	some scope in {"users", "hub"}
	value := given.quota_config[scope]
	some p in _amounts_problems(sprintf("quotas.%s", [scope]), value, "quota")
}) | {p |
	some group in allowances.charge_groups
	some p in _group_quota_problems(group)
}

_all_quota_problems := {p |
	some scope in {"users", "hub"}
	value := given.quota_config[scope]
	some p in _amounts_problems(sprintf("quotas.%s", [scope]), value, "quota")
} | {p |
	some group, quota in given.object_or_empty(object.get(given.quota_config, "groups", {}))
	some p in _group_quota_shape_problems(_quota_path("data", group), quota)
}

# The quota the decision reads (given.group_quota), named where it is set.
_group_quota_problems(group) := _group_quota_shape_problems(_quota_path(where, group), quota) if {
	[where, quota] := given.group_quota(group)
}

_quota_path("property", group) := sprintf("group %s property jhpolicy_quota", [group])

_quota_path("data", group) := sprintf("quotas.groups.%s", [group])

_group_quota_shape_problems(path, quota) := {sprintf(
	`%s is not an object like {"member": {"servers": 1}, "group": {"cpu_limit": 8}}`,
	[path],
)} if {
	not is_object(quota)
} else := {texts.unknown_key_text(path, key, {"member", "group"}) |
	some key in (object.keys(quota) - {"member", "group"})
} | {p |
	some scope in {"member", "group"}
	value := quota[scope]
	some p in _amounts_problems(sprintf("%s.%s", [path, scope]), value, "quota")
}

# --- amounts: maxima above 0, quotas 0 or more ---

# kind: "max" (above 0) or "quota" (0 or more, and servers too).
_amounts_problems(path, amounts, kind) := {sprintf("%s is not an object", [path])} if {
	not is_object(amounts)
} else := ({texts.unknown_key_text(path, key, _amount_keys[kind]) |
	# A set difference and a filter: every key's test is one expression.
	some key in (object.keys(amounts) - _amount_keys[kind])
} | {sprintf("%s.%s %s is not %s", [path, key, json.marshal(value), _accepted[kind][_amount_kind(key)]]) |
	some key, value in object.filter(amounts, _value_keys[kind])
	not _well_formed(kind, key, value)
}) | _extra_amounts_problems(sprintf("%s.extra_resources", [path]), object.get(amounts, "extra_resources", {}))

_amount_keys := {"max": given.numeric_keys, "quota": _quota_amount_keys}

# The keys of single values: a quota's extended resources are an object of
# their own (_extra_amounts_problems); an allowance has them in an entry key
# of their own, not in max.
_value_keys := {"max": given.numeric_keys, "quota": given.quota_keys}

_well_formed("max", key, value) if quantities.as_number(key, value) > 0

_well_formed("quota", "servers", value) if quantities.whole_number(value)

_well_formed("quota", key, value) if {
	key != "servers"
	quantities.as_number(key, value) >= 0
}

_extra_amounts_problems(path, amounts) := {sprintf("%s is not an object of resource name to amount", [path])} if {
	not is_object(amounts)
} else := {sprintf("%s.%s %s is not %s", [path, resource, json.marshal(n), _accepted.quota.extra]) |
	some resource, n in amounts
	not quantities.whole_number(n)
}

_amount_kind(key) := "cpu" if startswith(key, "cpu_")

else := "mem" if startswith(key, "mem_")

else := key

_accepted := {
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

# --- lifetimes: an allowance's, a group property's, the data's rules ---

_duration_text := `a whole number of seconds above 0 or a string like "90m", "2h" or "1d"`

_lifetime_problems(path, setting) := {sprintf(`%s is not an object like {"idle": "2h", "max_age": "8h"}`, [path])} if {
	not is_object(setting)
} else := {texts.unknown_key_text(path, key, given.lifetime_kinds) |
	some key in (object.keys(setting) - given.lifetime_kinds)
} | {sprintf("%s.%s %s is not %s", [path, kind, json.marshal(value), _duration_text]) |
	some kind in given.lifetime_kinds
	value := setting[kind]
	not quantities.duration_seconds(value)
}

# The properties a decision reads (entries are checked with their allowance).
_applying_lifetime_problems := _lifetime_rules_problems | {p |
	some group in input.user.groups
	some p in _lifetime_problems(
		sprintf("group %s property jhpolicy_lifetime", [group]),
		input.groups[group].properties.jhpolicy_lifetime,
	)
}

_lifetime_rules_problems := ({texts.unknown_key_text("lifetimes", key, {"extra_resources"}) |
	some key in (object.keys(given.lifetime_config) - {"extra_resources"})
} | {"lifetimes.extra_resources is not an object of resource name to lifetime" |
	value := given.lifetime_config.extra_resources
	not is_object(value)
}) | {p |
	some resource, setting in given.lifetime_rules
	some p in _lifetime_problems(sprintf("lifetimes.extra_resources.%s", [resource]), setting)
}
