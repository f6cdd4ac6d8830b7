# Quotas on what the hub's active servers hold at once. input.usage (kept by
# jhpolicy's ledger) has what is in use per user, per user and group, per
# group and for the hub. data.jhpolicy.quotas sets the quotas; a group's
# JupyterHub properties (jhpolicy_quota) override its data entry, so admins
# can change it without a redeploy. Each server is charged to one group,
# chosen here (charge), so a pool is never counted twice.
package jupyterhub.spawn

quota_config := object_or_empty(object.get(config, "quotas", {}))

usage := object_or_empty(object.get(input, "usage", {}))

quota_keys := {"servers", "cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee"}

# A group's quota, {"member": {...}, "group": {...}}: its properties' when set.
group_quota(group) := quota if {
	quota := input.groups[group].properties.jhpolicy_quota
	is_object(quota)
} else := quota if {
	quota := quota_config.groups[group]
	is_object(quota)
}

# Charging: the user's groups with a quota first, then their other configured
# groups, each in the admin's charge_order and then by name; the first whose
# quotas the server fits in, else the first (and its quota refuses it).
default charge := null

charge := group if {
	group := fitting[0]
} else := group if {
	group := chargeable[0]
}

fitting := [group | some group in chargeable; count(refusals_in(group)) == 0]

# A group may be in both lists: the first place decides.
chargeable := array.concat(ordered(quota_groups), ordered(configured_groups))

quota_groups contains group if {
	some group in input.user.groups
	group_quota(group)
}

configured_groups contains group if {
	some group in input.user.groups
	config.groups[group]
}

ordered(groups) := array.concat(
	[group | some group in charge_order; group in groups],
	sort([group | some group in groups; not group in charge_order]),
)

default charge_order := []

charge_order := quota_config.charge_order if is_array(quota_config.charge_order)

# What a server charged to group would be held against: each a quota and
# what is in use under it. group is null for a server charged to no group.
scopes(group) := {
	{"kind": "user", "group": "", "quota": object_or_empty(object.get(quota_config, "users", {})), "used": object_or_empty(object.get(usage, "user", {}))},
	{"kind": "hub", "group": "", "quota": object_or_empty(object.get(quota_config, "hub", {})), "used": object_or_empty(object.get(usage, "hub", {}))},
} | group_scopes(group)

group_scopes(group) := {
	{"kind": "member", "group": group, "quota": object_or_empty(object.get(quota, "member", {})), "used": object_or_empty(object.get(usage, ["user_by_group", group], {}))},
	{"kind": "group", "group": group, "quota": object_or_empty(object.get(quota, "group", {})), "used": object_or_empty(object.get(usage, ["groups", group], {}))},
} if {
	quota := group_quota(group)
} else := set()

# What is left under a scope's quota; undefined where it sets none.
left(scope, key) := as_number(key, scope.quota[key]) - in_use_amount(scope, [key])

extra_left(scope, resource) := as_number("extra", scope.quota.extra_resources[resource]) - in_use_amount(scope, ["extra_resources", resource])

in_use_amount(scope, path) := amount if {
	amount := object.get(scope.used, path, 0)
	is_number(amount)
} else := 0

# Refusals when the server would not fit, whatever its amounts: no server
# left, or none of a CPU or memory amount it always holds, or no whole unit
# of an extended resource it asks for.
refusals_in(group) := {full_text(scope, key) |
	some scope in scopes(group)
	some key in quota_keys
	left(scope, key) < smallest[key]
} | {full_text(scope, resource) |
	some scope in scopes(group)
	some resource in extra_names
	extra_left(scope, resource) < 1
}

smallest := {"servers": 1, "cpu_limit": 1e-3, "cpu_guarantee": 1e-3, "mem_limit": 1, "mem_guarantee": 1}

denials contains msg if {
	some msg in refusals_in(charge)
}

# The most a value may be under the charged group's, the user's and the hub's quotas.
# (min of no quota at all is undefined: no bound.)
quota_left(key) := min({n | some scope in scopes(charge); n := left(scope, key)})

extra_quota_left(resource) := floor(min({n | some scope in scopes(charge); n := extra_left(scope, resource)}))

# The charged group's own quota, for the hub's metrics.
charged_quota := object.union(
	{key: n | some key, value in charged_group_quota; key in quota_keys; n := as_number(key, value)},
	{"extra_resources": extras |
		extras := {name: n | some name, n in charged_group_quota.extra_resources; is_number(n)}
		count(extras) > 0
	},
)

default charged_group_quota := {}

charged_group_quota := group_quota(charge).group

# --- what the user is told; never other users or their servers ---

full_text(scope, key) := sprintf("quota reached: %s; %s", [holds_text(scope, key), free_hint[scope.kind]])

# The binding quota for a lowered value: "the quota of gpu-users (6 of 8 CPU (limits) in use)".
quota_clamp_text(key) := sprintf("what the quota leaves (%s)", [texts[0]]) if {
	texts := sort({holds_text(scope, key) |
		some scope in scopes(charge)
		left(scope, key) == quota_left(key)
	})
}

extra_clamp_text(resource) := sprintf("what the quota leaves (%s)", [texts[0]]) if {
	texts := sort({holds_text(scope, resource) |
		some scope in scopes(charge)
		floor(extra_left(scope, resource)) == extra_quota_left(resource)
	})
}

holds_text(scope, key) := sprintf(holds_format[scope.kind], [scope.group, in_use(scope, key), quota_of(scope, key), unit(key)])

holds_format := {
	"user": "you hold %[2]s of the %[3]s %[4]s each user may hold",
	"member": "you hold %[2]s of the %[3]s %[4]s each member of %[1]s may hold",
	"group": "%[1]s holds %[2]s of %[3]s %[4]s",
	"hub": "the hub holds %[2]s of %[3]s %[4]s",
}

free_hint := {
	"user": "stop one of your servers to free some",
	"member": "stop one of your servers to free some",
	"group": "try again when one of the group's servers stops",
	"hub": "try again when servers stop",
}

in_use(scope, key) := show(key, in_use_amount(scope, [key])) if {
	key in quota_keys
} else := show(key, in_use_amount(scope, ["extra_resources", key]))

quota_of(scope, key) := amount if {
	amount := show(key, as_number(key, scope.quota[key]))
} else := show(key, as_number("extra", scope.quota.extra_resources[key]))

unit(key) := object.get(unit_names, key, key)

unit_names := {
	"servers": "servers",
	"cpu_limit": "CPU (limits)",
	"cpu_guarantee": "CPU (guarantees)",
	"mem_limit": "memory (limits)",
	"mem_guarantee": "memory (guarantees)",
}

object_or_empty(value) := value if {
	is_object(value)
} else := {}
