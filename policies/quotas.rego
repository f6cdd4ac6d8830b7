# METADATA
# title: Quotas and charging
# description: |
#   Quotas on what the hub's active servers hold at once. input.usage (kept
#   by jhpolicy's ledger) has what is in use per user, per user and group,
#   per group and for the hub. data.jhpolicy.quotas sets the quotas; a
#   group's JupyterHub properties (jhpolicy_quota) override its data entry,
#   so admins can change it without a redeploy. Each server is charged to
#   one group, chosen here (charge), so a pool is never counted twice, and
#   only to a group that grants what it holds, so no pool is escaped through
#   another.
package jupyterhub.spawn.quotas

import data.jupyterhub.lib.quantities
import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.given
import data.jupyterhub.spawn.resources

# A group's quota, {"member": {...}, "group": {...}} (given.group_quota).
_group_quota(group) := given.group_quota(group)[1]

# METADATA
# title: charge
# description: |
#   Charging: a server is charged only to a group whose allowance grants all
#   it holds (grants), so a full group's servers cannot spill over into a
#   group that does not grant them. Groups with a quota first, then the
#   other configured groups, each in the admin's charge_order and then by
#   name; the first whose quotas the server fits in, else the first (and its
#   quota refuses it). None grants it (only a requester's allowance does):
#   no group, and the user and hub quotas still hold.
# scope: document
default charge := null

charge := group if {
	group := _fitting[0]
} else := group if {
	group := _chargeable[0]
}

_fitting := [group | some group in _chargeable; count(_refusals_in(group)) == 0]

# Pools that grant the server as asked first. Where a group quota could
# govern the server (_group_quotas_apply), then those that grant some of
# each extended resource it holds: what it asks beyond their allowance is
# lowered to it, as for any value above a maximum.
_chargeable := array.concat(
	[group | some group in pools; group in _granting],
	[group | some group in pools; _group_quotas_apply; not group in _granting; _grants_some(group)],
)

# One of the user's groups has a quota. Without one, which pool a server is
# charged to changes no group quota's count: every allowance bounds it (the
# most generous maximum for each key), and it is charged to a pool that
# grants it as asked, or to none. (A user in the default pool alone has
# only the default entry's allowance: bounded the same either way.)
_group_quotas_apply if some _ in _quota_groups

# Some quota could hold this server: a pool's (the default pool's too),
# the user's or the hub's. Without one, no quota refuses, lowers or is
# charged, and the work of each is skipped (_refusals_in, quota_left,
# _charged_group_quota): most users of most hubs have none.
_some_quota_applies if _group_quota(pools[_])

_some_quota_applies if some _ in _user_and_hub_scopes

# METADATA
# title: pools
# description: |
#   The groups a server of this user may be charged to, in order: the
#   user's groups with a quota or a data entry of their own (a group may be
#   in both lists: the first place decides); a user in none of them is
#   charged to the "default" pool, where the default entry is their
#   allowance. A group's own quota is never escaped into "default". Of the
#   user alone, not of the server (the allowance view's candidates share
#   it).
pools := array.concat(_ordered(_quota_groups), _ordered(_configured_groups)) if {
	count(_quota_groups | _configured_groups) > 0
} else := ["default"] if {
	not allowances.in_configured_group
}

_quota_groups contains group if {
	some group in input.user.groups
	_group_quota(group)
}

_configured_groups contains group if {
	some group in input.user.groups
	given.config.groups[group]
}

# METADATA
# title: group_allowance
# description: |
#   A group's allowance: its data entry; a group with none grants what the
#   default entry grants, where that entry is the user's allowance.
group_allowance(group) := allowance if {
	allowance := given.config.groups[group]
} else := given.config.groups["default"] if {
	not allowances.in_configured_group
}

# What a group grants: the values the user chose, judged before any quota
# lowers them (so a value lowered to fit a quota is still charged where it
# was granted), and every extended resource the pod holds. Every value is
# then bounded by the charged group's allowance (charged_maximum), so no mix
# of groups' maxima is ever held under none of them.
_granting contains group if {
	some group in pools
	allowance := group_allowance(group)
	every path in _charged_paths {
		# Regal v0.38.1 does not resolve a rule whose head's key is a pattern,
		# as uncapped_amount[[key]] is.
		# regal ignore:unresolved-reference
		resources.uncapped_amount[path] <= resources.allowance_amount(allowance, path)
	}
}

# What a pool must grant: the CPU and memory values the user chose (one
# the admin set is granted wherever it is) and every extended resource the
# pod holds.
_charged_paths := {[key] | some key in given.chosen_keys} | {["extra_resources", name] | some name in given.extra_names}

_grants_some(group) if {
	allowance := group_allowance(group)
	every resource in given.extra_names {
		resources.allowance_amount(allowance, ["extra_resources", resource]) >= 1
	}
}

# METADATA
# title: bounding
# description: |
#   The names of the allowances (allowances.entries) that bound a server:
#   the charged group's (the default entry for a pool without an entry of
#   its own) and the requester's; all of the user's when it is charged to
#   no group or no group quota applies. (A set worked out once: each amount
#   asks it of every allowance.)
bounding := object.keys(allowances.entries) if {
	_bounded_by_all
} else := {name | some name, _ in allowances.entries; _bounds_the_charged_server(name)}

_bounded_by_all if is_null(charge)

_bounded_by_all if not _group_quotas_apply

_bounds_the_charged_server(name) if not startswith(name, "group ")

_bounds_the_charged_server(name) if name == sprintf("group %s", [charge])

# Present only for a user in no configured group, whose pools' allowance it is.
_bounds_the_charged_server("group default")

_ordered(groups) := array.concat(
	[group | some group in given.charge_order; group in groups],
	sort([group | some group in groups; not group in given.charge_order]),
)

# METADATA
# title: scopes
# description: |
#   What a server charged to group would be held against: each a quota,
#   what is in use under it, and paths, every amount the quota sets (a
#   quota that sets none is no scope). group is null for a server charged
#   to no group.
scopes(group) := _user_and_hub_scopes | group_scopes(group)

# Only where the data sets a users or hub quota: most hubs set neither,
# and every decision (and every candidate of a view charged to no pool)
# asks for these.
_user_and_hub_scopes := _setting_some({_scope(kind, "", quota, object.get(given.usage, kind, {})) |
	some kind, key in {"user": "users", "hub": "hub"}
	quota := given.quota_config[key]
})

# A scope whose quota sets no amount refuses nothing, bounds nothing and
# shows no row: left out, so no spawn iterates it.
_setting_some(scopes) := {scope | some scope in scopes; count(scope.paths) > 0}

# A scope: its kind and group, its quota and usage ({} where not an
# object), and paths, every amount its quota sets (resources.rego; its
# extra_resources key is one too, for which left and quota_amount are
# undefined).
_scope(kind, group, quota_value, used_value) := {
	"kind": kind, "group": group, "quota": quota, "used": given.object_or_empty(used_value),
	"paths": ({[key] | some key, _ in quota} | {["extra_resources", name] |
		some name, _ in object.get(quota, "extra_resources", {})
	}),
} if {
	quota := given.object_or_empty(quota_value)
}

# METADATA
# title: pool_scopes
# description: |
#   Each pool's scopes (scopes), of the user alone: worked out once, and
#   shared by the allowance view's candidates.
pool_scopes[group] := scopes(group) if some group in pools

# A pool's scopes as pool_scopes has them (null, no pool: the user's and
# the hub's).
_scopes_of(group) := found if {
	found := pool_scopes[group]
} else := scopes(group)

# METADATA
# title: group_scopes
# description: |
#   The scopes of a group's quota (its members' and its own, each where it
#   sets some amount); empty for a group with none.
group_scopes(group) := _setting_some({
	_scope("member", group, object.get(quota, "member", {}), object.get(given.usage, ["user_by_group", group], {})),
	_scope("group", group, object.get(quota, "group", {}), object.get(given.usage, ["groups", group], {})),
}) if {
	quota := _group_quota(group)
} else := set()

# METADATA
# title: left
# description: |
#   What is left of an amount (its path, resources.rego) under a
#   scope's quota; undefined where it sets none.
left(scope, path) := quota_amount(scope, path) - in_use_amount(scope, path)

# METADATA
# title: quota_amount
# description: |
#   A scope's quota for an amount (its path): CPU and memory as numbers or
#   strings, servers and extended resources as numbers. Undefined where it
#   sets none. (Read by key, not with object.get: most scopes set few
#   amounts, and a missing one ends the call before as_number runs.)
# scope: document
quota_amount(scope, [key]) := quantities.as_number(key, scope.quota[key])

quota_amount(scope, ["extra_resources", name]) := quantities.as_number(
	"extra_resources",
	scope.quota.extra_resources[name],
)

# METADATA
# title: in_use_amount
# description: |
#   What a scope has in use at `path` in its usage (["cpu_limit"],
#   ["extra_resources", name]); 0 when not a number.
in_use_amount(scope, path) := amount if {
	amount := object.get(scope.used, path, 0)
	is_number(amount)
} else := 0

# Refusals when the server would not fit, whatever its amounts: no server
# left, or none of a CPU or memory amount it always holds, or no whole unit
# of an extended resource it asks for. Undefined where no quota applies, so
# that no group's scopes are worked out: then no group fits (_fitting is
# empty, and charge is the first chargeable) and nothing is refused.
_refusals_in(group) := _quota_refusals_in(group) if _some_quota_applies

_quota_refusals_in(group) := {_full_text(scope, path) |
	some scope in _scopes_of(group)
	some path in scope.paths
	_held(path)
	left(scope, path) < _smallest[path[0]]
}

# What every server holds (servers, CPU, memory) and the extended resources
# this one asks for. (From the quota's side, scope.paths: most scopes set
# few amounts, or none.)
_held([_])

_held(["extra_resources", name]) if name in given.extra_names

_smallest := {
	"servers": 1, "cpu_limit": 1e-3, "cpu_guarantee": 1e-3, "mem_limit": 1, "mem_guarantee": 1,
	"extra_resources": 1,
}

# METADATA
# title: denials
# description: |
#   Refusals of this spawn by this concern.
denials contains msg if {
	some msg in _refusals_in(charge)
}

# METADATA
# title: quota_left
# description: |
#   The most an amount (its path) may be under the charged group's, the
#   user's and the hub's quotas, in whole units for an extended resource.
#   Undefined where no quota sets the amount, or none applies: no bound.
quota_left(path) := whole(path, min({n | some scope in _charged_scopes; n := left(scope, path)})) if _some_quota_applies

# The charged group's scopes, the user's and the hub's: worked out once for
# every amount's quota_left.
_charged_scopes := _scopes_of(charge)

# METADATA
# title: whole
# description: |
#   An amount as it can be held: whole units of an extended resource.
# scope: document
whole(["extra_resources", _], n) := floor(n)

whole([_], n) := n

# METADATA
# title: charged_quota
# description: |
#   The charged group's own quota, for the hub's metrics.
charged_quota := object.union(
	{key: n | some key, value in _charged_group_quota; key in given.quota_keys; n := quantities.as_number(key, value)},
	{"extra_resources": extras |
		extras := {name: n | some name, n in _charged_group_quota.extra_resources; is_number(n)}
		count(extras) > 0
	},
)

default _charged_group_quota := {}

_charged_group_quota := _group_quota(charge).group if _some_quota_applies

# --- what the user is told; never other users or their servers ---

_full_text(scope, path) := sprintf("quota reached: %s; %s", [holds_text(scope, path), _free_hint[scope.kind]])

# METADATA
# title: holds_text
# description: |
#   What a scope holds of an amount (its path) against its quota, as the
#   user is told ("you hold 2 of the 3 servers each user may hold").
holds_text(scope, path) := sprintf(
	_holds_format[scope.kind],
	[
		scope.group,
		quantities.show(path[0], in_use_amount(scope, path)),
		quantities.show(path[0], quota_amount(scope, path)),
		_unit(path),
	],
)

_holds_format := {
	"user": "you hold %[2]s of the %[3]s %[4]s each user may hold",
	"member": "you hold %[2]s of the %[3]s %[4]s each member of %[1]s may hold",
	"group": "%[1]s holds %[2]s of %[3]s %[4]s",
	"hub": "the hub holds %[2]s of %[3]s %[4]s",
}

_free_hint := {
	"user": "stop one of your servers to free some",
	"member": "stop one of your servers to free some",
	"group": "try again when one of the group's servers stops",
	"hub": "try again when servers stop",
}

# What an amount is counted in: "CPU (limits)", or the resource's name.
_unit(path) := object.get(_unit_names, path[0], path[count(path) - 1])

_unit_names := {
	"servers": "servers",
	"cpu_limit": "CPU (limits)",
	"cpu_guarantee": "CPU (guarantees)",
	"mem_limit": "memory (limits)",
	"mem_guarantee": "memory (guarantees)",
}
